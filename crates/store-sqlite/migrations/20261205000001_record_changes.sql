-- Live records: the change log every record index follows, when each record system was last
-- vouched for by its feed, and the record feeds' keys.

-- One entry per record written or deleted, in commit order (SQLite has one writer at a time,
-- and AUTOINCREMENT never reuses a position). The record's body is read from
-- `source_records`: a follower always gets the newest version of what changed.
CREATE TABLE record_changes (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL,
    system      TEXT NOT NULL,
    deleted     INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    origin      TEXT NOT NULL,
    changed_at  TEXT NOT NULL
);

CREATE TRIGGER record_changes_append_only BEFORE UPDATE ON record_changes
BEGIN
    SELECT RAISE(ABORT, 'record_changes is append-only');
END;

CREATE TABLE record_feed_state (
    system    TEXT PRIMARY KEY NOT NULL,
    as_of     TEXT NOT NULL,
    position  INTEGER NOT NULL
);

-- Records already loaded count as vouched for when this migration runs.
INSERT INTO record_feed_state (system, as_of, position)
SELECT system, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0 FROM source_records GROUP BY system;

CREATE TABLE record_feed_keys (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    systems     TEXT NOT NULL CHECK (json_valid(systems)),
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Which change log this is: a record index snapshot names it, so a snapshot of another
-- database (a re-seeded demo, a restored backup) is never applied to this one.
CREATE TABLE record_log (
    id  TEXT PRIMARY KEY NOT NULL
);
INSERT INTO record_log (id) VALUES (lower(hex(randomblob(16))));
