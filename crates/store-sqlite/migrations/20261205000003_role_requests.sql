-- Privileged roles (administrator, supervisor, legal reviewer, auditor) asked for an account
-- by one administrator and approved or refused by another.
CREATE TABLE role_requests (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id),
    role          TEXT NOT NULL,
    activates     BOOLEAN NOT NULL,
    requested_by  BLOB NOT NULL REFERENCES users (id),
    requested_at  TEXT NOT NULL,
    decided_by    BLOB REFERENCES users (id),
    decided_at    TEXT,
    outcome       TEXT CHECK (outcome IN ('approved', 'refused'))
);
-- At most one open request an account.
CREATE UNIQUE INDEX role_requests_open ON role_requests (user_id) WHERE outcome IS NULL;
