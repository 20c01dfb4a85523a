-- The subject's whole file: every record is filed under the normal form of each identifier it
-- carries (A-number, FIN, FBI number, state id, citizenship document number), so the server can
-- gather every record that shares one. The database computes the keys itself on every write
-- (triggers), so no writer can forget them; the normal form is `RecordKey::normal` in the
-- domain crate: ASCII upper case without spaces, hyphens, periods and slashes, and for an
-- A-number without its leading A's and zeros. Only 4 to 32 ASCII letters and digits with a
-- digit among them make a key (placeholders such as UNKNOWN or N/A never tie records together).
CREATE TABLE source_record_keys (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    PRIMARY KEY (kind, value, record_id)
) WITHOUT ROWID;
CREATE INDEX source_record_keys_record ON source_record_keys (record_id);

CREATE VIEW source_record_key_view AS
SELECT record_id, kind, value FROM (
    SELECT record_id, 'a_number' AS kind,
           ltrim(ltrim(upper(replace(replace(replace(replace(data ->> '$.a_number', ' ', ''), '-', ''), '.', ''), '/', '')), 'A'), '0') AS value
    FROM source_records
    UNION ALL
    SELECT record_id, 'fin', upper(replace(replace(replace(replace(data ->> '$.fin', ' ', ''), '-', ''), '.', ''), '/', ''))
    FROM source_records
    UNION ALL
    SELECT record_id, 'fbi', upper(replace(replace(replace(replace(data ->> '$.fbi_number', ' ', ''), '-', ''), '.', ''), '/', ''))
    FROM source_records
    UNION ALL
    SELECT record_id, 'state_id', upper(replace(replace(replace(replace(data ->> '$.state_id', ' ', ''), '-', ''), '.', ''), '/', ''))
    FROM source_records
    UNION ALL
    SELECT record_id, 'document', upper(replace(replace(replace(replace(data ->> '$.document_number', ' ', ''), '-', ''), '.', ''), '/', ''))
    FROM source_records
) WHERE length(value) BETWEEN 4 AND 32
    AND value NOT GLOB '*[^0-9A-Z]*' AND value GLOB '*[0-9]*';

-- The records already stored.
INSERT OR IGNORE INTO source_record_keys (kind, value, record_id)
SELECT kind, value, record_id FROM source_record_key_view;

CREATE TRIGGER source_records_keys_insert AFTER INSERT ON source_records
BEGIN
    INSERT OR IGNORE INTO source_record_keys (kind, value, record_id)
    SELECT kind, value, record_id FROM source_record_key_view WHERE record_id = NEW.record_id;
END;

CREATE TRIGGER source_records_keys_update AFTER UPDATE ON source_records
BEGIN
    DELETE FROM source_record_keys WHERE record_id = OLD.record_id;
    INSERT OR IGNORE INTO source_record_keys (kind, value, record_id)
    SELECT kind, value, record_id FROM source_record_key_view WHERE record_id = NEW.record_id;
END;

CREATE TRIGGER source_records_keys_delete AFTER DELETE ON source_records
BEGIN
    DELETE FROM source_record_keys WHERE record_id = OLD.record_id;
END;

-- Legal determinations (the `rules` crate's document) and the records of the file each was
-- made on.
CREATE TABLE legal_determinations (
    id          BLOB PRIMARY KEY NOT NULL,
    state       TEXT NOT NULL,
    document    TEXT NOT NULL CHECK (json_valid(document)),
    record_ids  TEXT NOT NULL CHECK (json_valid(record_ids)),
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX legal_determinations_state ON legal_determinations (state, id);

CREATE TABLE legal_determination_records (
    record_id         TEXT NOT NULL,
    determination_id  BLOB NOT NULL REFERENCES legal_determinations (id),
    PRIMARY KEY (record_id, determination_id)
) WITHOUT ROWID;
