-- The subject's whole file: every record is filed under the normal form of each identifier it
-- carries (A-number, FIN, FBI number, state id, citizenship document number), so the server can
-- gather every record that shares one. The database computes the keys itself on every write
-- (a trigger), so no writer can forget them; the normal form is `RecordKey::normal` in the
-- domain crate: upper case without spaces, hyphens, periods and slashes, and for an A-number
-- without its leading A's and zeros. Only 4 to 32 ASCII letters and digits with a digit among
-- them make a key (placeholders such as UNKNOWN or N/A never tie records together).
CREATE TABLE source_record_keys (
    kind       text NOT NULL,
    value      text NOT NULL,
    record_id  text NOT NULL,
    PRIMARY KEY (kind, value, record_id)
);
CREATE INDEX source_record_keys_record ON source_record_keys (record_id);

CREATE FUNCTION source_record_key_values(data jsonb)
RETURNS TABLE (kind text, value text) LANGUAGE sql IMMUTABLE AS $$
    SELECT k.kind, k.value FROM (
        SELECT 'a_number' AS kind,
               ltrim(ltrim(upper(translate(data ->> 'a_number', ' -./', '')), 'A'), '0') AS value
        UNION ALL SELECT 'fin', upper(translate(data ->> 'fin', ' -./', ''))
        UNION ALL SELECT 'fbi', upper(translate(data ->> 'fbi_number', ' -./', ''))
        UNION ALL SELECT 'state_id', upper(translate(data ->> 'state_id', ' -./', ''))
        UNION ALL SELECT 'document', upper(translate(data ->> 'document_number', ' -./', ''))
    ) k
    WHERE length(k.value) BETWEEN 4 AND 32 AND k.value ~ '^[0-9A-Z]+$' AND k.value ~ '[0-9]'
$$;

-- The records already stored.
INSERT INTO source_record_keys (kind, value, record_id)
SELECT k.kind, k.value, s.record_id FROM source_records s, source_record_key_values(s.data) k
ON CONFLICT DO NOTHING;

CREATE FUNCTION source_records_keys_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM source_record_keys WHERE record_id = OLD.record_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO source_record_keys (kind, value, record_id)
        SELECT k.kind, k.value, NEW.record_id FROM source_record_key_values(NEW.data) k
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER source_records_keys AFTER INSERT OR UPDATE OR DELETE ON source_records
FOR EACH ROW EXECUTE FUNCTION source_records_keys_sync();

-- Legal determinations (the `rules` crate's document) and the records of the file each was
-- made on.
CREATE TABLE legal_determinations (
    id          uuid PRIMARY KEY,
    state       text NOT NULL,
    document    jsonb NOT NULL,
    record_ids  jsonb NOT NULL,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX legal_determinations_state ON legal_determinations (state, id);

CREATE TABLE legal_determination_records (
    record_id         text NOT NULL,
    determination_id  uuid NOT NULL REFERENCES legal_determinations (id),
    PRIMARY KEY (record_id, determination_id)
);
