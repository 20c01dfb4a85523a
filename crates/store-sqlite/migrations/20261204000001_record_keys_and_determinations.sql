-- The subject's whole file: every record is found by the normal form of each identifier it
-- carries (A-number, FIN, FBI number, state id, citizenship document number), so the server can
-- gather every record that shares one. The database computes the keys itself, as generated
-- columns with an index each, so no writer can forget them and an update moves a record to its
-- new keys. The normal form is `RecordKey::normal` in the domain crate: ASCII upper case
-- without spaces, hyphens, periods and slashes, and for an A-number without its leading A's
-- and zeros. Rust asks only for keys it accepts (4 to 32 letters and digits with a digit among
-- them), so placeholders such as UNKNOWN or N/A, though stored here, never tie records together.
-- (Generated columns rather than a key table filled by triggers: a bulk load of 478,000
-- records took 1.6 times as long as without keys this way, 4.3 times with triggers.)
ALTER TABLE source_records ADD COLUMN a_number_key TEXT GENERATED ALWAYS AS (
    ltrim(ltrim(upper(replace(replace(replace(replace(data ->> '$.a_number', ' ', ''), '-', ''), '.', ''), '/', '')), 'A'), '0')
) VIRTUAL;
CREATE INDEX source_records_a_number_key ON source_records (a_number_key) WHERE a_number_key IS NOT NULL;

ALTER TABLE source_records ADD COLUMN fin_key TEXT GENERATED ALWAYS AS (
    upper(replace(replace(replace(replace(data ->> '$.fin', ' ', ''), '-', ''), '.', ''), '/', ''))
) VIRTUAL;
CREATE INDEX source_records_fin_key ON source_records (fin_key) WHERE fin_key IS NOT NULL;

ALTER TABLE source_records ADD COLUMN fbi_key TEXT GENERATED ALWAYS AS (
    upper(replace(replace(replace(replace(data ->> '$.fbi_number', ' ', ''), '-', ''), '.', ''), '/', ''))
) VIRTUAL;
CREATE INDEX source_records_fbi_key ON source_records (fbi_key) WHERE fbi_key IS NOT NULL;

ALTER TABLE source_records ADD COLUMN state_id_key TEXT GENERATED ALWAYS AS (
    upper(replace(replace(replace(replace(data ->> '$.state_id', ' ', ''), '-', ''), '.', ''), '/', ''))
) VIRTUAL;
CREATE INDEX source_records_state_id_key ON source_records (state_id_key) WHERE state_id_key IS NOT NULL;

ALTER TABLE source_records ADD COLUMN document_key TEXT GENERATED ALWAYS AS (
    upper(replace(replace(replace(replace(data ->> '$.document_number', ' ', ''), '-', ''), '.', ''), '/', ''))
) VIRTUAL;
CREATE INDEX source_records_document_key ON source_records (document_key) WHERE document_key IS NOT NULL;

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
