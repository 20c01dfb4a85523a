-- The tamper-evident audit log, and accounts: credentials and sessions.

-- Append-only: triggers refuse UPDATE and DELETE (an insider who drops them is still caught by
-- the Merkle tree and the signed checkpoints). `seq` is assigned by the log writer (from 1);
-- `entry` holds the exact bytes that were hashed into the leaf (text, not jsonb, which would
-- re-encode them).
CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,
    at_ms      bigint NOT NULL,
    action     text NOT NULL,
    actor      text NOT NULL,
    entry      text NOT NULL,
    leaf_hash  bytea NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_at ON audit_log (at_ms);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Who was looked at: each query key and record id of an entry, for per-subject accounting.
CREATE TABLE audit_subjects (
    key  text NOT NULL,
    seq  bigint NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (key, seq)
);

-- Signed tree heads, one per signed size.
CREATE TABLE audit_checkpoints (
    size       bigint PRIMARY KEY,
    at_ms      bigint NOT NULL,
    origin     text NOT NULL,
    root       bytea NOT NULL,
    signature  bytea NOT NULL
);

-- A user's secrets and logon history. The TOTP secret must be readable to check codes.
CREATE TABLE credentials (
    user_id         uuid PRIMARY KEY REFERENCES users (id),
    password_hash   text NOT NULL,
    totp_secret     text NOT NULL,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step  bigint NOT NULL,
    -- Recent failed logons, milliseconds since the epoch.
    failures        jsonb NOT NULL,
    locked_at       timestamptz,
    version         bigint NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Logged-on sessions. `id` is the SHA-256 of the cookie's token (the token itself is never
-- stored); `ref` is a short public name for the audit log.
CREATE TABLE sessions (
    id            text PRIMARY KEY,
    ref           text NOT NULL UNIQUE,
    user_id       uuid NOT NULL REFERENCES users (id),
    csrf_token    text NOT NULL,
    address       text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    ended_at      timestamptz,
    end_reason    text
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE ended_at IS NULL;
