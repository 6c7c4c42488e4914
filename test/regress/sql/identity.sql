-- identity: "key" names the columns that identify a row, and "old" carries
-- what the replica identity logs: nothing for inserts, the identity's
-- columns for updates that change them and for deletes (every column with
-- REPLICA IDENTITY FULL), and nothing at all with NOTHING or without a key.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_identity', 'mostajs');

-- DEFAULT with a primary key
CREATE TABLE id_default (id int PRIMARY KEY, v text, w text);
INSERT INTO id_default VALUES (1, 'a', NULL);
UPDATE id_default SET v = 'b' WHERE id = 1;      -- key unchanged: no old
UPDATE id_default SET id = 2 WHERE id = 1;       -- key changed: old key
UPDATE id_default SET id = 3, v = NULL;          -- both
DELETE FROM id_default;

-- DEFAULT with a composite primary key, declared out of column order
CREATE TABLE id_composite (a int, b text, c text, PRIMARY KEY (b, a));
INSERT INTO id_composite VALUES (1, 'x', 'c');
UPDATE id_composite SET a = 2;
UPDATE id_composite SET c = 'd';
DELETE FROM id_composite;

-- USING INDEX on a table without a primary key
CREATE TABLE id_index (id int, code text NOT NULL, v text);
CREATE UNIQUE INDEX id_index_code ON id_index (code);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_code;
INSERT INTO id_index VALUES (1, 'c1', 'a');
UPDATE id_index SET v = 'b';
UPDATE id_index SET code = 'c2';
DELETE FROM id_index;

-- USING INDEX on another index than the primary key: the old row can only
-- carry the index's columns, so they are the key
CREATE TABLE id_index_pk (id int PRIMARY KEY, code text NOT NULL, v text);
CREATE UNIQUE INDEX id_index_pk_code ON id_index_pk (code);
ALTER TABLE id_index_pk REPLICA IDENTITY USING INDEX id_index_pk_code;
INSERT INTO id_index_pk VALUES (1, 'c1', 'a');
UPDATE id_index_pk SET code = 'c2';
DELETE FROM id_index_pk;

-- FULL with a primary key
CREATE TABLE id_full_pk (id int PRIMARY KEY, v text, n int);
ALTER TABLE id_full_pk REPLICA IDENTITY FULL;
INSERT INTO id_full_pk VALUES (1, 'a', NULL);
UPDATE id_full_pk SET v = 'b';
UPDATE id_full_pk SET id = 2, n = 5;
DELETE FROM id_full_pk;

-- FULL without a key, with a dropped column
CREATE TABLE id_full_nokey (x int, gone text, y text);
ALTER TABLE id_full_nokey REPLICA IDENTITY FULL;
ALTER TABLE id_full_nokey DROP COLUMN gone;
INSERT INTO id_full_nokey VALUES (1, 'a'), (1, 'a');
UPDATE id_full_nokey SET y = 'b';
DELETE FROM id_full_nokey;

-- NOTHING: never an old row, even for a key change
CREATE TABLE id_nothing (id int PRIMARY KEY, v text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;
INSERT INTO id_nothing VALUES (1, 'a');
UPDATE id_nothing SET id = 2;
DELETE FROM id_nothing;

-- no key at all (DEFAULT without a primary key; a non-unique index is no key)
CREATE TABLE id_nokey (x int, y text);
CREATE INDEX id_nokey_x ON id_nokey (x);
INSERT INTO id_nokey VALUES (1, 'a');
UPDATE id_nokey SET y = 'b';
DELETE FROM id_nokey;

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_identity', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_get_changes('regress_identity', NULL, NULL)
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');

SELECT pg_drop_replication_slot('regress_identity');
DROP TABLE id_default, id_composite, id_index, id_index_pk, id_full_pk, id_full_nokey, id_nothing, id_nokey;
