-- Logons by account and source address: a source an account logged on from recently is
-- familiar, and a lock imposed by failures from elsewhere does not keep the account out of it.
CREATE INDEX sessions_user_address ON sessions (user_id, address, created_at);
