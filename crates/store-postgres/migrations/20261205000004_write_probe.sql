-- One row rewritten by the readiness check: the database answers only if it takes a write
-- (a full disk leaves reads working and every write failing).
CREATE TABLE write_probe (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms  BIGINT NOT NULL
);
