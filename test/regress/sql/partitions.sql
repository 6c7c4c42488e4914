-- partitions: changes are reported under the leaf partition that holds the
-- row by default, and under the top partitioned table with partition-root,
-- in the root's shape (its column order), whatever the leaf's own layout.
-- With partition-root a TRUNCATE names each root once, and a partition
-- truncated without its root under the root, naming the partition (only its rows are gone).
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_partitions', 'mostajs');

CREATE TABLE pt (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu');
-- attached with another column order
CREATE TABLE pt_us (v text, region text NOT NULL, id int NOT NULL);
ALTER TABLE pt ATTACH PARTITION pt_us FOR VALUES IN ('us');
-- attached with a dropped column: other attribute numbers
CREATE TABLE pt_asia (junk int, id int NOT NULL, region text NOT NULL, v text);
ALTER TABLE pt_asia DROP COLUMN junk;
ALTER TABLE pt ATTACH PARTITION pt_asia FOR VALUES IN ('asia');
-- sub-partitioned
CREATE TABLE pt_sa PARTITION OF pt FOR VALUES IN ('br', 'ar') PARTITION BY LIST (region);
CREATE TABLE pt_sa_br PARTITION OF pt_sa FOR VALUES IN ('br');
CREATE TABLE pt_sa_ar (region text NOT NULL, v text, id int NOT NULL);
ALTER TABLE pt_sa ATTACH PARTITION pt_sa_ar FOR VALUES IN ('ar');
SELECT relname, (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
FROM pg_class AS c WHERE relname LIKE 'pt%' AND relkind IN ('r', 'p') ORDER BY relname;

INSERT INTO pt VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'asia', 'c'), (4, 'br', 'd'), (5, 'ar', 'e');
INSERT INTO pt_us VALUES ('direct into the leaf', 'us', 6);
UPDATE pt SET v = v || '!';
UPDATE pt SET region = 'us' WHERE id = 1;         -- moves the row: a delete and an insert
UPDATE pt SET id = 50 WHERE id = 5;               -- key change inside a leaf
DELETE FROM pt WHERE id IN (3, 4);
TRUNCATE pt_asia;

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

-- by default: under the leaf
SELECT data FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL)
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');

-- partition-root: under the root, in the root's column order
SELECT data FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL, 'partition-root', '1')
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');

-- the table filters see the reported name: the root with partition-root ...
SELECT count(*) AS root_documents
FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL,
	'partition-root', '1', 'include-tables', 'public.pt')
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');
-- ... the leaves without it
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL, 'include-tables', 'public.pt')
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');
SELECT data::jsonb->>'table' AS "table", count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL, 'include-tables', 'public.pt_sa*')
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}')
GROUP BY 1 ORDER BY 1;

-- TRUNCATE of the root: every table it emptied (partitioned ones included)
-- named once; with partition-root, the root alone
TRUNCATE pt;
SELECT data FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL)
WHERE data::jsonb->>'op' = 'truncate';
SELECT data FROM pg_logical_slot_peek_changes('regress_partitions', NULL, NULL, 'partition-root', '1')
WHERE data::jsonb->>'op' = 'truncate';

-- a partition detached is reported under its own name again, and a renamed
-- root under its new name
INSERT INTO pt_eu VALUES (7, 'eu', 'attached');
ALTER TABLE pt DETACH PARTITION pt_eu;
INSERT INTO pt_eu VALUES (8, 'eu', 'detached');
ALTER TABLE pt RENAME TO pt_renamed;
INSERT INTO pt_renamed VALUES (9, 'us', 'root renamed');
SELECT data FROM pg_logical_slot_get_changes('regress_partitions', NULL, NULL, 'partition-root', '1')
WHERE data::jsonb->>'op' = 'insert' AND (data::jsonb->'new'->>'id')::int >= 7;

SELECT pg_drop_replication_slot('regress_partitions');
DROP TABLE pt_renamed, pt_eu;
