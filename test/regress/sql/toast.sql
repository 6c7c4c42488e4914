-- toast: out-of-line values an UPDATE did not change are left out of "new"
-- and listed in "unchanged" (never written as null); changed, inserted and
-- old values are written in full.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_toast', 'mostajs');

-- 3,200 characters of hex digits: stored out of line (EXTERNAL: not compressed)
CREATE FUNCTION toast_value(seed int) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT string_agg(md5((seed * 1000 + i)::text), '') FROM generate_series(1, 100) AS i $$;

CREATE TABLE toasted (id int PRIMARY KEY, small text, big text, doc jsonb, arr int[]);
ALTER TABLE toasted ALTER COLUMN big SET STORAGE EXTERNAL, ALTER COLUMN doc SET STORAGE EXTERNAL,
	ALTER COLUMN arr SET STORAGE EXTERNAL;

INSERT INTO toasted VALUES (1, 'a', toast_value(1), jsonb_build_object('k', toast_value(2)),
	(SELECT array_agg(i) FROM generate_series(1, 1000) AS i));
-- the three values really are out of line
SELECT reltoastrelid::regclass AS toast_table FROM pg_class WHERE oid = 'toasted'::regclass \gset
SELECT count(DISTINCT chunk_id) AS values_out_of_line FROM :toast_table;
UPDATE toasted SET small = 'b' WHERE id = 1;               -- big, doc and arr unchanged
UPDATE toasted SET big = toast_value(3) WHERE id = 1;      -- doc and arr unchanged
UPDATE toasted SET big = NULL, arr = '{1}' WHERE id = 1;   -- doc unchanged
UPDATE toasted SET id = 2 WHERE id = 1;                    -- key change, doc unchanged
UPDATE toasted SET doc = doc || '{"x": 1}' WHERE id = 2;   -- doc rewritten in full
DELETE FROM toasted WHERE id = 2;

-- REPLICA IDENTITY FULL: the old row carries the out-of-line values in full
CREATE TABLE toasted_full (id int PRIMARY KEY, small text, big text);
ALTER TABLE toasted_full ALTER COLUMN big SET STORAGE EXTERNAL, REPLICA IDENTITY FULL;
INSERT INTO toasted_full VALUES (1, 'a', toast_value(4));
UPDATE toasted_full SET small = 'b';
DELETE FROM toasted_full;

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_toast', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

-- long values shortened to <long> here, checked in full below
SELECT regexp_replace(data, '"[0-9a-f]{200}[0-9a-f]*"|\[[0-9,]{200}[0-9,]*\]', '<long>', 'g') AS data
FROM pg_logical_slot_peek_changes('regress_toast', NULL, NULL);

-- which value each long one is
SELECT n, d->>'op' AS op, d->>'table' AS "table", part, col,
	CASE
		WHEN v = to_jsonb(toast_value(1)) THEN 'toast_value(1)'
		WHEN v = to_jsonb(toast_value(3)) THEN 'toast_value(3)'
		WHEN v = to_jsonb(toast_value(4)) THEN 'toast_value(4)'
		WHEN v = jsonb_build_object('k', toast_value(2)) THEN '{"k": toast_value(2)}'
		WHEN v = jsonb_build_object('k', toast_value(2), 'x', 1) THEN '{"k": toast_value(2), "x": 1}'
		WHEN v = (SELECT jsonb_agg(i) FROM generate_series(1, 1000) AS i) THEN '[1, ..., 1000]'
		ELSE 'unexpected: ' || left(v::text, 20)
	END AS value
FROM pg_logical_slot_peek_changes('regress_toast', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n),
	LATERAL (SELECT c.data::jsonb) AS j(d),
	LATERAL (VALUES ('new', d->'new'), ('old', d->'old')) AS p(part, r),
	LATERAL jsonb_each(r) AS e(col, v)
WHERE length(v::text) > 1000
ORDER BY n, part, col;

SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regress_toast', NULL, NULL);
SELECT pg_drop_replication_slot('regress_toast');
DROP TABLE toasted, toasted_full;
DROP FUNCTION toast_value(int);
