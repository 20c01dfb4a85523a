-- Privileged roles (administrator, supervisor, legal reviewer, auditor) asked for an account
-- by one administrator and approved or refused by another.
CREATE TABLE role_requests (
    id            uuid PRIMARY KEY NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id),
    role          TEXT NOT NULL,
    activates     boolean NOT NULL,
    requested_by  uuid NOT NULL REFERENCES users (id),
    requested_at  timestamptz NOT NULL,
    decided_by    uuid REFERENCES users (id),
    decided_at    timestamptz,
    outcome       TEXT CHECK (outcome IN ('approved', 'refused'))
);
-- At most one open request an account.
CREATE UNIQUE INDEX role_requests_open ON role_requests (user_id) WHERE outcome IS NULL;
