-- 80_ddl_heartbeat.sql: mosta_heartbeat() (an LSN, its privileges) and the
-- DDL event triggers: installed with the extension, firing for every user's
-- DDL without failing it, and writing the documented shape. Whether the
-- messages arrive in the stream, in WAL order, is checked by decoding them
-- in test/regress/sql/ddl_messages.sql: a slot cannot be created in the
-- transaction a pgTAP file runs in.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(45);

\ir support/helpers.psql

CREATE ROLE mosta_test_plain LOGIN;
CREATE ROLE mosta_test_admin LOGIN;
GRANT mosta_admin TO mosta_test_admin;


------------------------------------------------------------------------------
-- mosta_heartbeat
------------------------------------------------------------------------------
SELECT has_function('public', 'mosta_heartbeat', '{}'::name[], 'function mosta_heartbeat() exists');
SELECT function_returns('public', 'mosta_heartbeat', '{}'::name[], 'pg_lsn', 'mosta_heartbeat returns pg_lsn');
SELECT is((SELECT prolang FROM pg_proc WHERE oid = 'mosta_heartbeat()'::regprocedure),
          (SELECT oid FROM pg_language WHERE lanname = 'c'), 'mosta_heartbeat is a C function (it flushes WAL)');
CREATE TEMP TABLE beats AS
	SELECT mosta_heartbeat() AS first_lsn, pg_current_wal_insert_lsn() AS after_first,
	       pg_current_wal_flush_lsn() AS flushed;
SELECT ok((SELECT first_lsn > '0/0' AND first_lsn <= after_first FROM beats),
          'mosta_heartbeat returns the (end) LSN of the message it wrote');
SELECT ok((SELECT flushed >= first_lsn FROM beats),
          'the message is flushed before it returns, inside an open transaction: a walsender can send it at once');
SELECT ok(mosta_heartbeat() > (SELECT first_lsn FROM beats), 'a second heartbeat comes later in WAL');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', 'SELECT mosta_heartbeat()'), '42501',
          'a plain role may not write heartbeats');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', 'SELECT mosta_heartbeat()'), '00000',
          'a member of mosta_admin may (a sidecar''s replication role is made one)');
SELECT function_privs_are('public', 'mosta_heartbeat', '{}'::name[], 'mosta_admin', ARRAY['EXECUTE'],
                          'mosta_admin has EXECUTE on mosta_heartbeat');

------------------------------------------------------------------------------
-- the event triggers
------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT e.evtname::text COLLATE "default", e.evtevent::text COLLATE "default",
	         e.evtenabled::text COLLATE "default", e.evtfoid::regprocedure::text,
	         array_to_string(e.evttags, ', ') COLLATE "default"
	    FROM pg_event_trigger e ORDER BY e.evtname$$,
	$$VALUES ('mosta_ddl_command_end', 'ddl_command_end', 'O', 'mosta._ddl_command_end()',
	          'CREATE TABLE, CREATE TABLE AS, SELECT INTO, ALTER TABLE, ALTER TYPE, ALTER DOMAIN'),
	         ('mosta_ddl_sql_drop', 'sql_drop', 'O', 'mosta._ddl_sql_drop()', NULL),
	         ('mosta_ddl_table_rewrite', 'table_rewrite', 'O', 'mosta._ddl_table_rewrite()', NULL),
	         ('mosta_forget_dropped_tables', 'sql_drop', 'O', 'mosta._forget_dropped_tables()', NULL)$$,
	'the extension installs four enabled event triggers (mosta_forget_dropped_tables, of sql/parts/30_invariants.sql, '
	'forgets the invariants and TTLs of dropped tables), ddl_command_end limited to commands that change tables');
SELECT is((SELECT count(*) FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
            WHERE x.extname = 'mostajs' AND d.classid = 'pg_event_trigger'::regclass AND d.deptype = 'e'),
          4::bigint, 'the event triggers belong to the extension (DROP EXTENSION removes them)');
SELECT is_definer('mosta', f, '{}'::name[], format('mosta.%s is SECURITY DEFINER (any user''s DDL fires it)', f))
  FROM unnest(ARRAY['_ddl_command_end', '_ddl_sql_drop']) f;
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', sql), '42501', format('a plain role may not call %s', f))
  FROM (VALUES ('mosta._ddl_emit', $$SELECT mosta._ddl_emit('{"forged":true}')$$),
               ('mosta._ddl_table_json', $$SELECT mosta._ddl_table_json('x', 'pg_class'::regclass)$$)) t(f, sql);

