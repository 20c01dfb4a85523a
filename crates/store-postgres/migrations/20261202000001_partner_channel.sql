-- The partner channel: agencies' API keys (only their SHA-256 is kept) and the inquiries they
-- send ahead, each with the cross-check made when it arrived (a JSON document).

CREATE TABLE partner_keys (
    id          uuid PRIMARY KEY,
    agency_id   uuid NOT NULL REFERENCES agencies (id),
    key_hash    text NOT NULL UNIQUE,
    prefix      text NOT NULL,
    label       text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX partner_keys_agency ON partner_keys (agency_id, id);

CREATE TABLE partner_inquiries (
    id              uuid PRIMARY KEY,
    reference       text NOT NULL UNIQUE,
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    officer_id      uuid NOT NULL REFERENCES officers (id),
    phone           text NOT NULL,
    status          text NOT NULL,
    document        jsonb NOT NULL,
    disposition_id  uuid REFERENCES dispositions (id),
    version         bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- A call pops with the newest inquiry from its number.
CREATE INDEX partner_inquiries_phone ON partner_inquiries (phone, created_at);
CREATE INDEX partner_inquiries_agency ON partner_inquiries (agency_id, id);
