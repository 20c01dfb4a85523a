-- The call distributor's event log and snapshots of its state. Recovery loads the newest
-- snapshot and replays the log entries after its `seq`.
--
-- `seq` is assigned by the ACD (strictly increasing, starting at 1), never by the database.
-- It is declared INTEGER PRIMARY KEY (SQLite's 64-bit integer, like BIGINT elsewhere) so that
-- it is the rowid: the table is stored in `seq` order without a second index. There is no
-- AUTOINCREMENT; every insert names its `seq`. Timestamps are RFC 3339 TEXT in UTC.

-- Append-only: rows are never updated or deleted.
CREATE TABLE acd_log (
    seq          INTEGER PRIMARY KEY NOT NULL,
    -- Milliseconds since the Unix epoch, as the ACD's injected clock gave them.
    at_ms        INTEGER NOT NULL,
    entry        TEXT NOT NULL CHECK (json_valid(entry)),
    recorded_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The newest few snapshots (the store keeps three); `seq` is the last log entry included.
CREATE TABLE acd_snapshots (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at_ms     INTEGER NOT NULL,
    state     TEXT NOT NULL CHECK (json_valid(state)),
    taken_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