-- any user's DDL fires them and succeeds, in any schema
CREATE SCHEMA "Plain ""sch"".ema" AUTHORIZATION mosta_test_plain;
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', sql), '00000', format('a plain role''s %s succeeds', what))
  FROM (VALUES
	('CREATE TABLE', $$CREATE TABLE "Plain ""sch"".ema"."t;1" (id int PRIMARY KEY, "a b" text DEFAULT 'x')$$),
	('ALTER TABLE', $$ALTER TABLE "Plain ""sch"".ema"."t;1" ADD COLUMN "c""d" numeric(5, 1) NOT NULL DEFAULT 0$$),
	('RENAME', $$ALTER TABLE "Plain ""sch"".ema"."t;1" RENAME TO "t;2"$$),
	('CREATE TABLE AS', $$CREATE TABLE "Plain ""sch"".ema".copy AS SELECT * FROM "Plain ""sch"".ema"."t;2"$$),
	('CREATE TEMP TABLE', $$CREATE TEMP TABLE plain_temp (id int)$$),
	('DROP TABLE', $$DROP TABLE "Plain ""sch"".ema".copy$$)
  ) AS t(what, sql);
SELECT has_table('Plain "sch".ema', 't;2', 'the plain role''s DDL took effect');

------------------------------------------------------------------------------
-- the document: one line of JSON with the table's shape
------------------------------------------------------------------------------
CREATE TABLE public.shape_t (
	id bigint GENERATED ALWAYS AS IDENTITY,
	"Name" varchar(20) NOT NULL DEFAULT E'line1\nline2',
	tags text[],
	twice bigint GENERATED ALWAYS AS (id * 2) STORED,
	PRIMARY KEY (id)
);
SELECT is(mosta._ddl_table_json('ALTER TABLE', 'public.shape_t'::regclass),
          '{"command":"ALTER TABLE","schema":"public","table":"shape_t","object_identity":"public.shape_t",'
          '"columns":[{"name":"id","type":"bigint","nullable":false},'
          '{"name":"Name","type":"character varying(20)","nullable":false,"default":"''line1\nline2''::character varying"},'
          '{"name":"tags","type":"text[]","nullable":true}],"key":["id"],"replica_identity":"default","types":[]}',
          'the document lists live columns in order with type, nullability and default, the key and the replica identity');
SELECT is(position(E'\n' IN mosta._ddl_table_json('ALTER TABLE', 'public.shape_t'::regclass)), 0,
          'the document is one line: newlines in defaults are escaped');
SELECT lives_ok($$SELECT mosta._ddl_table_json('ALTER TABLE', '"Plain ""sch"".ema"."t;2"'::regclass)::json$$,
                'a table with names that need quoting gives valid JSON');
SELECT is(mosta._ddl_table_json('ALTER TABLE', '"Plain ""sch"".ema"."t;2"'::regclass)::json ->> 'object_identity',
          '"Plain ""sch"".ema"."t;2"', 'object_identity is the quoted qualified name');
SELECT is(mosta._ddl_table_json('ALTER TABLE', '"Plain ""sch"".ema"."t;2"'::regclass)::json -> 'columns' -> 2 ->> 'name',
          'c"d', 'column names come through to_json intact');

-- the key: the REPLICA IDENTITY USING INDEX index, else the primary key, in the index's order (change documents')
CREATE TABLE public.key_t (a int NOT NULL, b int NOT NULL, c int);
CREATE UNIQUE INDEX key_t_ba ON public.key_t (b, a);
SELECT is(mosta._ddl_table_json('x', 'public.key_t'::regclass)::json ->> 'key', '[]', 'no primary key: no key');
ALTER TABLE public.key_t REPLICA IDENTITY USING INDEX key_t_ba;
SELECT is(mosta._ddl_table_json('x', 'public.key_t'::regclass)::json ->> 'key', '["b","a"]',
          'REPLICA IDENTITY USING INDEX: its columns, in the index''s order as in change documents');
SELECT is(mosta._ddl_table_json('x', 'public.key_t'::regclass)::json ->> 'replica_identity', 'index',
          'replica_identity says index');
