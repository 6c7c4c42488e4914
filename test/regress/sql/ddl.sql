-- ddl: every document has the shape of its table at the document's LSN:
-- columns added, dropped, renamed or retyped between changes, in separate
-- transactions and inside one, and tables, schemas and types renamed.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_ddl', 'mostajs');

-- one transaction per step
CREATE TABLE dd (id int PRIMARY KEY, a text);
INSERT INTO dd VALUES (1, 'x');
ALTER TABLE dd ADD COLUMN b int DEFAULT 7;
INSERT INTO dd VALUES (2, 'y', 8);
UPDATE dd SET a = 'z' WHERE id = 1;               -- b comes from the column default
ALTER TABLE dd DROP COLUMN a;
INSERT INTO dd VALUES (3, 9);
ALTER TABLE dd RENAME COLUMN b TO c;
INSERT INTO dd VALUES (4, 10);
ALTER TABLE dd ALTER COLUMN c TYPE text USING c::text || '!';
INSERT INTO dd VALUES (5, 'five');
ALTER TABLE dd ALTER COLUMN c TYPE numeric(6, 2) USING length(c);
UPDATE dd SET c = c + 0.5 WHERE id = 1;
ALTER TABLE dd ADD COLUMN d jsonb, ADD COLUMN e int GENERATED ALWAYS AS (id * 10) STORED;
INSERT INTO dd VALUES (6, 1.25, '{"k": 1}');
DELETE FROM dd WHERE id = 2;

-- the same steps inside one transaction
CREATE TABLE dd1 (id int PRIMARY KEY, a text);
BEGIN;
INSERT INTO dd1 VALUES (1, 'x');
ALTER TABLE dd1 ADD COLUMN b int DEFAULT 7;
INSERT INTO dd1 VALUES (2, 'y', 8);
UPDATE dd1 SET a = 'z' WHERE id = 1;
ALTER TABLE dd1 DROP COLUMN a;
INSERT INTO dd1 VALUES (3, 9);
ALTER TABLE dd1 RENAME COLUMN b TO c;
INSERT INTO dd1 VALUES (4, 10);
ALTER TABLE dd1 ALTER COLUMN c TYPE text USING c::text || '!';
INSERT INTO dd1 VALUES (5, 'five');
UPDATE dd1 SET c = c || '?' WHERE id = 1;
ALTER TABLE dd1 ALTER COLUMN c TYPE numeric(6, 2) USING length(c);
DELETE FROM dd1 WHERE id = 2;
COMMIT;

-- keys and replica identity changing between changes
CREATE TABLE dd_key (id int, v text);
INSERT INTO dd_key VALUES (1, 'no key yet');
DELETE FROM dd_key;
ALTER TABLE dd_key ADD PRIMARY KEY (id);
INSERT INTO dd_key VALUES (2, 'with a key');
DELETE FROM dd_key;
ALTER TABLE dd_key REPLICA IDENTITY FULL;
INSERT INTO dd_key VALUES (3, 'identity full');
DELETE FROM dd_key;

-- renamed tables, moved tables, renamed schemas
CREATE SCHEMA dd_schema;
CREATE TABLE dd_schema.dd_named (id int PRIMARY KEY);
INSERT INTO dd_schema.dd_named VALUES (1);
ALTER TABLE dd_schema.dd_named RENAME TO dd_renamed;
INSERT INTO dd_schema.dd_renamed VALUES (2);
ALTER SCHEMA dd_schema RENAME TO dd_schema_renamed;
INSERT INTO dd_schema_renamed.dd_renamed VALUES (3);
ALTER TABLE dd_schema_renamed.dd_renamed SET SCHEMA public;
INSERT INTO dd_renamed VALUES (4);

-- enums and composites changing under a table
CREATE TYPE dd_mood AS ENUM ('sad', 'happy');
CREATE TYPE dd_pair AS (a int, b text);
CREATE TABLE dd_typed (id int PRIMARY KEY, m dd_mood, p dd_pair);
INSERT INTO dd_typed VALUES (1, 'sad', ROW(1, 'x'));
ALTER TYPE dd_mood RENAME VALUE 'sad' TO 'blue';
ALTER TYPE dd_mood ADD VALUE 'calm';
ALTER TYPE dd_pair ADD ATTRIBUTE c int;
INSERT INTO dd_typed VALUES (2, 'calm', ROW(2, 'y', 3));
UPDATE dd_typed SET id = 10 WHERE id = 1;
ALTER TYPE dd_mood RENAME TO dd_feeling;
INSERT INTO dd_typed VALUES (3, 'happy', NULL);

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_ddl', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_peek_changes('regress_ddl', NULL, NULL)
WHERE data NOT IN ('{"op":"begin"}', '{"op":"commit"}');

-- the types follow the shape too
SELECT data::jsonb->>'table' AS "table", data::jsonb->>'op' AS op, data::jsonb->'types' AS types
FROM pg_logical_slot_peek_changes('regress_ddl', NULL, NULL, 'include-types', '1')
WHERE data::jsonb->>'table' IN ('dd', 'dd_typed');

-- the table filters see the name at the change's LSN
SELECT data FROM pg_logical_slot_get_changes('regress_ddl', NULL, NULL,
	'include-tables', 'dd_schema_renamed.*,*.dd_named');

SELECT pg_drop_replication_slot('regress_ddl');
DROP TABLE dd, dd1, dd_key, dd_renamed, dd_typed;
DROP SCHEMA dd_schema_renamed;
DROP TYPE dd_feeling, dd_pair;
