-- Dispositions (what a call-taker decided on an inquiry, with the whole history) and the
-- juvenile-liaison cases they open. Each is kept as the `rules` crate's own JSON document,
-- with the few columns listings filter and sort by beside it.
--
-- Ids are UUIDv7 from the application (they sort by creation time). `version` is the
-- optimistic-concurrency counter: an update writes only where the stored version is the one
-- read.

CREATE TABLE dispositions (
    id          uuid PRIMARY KEY,
    call_id     uuid REFERENCES calls (id),
    kind        text NOT NULL,
    state       text NOT NULL,
    author      text NOT NULL,
    document    jsonb NOT NULL,
    -- What the caller was told.
    disclosed   text NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
-- Listings by state, newest first.
CREATE INDEX dispositions_state ON dispositions (state, id);

CREATE TABLE liaison_cases (
    id              uuid PRIMARY KEY,
    disposition_id  uuid NOT NULL REFERENCES dispositions (id),
    call_id         uuid REFERENCES calls (id),
    document        jsonb NOT NULL,
    version         bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
