-- Partner registry, center users, calls and inquiries.

CREATE TABLE agencies (
    id          uuid PRIMARY KEY,
    ori         text NOT NULL,
    name        text NOT NULL,
    -- The name folded for search (ASCII, lower case), computed by the application.
    search_name text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('partner_287g', 'federal_field_office')),
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT agencies_ori_key UNIQUE (ori)
);

CREATE TABLE agreements (
    id                      uuid PRIMARY KEY,
    agency_id               uuid NOT NULL REFERENCES agencies (id),
    model                   text NOT NULL CHECK (model IN ('jail_enforcement', 'task_force', 'warrant_service_officer')),
    signed_on               date NOT NULL,
    expires_on              date NOT NULL,
    terminated_on           date,
    supervising_office_id   uuid NOT NULL REFERENCES agencies (id),
    max_certified_officers  bigint NOT NULL CHECK (max_certified_officers > 0),
    version                 bigint NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CHECK (expires_on > signed_on)
);
CREATE INDEX agreements_agency ON agreements (agency_id);

CREATE TABLE officers (
    id                        uuid PRIMARY KEY,
    agency_id                 uuid NOT NULL REFERENCES agencies (id),
    given_name                text NOT NULL,
    family_name               text NOT NULL,
    search_name               text NOT NULL,
    badge                     text NOT NULL,
    certified_on              date,
    certification_expires_on  date,
    active                    boolean NOT NULL,
    version                   bigint NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    CONSTRAINT officers_agency_id_badge_key UNIQUE (agency_id, badge)
);

-- A number identifies at most one officer: that is what caller identification relies on.
CREATE TABLE officer_phones (
    phone       text NOT NULL,
    officer_id  uuid NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    position    bigint NOT NULL,
    CONSTRAINT officer_phones_pkey PRIMARY KEY (phone)
);
CREATE INDEX officer_phones_officer ON officer_phones (officer_id);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('call_taker', 'supervisor', 'juvenile_liaison', 'legal_reviewer', 'auditor', 'administrator', 'planner')),
    active        boolean NOT NULL,
    version       bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE calls (
    id           uuid PRIMARY KEY,
    ani_raw      text NOT NULL,
    ani          text,
    officer_id   uuid REFERENCES officers (id),
    state        text NOT NULL CHECK (state IN ('arriving', 'queued', 'offered', 'connected', 'ended', 'abandoned')),
    arrived_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    ended_at     timestamptz
);

CREATE TABLE inquiries (
    id           uuid PRIMARY KEY,
    call_id      uuid REFERENCES calls (id),
    officer_id   uuid REFERENCES officers (id),
    subject      jsonb NOT NULL,
    purpose      text NOT NULL CHECK (purpose IN ('C', 'F')),
    reason       text NOT NULL,
    case_number  text,
    created_at   timestamptz NOT NULL
);
CREATE INDEX inquiries_call ON inquiries (call_id);
