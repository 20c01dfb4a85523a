-- Records of the record systems (identity, immigration case, custody, court order, criminal
-- history, citizenship), kept as the source's own document: the schema of a source is the
-- domain's record type, so a new or changed source needs no new table.
-- `seq` gives rows in arrival order: bulk loads append to the table and to the (system, seq)
-- index; only the record-id index takes random inserts, and its entries are small.
CREATE TABLE source_records (
    seq         INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL UNIQUE,
    system      TEXT NOT NULL CHECK (system IN ('identity', 'immigration_case', 'custody', 'court_order', 'criminal_history', 'citizenship')),
    updated_on  TEXT NOT NULL,
    data        TEXT NOT NULL CHECK (json_valid(data))
);
CREATE INDEX source_records_system ON source_records (system, seq);

-- Court orders that protect a class of people rather than one person.
CREATE TABLE class_injunctions (
    order_id  TEXT PRIMARY KEY NOT NULL,
    data      TEXT NOT NULL CHECK (json_valid(data))
);
