-- json_nulls: a json or jsonb value that is the JSON null, and json[]/jsonb[]
-- elements that are JSON null, against SQL NULL. Format version 1 embeds
-- json values, so both are null (documented ambiguity, kept for consumers
-- that ask for version 1); version 2 sends json values as strings of their
-- text, so "null" (JSON) and null (SQL) differ, nested nulls included. The
-- initial copy (mosta.snapshot_documents) and the canonical text of verify
-- follow the same rules.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_json_nulls', 'mostajs');

CREATE TABLE jn (id int PRIMARY KEY, j json, jb jsonb, ja jsonb[], jja json[]);
INSERT INTO jn VALUES
	(1, NULL, NULL, NULL, NULL),                                     -- SQL NULL everywhere
	(2, 'null', 'null', ARRAY['null'::jsonb], ARRAY['null'::json]),  -- JSON null everywhere
	(3, E'{"a": null,\n "b": [null, 1]}', '{"a": null, "b": [null, 1]}',
	    ARRAY[NULL, 'null', '{"k": null}', '[null]']::jsonb[], ARRAY[NULL, 'null', '"s"']::json[]),
	(4, '"null"', '"null"', '{}', '{}'),                             -- the JSON string "null"; empty arrays
	(5, ' 5 ', 'true', ARRAY['"x\"y"', '1.50']::jsonb[], ARRAY[E'"tab\\t"']::json[]);
UPDATE jn SET jb = 'null' WHERE id = 1;                              -- SQL NULL → JSON null
UPDATE jn SET jb = NULL WHERE id = 2;                                -- JSON null → SQL NULL

-- format version 1 (the default): JSON null and SQL NULL both read null
SELECT data FROM pg_logical_slot_peek_changes('regress_json_nulls', NULL, NULL)
 WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');
SELECT data FROM pg_logical_slot_peek_changes('regress_json_nulls', NULL, NULL, 'format-version', '1')
 WHERE data LIKE '%"id":2,%';

-- format version 2: json values are strings of their exact text
SELECT data FROM pg_logical_slot_peek_changes('regress_json_nulls', NULL, NULL, 'format-version', '2',
	'include-types', 'on') WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');

-- read back as a consumer would: every value equals the row's, SQL NULL stays SQL NULL
SELECT (d->'new'->>'id')::int AS id,
	d->'new'->'j' = 'null'::jsonb AS j_is_sql_null, (d->'new'->>'j')::json::text AS j_text,
	d->'new'->'jb' = 'null'::jsonb AS jb_is_sql_null, (d->'new'->>'jb')::jsonb AS jb,
	d->'new'->'ja' AS ja
  FROM (SELECT data::jsonb AS d FROM pg_logical_slot_peek_changes('regress_json_nulls', NULL, NULL,
	'format-version', '2')) x
 WHERE d->>'op' = 'insert' ORDER BY 1;

-- the initial copy: the same documents, in the version asked for
CREATE EXTENSION mostajs;
SELECT d FROM mosta.snapshot_documents('jn', false, format_version => 2) d ORDER BY d;
SELECT d FROM mosta.snapshot_documents('jn', false) d WHERE d LIKE '%"id":2,%';
SELECT mosta.snapshot_documents('jn', false, format_version => 3);

-- verify's canonical text: the JSON null is the text null, SQL NULL is NULL
SELECT id, mosta.canonical_text(j) AS j, mosta.canonical_text(jb) AS jb, mosta.canonical_text(ja) AS ja,
	mosta.canonical_text(jja) AS jja
  FROM jn ORDER BY id;
SELECT mosta.canonical_row_hash(r) <> mosta.canonical_row_hash(s) AS json_null_differs_from_sql_null
  FROM (SELECT 1 AS id, 'null'::jsonb AS v) r, (SELECT 1 AS id, NULL::jsonb AS v) s;
DROP EXTENSION mostajs;

SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('regress_json_nulls', NULL, NULL);
SELECT pg_drop_replication_slot('regress_json_nulls');
DROP TABLE jn;
