-- truncate: one truncate document per TRUNCATE command, listing the
-- included tables it emptied, with its CASCADE and RESTART IDENTITY flags.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_truncate', 'mostajs');

CREATE TABLE tr_a (id int PRIMARY KEY);
CREATE TABLE tr_b (id int PRIMARY KEY);
CREATE TABLE tr_parent (id int PRIMARY KEY);
CREATE TABLE tr_child (id int PRIMARY KEY, parent_id int REFERENCES tr_parent);
CREATE TABLE tr_grandchild (id int PRIMARY KEY, child_id int REFERENCES tr_child);
CREATE TABLE tr_serial (id serial PRIMARY KEY, v text);
CREATE TABLE "tr ""odd"" name" (id int);

-- several tables
INSERT INTO tr_a VALUES (1);
TRUNCATE tr_a, tr_b, "tr ""odd"" name";

-- CASCADE reaches the referencing tables
INSERT INTO tr_parent VALUES (1);
INSERT INTO tr_child VALUES (1, 1);
TRUNCATE tr_parent CASCADE;

-- RESTART IDENTITY: the sequence restarts, as the next insert shows
INSERT INTO tr_serial (v) VALUES ('x'), ('y');
TRUNCATE tr_serial RESTART IDENTITY;
INSERT INTO tr_serial (v) VALUES ('after restart');
TRUNCATE ONLY tr_serial CONTINUE IDENTITY;

-- among other changes of one transaction
BEGIN;
INSERT INTO tr_a VALUES (2);
TRUNCATE tr_a;
INSERT INTO tr_a VALUES (3);
TRUNCATE tr_a, tr_b RESTART IDENTITY CASCADE;
COMMIT;

-- rolled back: nothing
BEGIN;
TRUNCATE tr_a;
ROLLBACK;

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_truncate', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_peek_changes('regress_truncate', NULL, NULL);

-- the table filters apply to each table of the list; a TRUNCATE of excluded
-- tables only produces nothing, not even begin and commit
SELECT data FROM pg_logical_slot_get_changes('regress_truncate', NULL, NULL,
	'exclude-tables', 'public.tr_b,public.tr_serial,public.tr_child');

SELECT pg_drop_replication_slot('regress_truncate');
DROP TABLE tr_a, tr_b, tr_grandchild, tr_child, tr_parent, tr_serial, "tr ""odd"" name";
