-- The call distributor's event log and snapshots of its state. Recovery loads the newest
-- snapshot and replays the log entries after its `seq`.
--
-- `seq` is assigned by the ACD (strictly increasing, starting at 1), never by the database:
-- there is no identity or sequence behind it.

-- Append-only: rows are never updated or deleted.
CREATE TABLE acd_log (
    seq          bigint PRIMARY KEY,
    -- Milliseconds since the Unix epoch, as the ACD's injected clock gave them.
    at_ms        bigint NOT NULL,
    entry        jsonb NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- The newest few snapshots (the store keeps three); `seq` is the last log entry included.
CREATE TABLE acd_snapshots (
    seq       bigint PRIMARY KEY,
    at_ms     bigint NOT NULL,
    state     jsonb NOT NULL,
    taken_at  timestamptz NOT NULL DEFAULT now()
);
