-- Partner registry, center users, calls and inquiries.
-- Ids are UUIDv7 stored as 16-byte BLOBs (they sort by creation time); dates are ISO-8601
-- TEXT (so they compare correctly as text); timestamps are RFC 3339 TEXT in UTC.

CREATE TABLE agencies (
    id          BLOB PRIMARY KEY NOT NULL,
    ori         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    -- The name folded for search (ASCII, lower case), computed by the application.
    search_name TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('partner_287g', 'federal_field_office')),
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE agreements (
    id                      BLOB PRIMARY KEY NOT NULL,
    agency_id               BLOB NOT NULL REFERENCES agencies (id),
    model                   TEXT NOT NULL CHECK (model IN ('jail_enforcement', 'task_force', 'warrant_service_officer')),
    signed_on               TEXT NOT NULL,
    expires_on              TEXT NOT NULL,
    terminated_on           TEXT,
    supervising_office_id   BLOB NOT NULL REFERENCES agencies (id),
    max_certified_officers  INTEGER NOT NULL CHECK (max_certified_officers > 0),
    version                 INTEGER NOT NULL,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    CHECK (expires_on > signed_on)
);
CREATE INDEX agreements_agency ON agreements (agency_id);

CREATE TABLE officers (
    id                        BLOB PRIMARY KEY NOT NULL,
    agency_id                 BLOB NOT NULL REFERENCES agencies (id),
    given_name                TEXT NOT NULL,
    family_name               TEXT NOT NULL,
    search_name               TEXT NOT NULL,
    badge                     TEXT NOT NULL,
    certified_on              TEXT,
    certification_expires_on  TEXT,
    active                    BOOLEAN NOT NULL,
    version                   INTEGER NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL,
    UNIQUE (agency_id, badge)
);

-- A number identifies at most one officer: that is what caller identification relies on.
CREATE TABLE officer_phones (
    phone       TEXT PRIMARY KEY NOT NULL,
    officer_id  BLOB NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL
);
CREATE INDEX officer_phones_officer ON officer_phones (officer_id);

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('call_taker', 'supervisor', 'juvenile_liaison', 'legal_reviewer', 'auditor', 'administrator', 'planner')),
    active        BOOLEAN NOT NULL,
    version       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE calls (
    id           BLOB PRIMARY KEY NOT NULL,
    ani_raw      TEXT NOT NULL,
    ani          TEXT,
    officer_id   BLOB REFERENCES officers (id),
    state        TEXT NOT NULL CHECK (state IN ('arriving', 'queued', 'offered', 'connected', 'ended', 'abandoned')),
    arrived_at   TEXT NOT NULL,
    answered_at  TEXT,
    ended_at     TEXT
);

CREATE TABLE inquiries (
    id           BLOB PRIMARY KEY NOT NULL,
    call_id      BLOB REFERENCES calls (id),
    officer_id   BLOB REFERENCES officers (id),
    subject      TEXT NOT NULL CHECK (json_valid(subject)),
    purpose      TEXT NOT NULL CHECK (purpose IN ('C', 'F')),
    reason       TEXT NOT NULL,
    case_number  TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX inquiries_call ON inquiries (call_id);
