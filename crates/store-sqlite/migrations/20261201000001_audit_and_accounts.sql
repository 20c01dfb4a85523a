-- The tamper-evident audit log, and accounts: credentials and sessions.

-- Append-only: triggers refuse UPDATE and DELETE (an insider who drops them is still caught by
-- the Merkle tree and the signed checkpoints). `seq` is assigned by the log writer (from 1);
-- `entry` holds the exact bytes that were hashed into the leaf, so it is never re-encoded.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY NOT NULL,
    at_ms      INTEGER NOT NULL,
    action     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    entry      TEXT NOT NULL,
    leaf_hash  BLOB NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_at ON audit_log (at_ms);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Who was looked at: each query key and record id of an entry, for per-subject accounting.
CREATE TABLE audit_subjects (
    key  TEXT NOT NULL,
    seq  INTEGER NOT NULL REFERENCES audit_log (seq),
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;

-- Signed tree heads, one per signed size.
CREATE TABLE audit_checkpoints (
    size       INTEGER PRIMARY KEY NOT NULL,
    at_ms      INTEGER NOT NULL,
    origin     TEXT NOT NULL,
    root       BLOB NOT NULL,
    signature  BLOB NOT NULL
);

-- A user's secrets and logon history. The TOTP secret must be readable to check codes.
CREATE TABLE credentials (
    user_id         BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    password_hash   TEXT NOT NULL,
    totp_secret     TEXT NOT NULL,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step  INTEGER NOT NULL,
    -- Recent failed logons, milliseconds since the epoch, as a JSON array.
    failures        TEXT NOT NULL CHECK (json_valid(failures)),
    locked_at       TEXT,
    version         INTEGER NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Logged-on sessions. `id` is the SHA-256 of the cookie's token (the token itself is never
-- stored); `ref` is a short public name for the audit log.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    ref           TEXT NOT NULL UNIQUE,
    user_id       BLOB NOT NULL REFERENCES users (id),
    csrf_token    TEXT NOT NULL,
    address       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT,
    end_reason    TEXT
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE ended_at IS NULL;
