-- Dispositions (what a call-taker decided on an inquiry, with the whole history) and the
-- juvenile-liaison cases they open. Each is kept as the `rules` crate's own JSON document,
-- with the few columns listings filter and sort by beside it.
--
-- Ids are UUIDv7 from the application, stored as 16-byte BLOBs (they sort by creation time);
-- timestamps are RFC 3339 TEXT in UTC, to the microsecond. `version` is the optimistic-
-- concurrency counter: an update writes only where the stored version is the one read.

CREATE TABLE dispositions (
    id          BLOB PRIMARY KEY NOT NULL,
    call_id     BLOB REFERENCES calls (id),
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    author      TEXT NOT NULL,
    document    TEXT NOT NULL CHECK (json_valid(document)),
    -- What the caller was told.
    disclosed   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Listings by state, newest first.
CREATE INDEX dispositions_state ON dispositions (state, id);

CREATE TABLE liaison_cases (
    id              BLOB PRIMARY KEY NOT NULL,
    disposition_id  BLOB NOT NULL REFERENCES dispositions (id),
    call_id         BLOB REFERENCES calls (id),
    document        TEXT NOT NULL CHECK (json_valid(document)),
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