ALTER TABLE public.key_t ADD PRIMARY KEY (c);
SELECT is(mosta._ddl_table_json('x', 'public.key_t'::regclass)::json ->> 'key', '["b","a"]',
          'the replica identity index wins over a primary key, as in change documents (the old row carries it)');
ALTER TABLE public.key_t REPLICA IDENTITY NOTHING;
SELECT is(mosta._ddl_table_json('x', 'public.key_t'::regclass)::json ->> 'replica_identity', 'nothing',
          'replica_identity says nothing');
SELECT is(mosta._ddl_table_json('x', 0), NULL, 'no document for a relation that does not exist');

-- "fill": the value older rows hold in a column added with a non-volatile default (attmissingval)
CREATE TABLE public.fill_t (id int PRIMARY KEY);
INSERT INTO public.fill_t VALUES (1);
ALTER TABLE public.fill_t ADD COLUMN n numeric DEFAULT 1.50, ADD COLUMN e text DEFAULT 'a' || 'b',
	ADD COLUMN iv interval DEFAULT '1 day', ADD COLUMN plain int;
SELECT is(mosta._ddl_table_json('x', 'public.fill_t'::regclass)::jsonb -> 'columns',
          '[{"name":"id","type":"integer","nullable":false},
            {"name":"n","type":"numeric","nullable":true,"default":"1.50","fill":"1.50"},
            {"name":"e","type":"text","nullable":true,"default":"(''a''::text || ''b''::text)","fill":"ab"},
            {"name":"iv","type":"interval","nullable":true,"default":"''1 day''::interval","fill":"P1D"},
            {"name":"plain","type":"integer","nullable":true}]'::jsonb,
          'a fast default is carried as "fill", typed as change documents type values; no default, no fill');
ALTER TABLE public.fill_t ALTER COLUMN plain SET DEFAULT 7;
SELECT is(mosta._ddl_table_json('x', 'public.fill_t'::regclass)::jsonb #> '{columns,4}',
          '{"name":"plain","type":"integer","nullable":true,"default":"7"}'::jsonb,
          'SET DEFAULT changes no existing row: no fill');
SELECT ok(NOT mosta._ddl_table_json('x', 'public.fill_t'::regclass)::jsonb ? 'rewritten',
          'a command that rewrote nothing: no "rewritten"');
ALTER TABLE public.fill_t ADD COLUMN r float8 DEFAULT random();
SELECT is(current_setting('mosta.rewritten_tables', true), '',
          'the rewrite record of a command is consumed by its ddl_command_end');
SELECT set_config('mosta.rewritten_tables', 'public.fill_t'::regclass::oid::text, true);
SELECT is(mosta._ddl_table_json('x', 'public.fill_t'::regclass)::jsonb -> 'rewritten', 'true'::jsonb,
          'a table rewritten by the command (recorded by mosta._ddl_table_rewrite): "rewritten"');
SELECT set_config('mosta.rewritten_tables', '', true);
CREATE TABLE public.part_t (id int, r text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE public.part_t_a PARTITION OF public.part_t FOR VALUES IN ('a');
INSERT INTO public.part_t VALUES (1, 'a');
ALTER TABLE public.part_t ADD COLUMN z int DEFAULT 7;
SELECT is(mosta._ddl_table_json('x', 'public.part_t'::regclass)::jsonb #> '{columns,2,fill}', '7'::jsonb,
          'a partitioned table: the fill its partitions hold');
SELECT is(mosta._ddl_table_json('x', 'public.part_t_a'::regclass)::jsonb -> 'partition_root',
          '{"schema":"public","table":"part_t"}'::jsonb, 'a partition names its top-most root');

-- which relations are announced
SELECT ok(mosta._ddl_user_table('public.shape_t'::regclass), 'a user table is announced');
SELECT ok(NOT mosta._ddl_user_table('plain_temp'::regclass), 'a temporary table is not');
SELECT ok(NOT mosta._ddl_user_table('mosta.activity'::regclass), 'a table of mostajs is not');
SELECT ok(NOT mosta._ddl_user_table('pg_catalog.pg_class'::regclass), 'a catalog is not');
SELECT ok(NOT mosta._ddl_user_table('mosta.replicas_masked'::regclass), 'a view is not');

SELECT * FROM finish();
ROLLBACK;
