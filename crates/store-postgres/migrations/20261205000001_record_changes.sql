-- Live records: the change log every record index follows, when each record system was last
-- vouched for by its feed, and the record feeds' keys.

-- One entry per record written or deleted. Writers take a transaction-scoped advisory lock
-- before drawing positions, so positions are committed in order: a follower that has read
-- position p never later finds a new entry below p. The record's body is read from
-- `source_records`: a follower always gets the newest version of what changed.
CREATE TABLE record_changes (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   text NOT NULL,
    system      text NOT NULL,
    deleted     boolean NOT NULL,
    origin      text NOT NULL,
    changed_at  timestamptz NOT NULL
);

CREATE FUNCTION record_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'record_changes is append-only';
END;
$$;
CREATE TRIGGER record_changes_append_only BEFORE UPDATE ON record_changes
    FOR EACH ROW EXECUTE FUNCTION record_changes_append_only();

CREATE TABLE record_feed_state (
    system    text PRIMARY KEY,
    as_of     timestamptz NOT NULL,
    position  bigint NOT NULL
);

-- Records already loaded count as vouched for when this migration runs.
INSERT INTO record_feed_state (system, as_of, position)
SELECT system, now(), 0 FROM source_records GROUP BY system;

CREATE TABLE record_feed_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    systems     jsonb NOT NULL,
    key_hash    text NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- Which change log this is: a record index snapshot names it, so a snapshot of another
-- database (a re-seeded demo, a restored backup) is never applied to this one.
CREATE TABLE record_log (
    id  text PRIMARY KEY
);
INSERT INTO record_log (id) VALUES (md5(random()::text || clock_timestamp()::text));
