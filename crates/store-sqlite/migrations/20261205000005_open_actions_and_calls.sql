-- Audited actions begun and not yet ended: a change's audit entry is written before the change
-- and marked open here in the same commit; the mark goes when the action ends. Marks a crash
-- left behind are the actions it cut off: at start-up each gets its "failed" entry.
CREATE TABLE audit_open_actions (
    seq  INTEGER PRIMARY KEY NOT NULL REFERENCES audit_log (seq)
);

-- Calls not yet over, read at start-up to bring the call records in step with the ACD.
CREATE INDEX calls_open ON calls (arrived_at) WHERE state NOT IN ('ended', 'abandoned');
