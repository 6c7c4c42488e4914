-- ddl_messages: the extension's event triggers put each DDL command on a
-- user table into the stream as a transactional mostajs.ddl message, with
-- the table's new shape, in WAL order between the data changes; DROP TABLE
-- (also by cascade) says the table is gone. mosta_heartbeat() writes a
-- non-transactional mostajs.heartbeat message (its time is masked).
\set VERBOSITY terse
SET synchronous_commit = on;

CREATE EXTENSION mostajs;
-- created after the extension, whose own DDL is not announced anyway (schema mosta)
SELECT 'init' FROM pg_create_logical_replication_slot('regress_ddl_messages', 'mostajs');

-- one transaction per step
CREATE TABLE dm (id int PRIMARY KEY, name text NOT NULL DEFAULT 'none');
INSERT INTO dm VALUES (1, 'one');
ALTER TABLE dm ADD COLUMN score numeric(6, 2);
INSERT INTO dm VALUES (2, 'two', 2.5);

-- data, DDL, data inside one transaction: the messages sit between the changes
BEGIN;
UPDATE dm SET score = 1 WHERE id = 1;
ALTER TABLE dm RENAME COLUMN score TO points;
ALTER TABLE dm ALTER COLUMN points TYPE integer;
UPDATE dm SET points = 3 WHERE id = 2;
COMMIT;

-- renames, drops and the key: primary key, else the replica identity index
ALTER TABLE dm RENAME TO dm_renamed;
ALTER TABLE dm_renamed DROP COLUMN points;
CREATE UNIQUE INDEX dm_name ON dm_renamed (name);                  -- not announced: no key changes
ALTER TABLE dm_renamed DROP CONSTRAINT dm_pkey;                    -- key []
ALTER TABLE dm_renamed REPLICA IDENTITY USING INDEX dm_name;       -- key ["name"]
UPDATE dm_renamed SET name = 'uno' WHERE id = 1;
DROP INDEX dm_name;                                                -- key [] again
ALTER TABLE dm_renamed REPLICA IDENTITY FULL;
DELETE FROM dm_renamed WHERE id = 2;

-- names that need quoting, a default with a newline, a generated column (left out, as from changes)
CREATE SCHEMA "dm ""odd"" schema";
CREATE TABLE "dm ""odd"" schema"."Tab.le" (
	"co""l" int PRIMARY KEY,
	"x y" text DEFAULT E'a\nb',
	g int GENERATED ALWAYS AS ("co""l" * 2) STORED
);
INSERT INTO "dm ""odd"" schema"."Tab.le" VALUES (1);

-- a composite key lists its columns in the index's order, as change documents do;
-- a primary key and another replica identity index: the identity index is the key
CREATE TABLE dm_ba (a int, b text, c text, PRIMARY KEY (b, a));
INSERT INTO dm_ba VALUES (1, 'x', 'y');
CREATE UNIQUE INDEX dm_ba_ca ON dm_ba (c, a);
ALTER TABLE dm_ba ALTER COLUMN c SET NOT NULL;
ALTER TABLE dm_ba REPLICA IDENTITY USING INDEX dm_ba_ca;
UPDATE dm_ba SET c = 'z';

-- a partitioned table: ALTER TABLE on the parent announces its partitions too
CREATE TABLE dm_part (id int, k text, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE dm_part_1 PARTITION OF dm_part FOR VALUES FROM (0) TO (100);
ALTER TABLE dm_part ADD COLUMN v boolean;
INSERT INTO dm_part VALUES (1, 'a', true);

-- a cascading drop changes a table that stays
CREATE DOMAIN dm_dom AS int;
CREATE TABLE dm_typed (id int PRIMARY KEY, d dm_dom);
DROP DOMAIN dm_dom CASCADE;

-- not announced: temporary tables, TRUNCATE (a change), indexes, comments
CREATE TEMP TABLE dm_temp (id int);
ALTER TABLE dm_temp ADD COLUMN x int;
TRUNCATE dm_renamed;
CREATE INDEX dm_part_k ON dm_part (k);
COMMENT ON TABLE dm_part IS 'not a shape change';

-- a heartbeat: non-transactional, so it is decoded at once, alone
SELECT mosta_heartbeat() > '0/0' AS heartbeat_lsn;

DROP TABLE dm_renamed;
DROP SCHEMA "dm ""odd"" schema" CASCADE;
DROP TABLE dm_part, dm_typed;

SELECT regexp_replace(regexp_replace(data, '"ts":"[^"]*"', '"ts":"<masked>"'), '"oid": [0-9]+', '"oid": N', 'g')
       AS data
  FROM pg_logical_slot_get_changes('regress_ddl_messages', NULL, NULL);

-- trigger capture writes the documents the plugin streams: the same bytes for
-- inserts, deletes, truncates and key changes (an update that keeps its key
-- has "old" only in the trigger's document, which always carries it)
CREATE TABLE dm_both (id int PRIMARY KEY, doc jsonb, at timestamptz, tags text[]);
SELECT mosta_capture_table('dm_both');
INSERT INTO dm_both VALUES (1, '{"a": [1, 2]}', '2024-05-01 12:30:00.5+02', '{x,"y z"}'), (2, NULL, NULL, '{}');
UPDATE dm_both SET id = 3 WHERE id = 2;
DELETE FROM dm_both WHERE id = 1;
TRUNCATE dm_both;
SELECT d.data = l.change::text AS same, l.change::text AS document
  FROM (SELECT data, row_number() OVER () AS n FROM pg_logical_slot_get_changes('regress_ddl_messages', NULL, NULL)
         WHERE 'dm_both' IN (data::json ->> 'table', data::json #>> '{tables,0,table}')) d
  FULL JOIN (SELECT change, row_number() OVER (ORDER BY seq) AS n FROM mosta.change_log) l ON l.n = d.n
 ORDER BY coalesce(l.n, d.n);
SELECT mosta_uncapture_table('dm_both');
DROP TABLE dm_both;

SELECT 'stop' FROM pg_drop_replication_slot('regress_ddl_messages');
DROP EXTENSION mostajs;
