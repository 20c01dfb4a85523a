-- Records of the record systems (identity, immigration case, custody, court order, criminal
-- history, citizenship), kept as the source's own document: the schema of a source is the
-- domain's record type, so a new or changed source needs no new table.
CREATE TABLE source_records (
    record_id   TEXT PRIMARY KEY NOT NULL,
    system      TEXT NOT NULL CHECK (system IN ('identity', 'immigration_case', 'custody', 'court_order', 'criminal_history', 'citizenship')),
    updated_on  TEXT NOT NULL,
    data        TEXT NOT NULL CHECK (json_valid(data))
);
CREATE INDEX source_records_system ON source_records (system, record_id);

-- Court orders that protect a class of people rather than one person.
CREATE TABLE class_injunctions (
    order_id  TEXT PRIMARY KEY NOT NULL,
    data      TEXT NOT NULL CHECK (json_valid(data))
);
