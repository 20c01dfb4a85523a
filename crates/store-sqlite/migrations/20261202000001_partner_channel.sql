-- The partner channel: agencies' API keys (only their SHA-256 is kept) and the inquiries they
-- send ahead, each with the cross-check made when it arrived (a JSON document).

CREATE TABLE partner_keys (
    id          BLOB PRIMARY KEY NOT NULL,
    agency_id   BLOB NOT NULL REFERENCES agencies (id),
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    label       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX partner_keys_agency ON partner_keys (agency_id, id);

CREATE TABLE partner_inquiries (
    id              BLOB PRIMARY KEY NOT NULL,
    reference       TEXT NOT NULL UNIQUE,
    agency_id       BLOB NOT NULL REFERENCES agencies (id),
    officer_id      BLOB NOT NULL REFERENCES officers (id),
    phone           TEXT NOT NULL,
    status          TEXT NOT NULL,
    document        TEXT NOT NULL CHECK (json_valid(document)),
    disposition_id  BLOB REFERENCES dispositions (id),
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- A call pops with the newest inquiry from its number.
CREATE INDEX partner_inquiries_phone ON partner_inquiries (phone, created_at);
CREATE INDEX partner_inquiries_agency ON partner_inquiries (agency_id, id);
