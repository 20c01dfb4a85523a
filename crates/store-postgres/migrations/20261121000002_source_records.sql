-- Records of the record systems (identity, immigration case, custody, court order, criminal
-- history, citizenship), kept as the source's own document: the schema of a source is the
-- domain's record type, so a new or changed source needs no new table.
-- `seq` gives rows in arrival order: bulk loads append to the table and to the (system, seq)
-- index; only the record-id index takes random inserts, and its entries are small.
CREATE TABLE source_records (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   text NOT NULL UNIQUE,
    system      text NOT NULL CHECK (system IN ('identity', 'immigration_case', 'custody', 'court_order', 'criminal_history', 'citizenship')),
    updated_on  date NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX source_records_system ON source_records (system, seq);

-- Court orders that protect a class of people rather than one person.
CREATE TABLE class_injunctions (
    order_id  text PRIMARY KEY,
    data      jsonb NOT NULL
);
