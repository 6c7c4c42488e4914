-- format_v3: format-version 3 describes each table in a relation document,
-- sent before the table's first row change of a decoding session and again
-- only when the description changed; row changes carry the relid and value
-- arrays in the relation document's column order.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_v3', 'mostajs');

-- v3_changes reads the slot in version 3 (peek, or get when consume), with
-- relids as table names and user-defined type OIDs masked: both differ from
-- run to run.
CREATE FUNCTION v3_changes(consume boolean DEFAULT false, VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql AS $$
	SELECT regexp_replace(CASE WHEN relid IS NULL THEN data
		ELSE replace(data, '"relid":' || relid, '"relid":"' || relid::oid::regclass::text || '"') END,
		'"oid":\d{5,}', '"oid":"(user type)"', 'g')
	FROM (SELECT data, substring(data FROM '"relid":(\d+)') AS relid
		FROM pg_logical_slot_peek_changes('regress_v3', NULL, NULL,
			VARIADIC array['format-version', '3'] || options)
		WHERE NOT consume
		UNION ALL
		SELECT data, substring(data FROM '"relid":(\d+)')
		FROM pg_logical_slot_get_changes('regress_v3', NULL, NULL,
			VARIADIC array['format-version', '3'] || options)
		WHERE consume) AS c
$$;

-- the relation document comes before the first change, once; generated and
-- dropped columns are not in it, typmods and array depths are
CREATE TABLE v3_docs (id int PRIMARY KEY, junk int, price numeric(10, 2), tags text[],
	doubled int GENERATED ALWAYS AS (id * 2) STORED, grid int[][], at timestamptz, doc jsonb, name varchar(20));
ALTER TABLE v3_docs DROP COLUMN junk;
INSERT INTO v3_docs VALUES (1, 9.9, '{a,b}', DEFAULT, '{{1,2},{3,4}}', '2024-05-01 12:30:00+00', '{"k": null}', 'n');
INSERT INTO v3_docs VALUES (2, NULL, NULL, DEFAULT, NULL, NULL, 'null', NULL);
BEGIN;
UPDATE v3_docs SET price = 1 WHERE id = 1;   -- key unchanged: no old
UPDATE v3_docs SET id = 3 WHERE id = 2;      -- key changed: old has the key, null elsewhere
DELETE FROM v3_docs WHERE id = 1;            -- old has the key, null elsewhere
COMMIT;
SELECT * FROM v3_changes();
-- include-types changes nothing in version 3; include-lsn and include-xids
-- add their fields to row changes, not to relation documents
SELECT count(*) AS differing FROM (SELECT * FROM v3_changes() EXCEPT ALL
	SELECT * FROM v3_changes(false, 'include-types', 'true')) AS d;
SELECT count(*) FILTER (WHERE data LIKE '{"op":"relation",%' AND data NOT LIKE '%"lsn"%' AND data NOT LIKE '%"xid"%')
		AS relation_documents_without_lsn_xid,
	count(*) FILTER (WHERE data ~ '^\{"op":"(insert|update|delete)","xid":\d+,"lsn":"[0-9A-F]+/[0-9A-F]+","relid":')
		AS changes_with_lsn_xid
FROM pg_logical_slot_peek_changes('regress_v3', NULL, NULL, 'format-version', '3', 'include-lsn', '1',
	'include-xids', '1');
-- a second session (this get after the peeks) sends the relation again
SELECT count(*) AS consumed FROM v3_changes(true);

-- a description that changes is sent again before the next change, and only then
INSERT INTO v3_docs (id) VALUES (10);
ALTER TABLE v3_docs ADD COLUMN note text;
INSERT INTO v3_docs (id, note) VALUES (11, 'added');
ANALYZE v3_docs;                                       -- invalidates, changes nothing
CREATE INDEX v3_docs_note ON v3_docs (note);           -- invalidates, changes nothing
INSERT INTO v3_docs (id, note) VALUES (12, 'same description');
ALTER TABLE v3_docs DROP COLUMN tags;
INSERT INTO v3_docs (id, note) VALUES (13, 'dropped tags');
ALTER TABLE v3_docs REPLICA IDENTITY FULL;
UPDATE v3_docs SET note = 'full' WHERE id = 13;         -- old is the whole row
DELETE FROM v3_docs WHERE id = 13;
ALTER TABLE v3_docs ALTER COLUMN price TYPE numeric(12, 3);
INSERT INTO v3_docs (id, price) VALUES (14, 1.5);
-- inside one transaction: the change after the DDL gets the new description
BEGIN;
INSERT INTO v3_docs (id) VALUES (15);
ALTER TABLE v3_docs RENAME COLUMN note TO remark;
INSERT INTO v3_docs (id, remark) VALUES (16, 'renamed');
COMMIT;
SELECT * FROM v3_changes(true);

-- replica identity index and nothing; a table without a key
CREATE TABLE v3_index (id int, code text NOT NULL, v text);
CREATE UNIQUE INDEX v3_index_code ON v3_index (code);
ALTER TABLE v3_index REPLICA IDENTITY USING INDEX v3_index_code;
CREATE TABLE v3_nothing (id int PRIMARY KEY, v text);
ALTER TABLE v3_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE v3_keyless (a int, b text);
INSERT INTO v3_index VALUES (1, 'c1', 'a');
UPDATE v3_index SET code = 'c2', v = 'b';
DELETE FROM v3_index;
INSERT INTO v3_nothing VALUES (1, 'a');
UPDATE v3_nothing SET id = 2;
DELETE FROM v3_nothing;
INSERT INTO v3_keyless VALUES (1, NULL);
DELETE FROM v3_keyless;
-- two tables interleaved in one transaction: each described once
BEGIN;
INSERT INTO v3_nothing VALUES (3, 'x');
INSERT INTO v3_keyless VALUES (3, 'x');
INSERT INTO v3_nothing VALUES (4, 'y');
INSERT INTO v3_keyless VALUES (4, 'y');
COMMIT;
SELECT * FROM v3_changes(true);

-- unchanged TOAST values: null at their position, listed by position
CREATE FUNCTION v3_toast_value(seed int) RETURNS text LANGUAGE sql IMMUTABLE
	AS $$ SELECT string_agg(md5((seed * 1000 + i)::text), '') FROM generate_series(1, 100) AS i $$;
CREATE TABLE v3_toast (id int PRIMARY KEY, small text, big text, doc jsonb);
ALTER TABLE v3_toast ALTER COLUMN big SET STORAGE EXTERNAL, ALTER COLUMN doc SET STORAGE EXTERNAL;
INSERT INTO v3_toast VALUES (1, 'a', v3_toast_value(1), jsonb_build_object('k', v3_toast_value(2)));
UPDATE v3_toast SET small = 'b';              -- big and doc unchanged
UPDATE v3_toast SET big = NULL;               -- doc unchanged, big SQL NULL
UPDATE v3_toast SET id = 2;                   -- key change, doc unchanged
SELECT regexp_replace(c, '[0-9a-f]{200}[0-9a-f]*', '<3200 hex digits>', 'g') AS data FROM v3_changes(true) AS c;

-- partitions: under partition-root, the root's relid, names and columns,
-- whatever the leaf's layout; by default, each leaf's own
CREATE TABLE v3_pt (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE v3_pt_eu PARTITION OF v3_pt FOR VALUES IN ('eu');
CREATE TABLE v3_pt_us (v text, junk int, region text NOT NULL, id int NOT NULL);
ALTER TABLE v3_pt_us DROP COLUMN junk;
ALTER TABLE v3_pt ATTACH PARTITION v3_pt_us FOR VALUES IN ('us');
INSERT INTO v3_pt VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'eu', 'c'), (4, 'us', 'd');
UPDATE v3_pt SET v = 'e' WHERE id = 2;
DELETE FROM v3_pt WHERE id = 1;
SELECT * FROM v3_changes(false, 'partition-root', 'true');
SELECT * FROM v3_changes(true);

-- partitions with different replica identities under one root: the root's
-- description follows the partition that wrote the change
ALTER TABLE v3_pt_us REPLICA IDENTITY FULL;
DELETE FROM v3_pt WHERE id = 2;
DELETE FROM v3_pt WHERE id = 3;
DELETE FROM v3_pt WHERE id = 4;
SELECT * FROM v3_changes(true, 'partition-root', 'true');

-- types: numeric typmods, array depths (declared or not), domains
CREATE DOMAIN v3_price AS numeric(8, 2);
CREATE DOMAIN v3_tags AS text[];
CREATE TABLE v3_types (id int PRIMARY KEY, n numeric, n2 numeric(5), n3 numeric(20, 10), p v3_price, t v3_tags,
	a1 int[], a3 int[][][], v varchar(7), c char(3), b bit(4), ts timestamp(3), iv interval, j json);
INSERT INTO v3_types VALUES (1, 1.50, 12345, 0.1, 2.5, '{x,NULL}', '{1,NULL,3}', '{{{1},{2}},{{3},{4}}}',
	'varchar', 'c', B'1010', '2024-01-02 03:04:05.678', '1 day 2 hours', '{"a" : [1, null]}');
SELECT * FROM v3_changes(true);

-- other documents are those of version 2: truncate, messages
INSERT INTO v3_keyless VALUES (9, 'z');
TRUNCATE v3_keyless;
SELECT 'msg' FROM pg_logical_emit_message(true, 'app', 'hello');
SELECT * FROM v3_changes(true);

-- every line of version 3 is one valid JSON document, batched too
INSERT INTO v3_docs (id) SELECT generate_series(100, 104);
SELECT count(*) AS documents FROM v3_changes(false, 'batch-bytes', '200') AS c,
	regexp_split_to_table(c, E'\n') AS line WHERE line::jsonb IS NOT NULL;
SELECT count(*) AS relation_documents FROM v3_changes(false, 'batch-bytes', '200') AS c,
	regexp_split_to_table(c, E'\n') AS line WHERE line LIKE '{"op":"relation",%';
SELECT count(*) AS consumed FROM v3_changes(true);

SELECT pg_drop_replication_slot('regress_v3');
DROP FUNCTION v3_changes(boolean, text[]), v3_toast_value(int);
DROP TABLE v3_docs, v3_index, v3_nothing, v3_keyless, v3_toast, v3_pt, v3_types;
DROP DOMAIN v3_price, v3_tags;
