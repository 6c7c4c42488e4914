-- 70_capture.sql: trigger capture. mosta_capture_table / mosta_uncapture_table
-- / mosta_capture_status, every rejection by SQLSTATE, the documents written
-- to mosta.change_log for each kind of change (with a TOAST column, which the
-- trigger writes whole), privileges, and the snapshot-window logic of
-- mosta_change_log_read and mosta_change_log_purge.
--
-- Everything here runs in one transaction, so every row written has the same
-- xid; the window logic is checked on rows with chosen xids and snapshots
-- (mosta._change_log_window), and with two real concurrent sessions in
-- test/integration/change_log_order.sh.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(132);
SET LOCAL client_min_messages = warning;

\ir support/helpers.psql

CREATE ROLE mosta_test_plain LOGIN;
CREATE ROLE mosta_test_admin LOGIN;
GRANT mosta_admin TO mosta_test_admin;


-- changes_of returns the documents logged for a table, in seq order.
CREATE FUNCTION pg_temp.changes_of(tbl regclass) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(change::text ORDER BY seq), '{}') FROM mosta.change_log WHERE relid = tbl
$$;

-- toasted_values returns how many chunks the TOAST table of tbl holds.
CREATE FUNCTION pg_temp.toasted_values(tbl regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	chunks bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', (SELECT reltoastrelid::regclass FROM pg_class WHERE oid = tbl))
	   INTO chunks;
	RETURN chunks;
END
$$;

-- capture_triggers lists the capture triggers on tbl as name:event-mask.
CREATE FUNCTION pg_temp.capture_triggers(tbl regclass) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(t.tgname || ':' || t.tgtype ORDER BY t.tgname), '{}') FROM pg_trigger t
	 WHERE t.tgrelid = tbl AND t.tgfoid = 'mosta.capture_trigger()'::regprocedure
$$;

------------------------------------------------------------------------------
-- objects
------------------------------------------------------------------------------
SELECT has_table('mosta', 'change_log', 'table mosta.change_log exists');
SELECT columns_are('mosta', 'change_log', ARRAY['seq', 'xid', 'captured_at', 'relid', 'change'],
                   'mosta.change_log has seq, xid, captured_at, relid and change');
SELECT col_type_is('mosta', 'change_log', c, t, format('change_log.%s is %s', c, t))
  FROM (VALUES ('seq', 'bigint'), ('xid', 'xid8'), ('captured_at', 'timestamp with time zone'),
               ('relid', 'oid'), ('change', 'json')) AS v(c, t);
SELECT col_is_pk('mosta', 'change_log', 'seq', 'mosta.change_log is keyed by seq');
SELECT col_default_is('mosta', 'change_log', 'xid', 'pg_current_xact_id()',
                      'change_log.xid defaults to the writing transaction''s id');
SELECT has_index('mosta', 'change_log', 'change_log_xid', 'xid', 'change_log has an index on xid for reads');
SELECT is((SELECT seqcache FROM pg_sequence WHERE seqrelid = 'mosta.change_log_seq'::regclass), 1::bigint,
          'the seq sequence hands values out one at a time (CACHE 1): seq order is the order of the writes');

CREATE TEMP TABLE api (fn name, args name[], returns text);
INSERT INTO api VALUES
	('mosta_capture_table', '{regclass}', 'void'),
	('mosta_uncapture_table', '{regclass,boolean}', 'boolean'),
	('mosta_capture_status', '{}', 'setof record'),
	('mosta_change_log_read', '{pg_snapshot,bigint,integer}', 'setof record'),
	('mosta_change_log_purge', '{pg_snapshot,bigint}', 'bigint');
SELECT function_returns('public', fn, args, returns, format('%s(%s) returns %s', fn, array_to_string(args, ', '),
                        returns))
  FROM api ORDER BY fn;
SELECT is_definer('public', fn, args, format('%s is SECURITY DEFINER', fn)) FROM api ORDER BY fn;
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = format('%s(%s)', fn, array_to_string(args, ','))::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], format('%s pins search_path', fn))
  FROM api ORDER BY fn;

------------------------------------------------------------------------------
-- rejections
------------------------------------------------------------------------------
CREATE TABLE public.nokey (a int);
CREATE TABLE public.nothing_t (id int PRIMARY KEY);
ALTER TABLE public.nothing_t REPLICA IDENTITY NOTHING;
CREATE UNLOGGED TABLE public.unlogged_t (id int PRIMARY KEY);
CREATE TEMP TABLE temp_t (id int PRIMARY KEY);
CREATE VIEW public.view_t AS SELECT 1 AS id;
CREATE SEQUENCE public.seq_t;

SELECT throws_ok($$SELECT mosta_capture_table(NULL)$$, '22004', 'argument "tbl" must not be null',
                 'a NULL table is 22004');
SELECT throws_ok($$SELECT mosta_capture_table('public.view_t')$$, '42809', '"public.view_t" is not a table',
                 'a view is 42809');
SELECT throws_ok($$SELECT mosta_capture_table('public.seq_t')$$, '42809', '"public.seq_t" is not a table',
                 'a sequence is 42809');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('temp_t')$$))[1:2],
          ARRAY['42809', format('"%s.temp_t" is a temporary table', pg_my_temp_schema()::regnamespace)],
          'a temporary table is 42809');
SELECT is(pg_temp.error_of($$SELECT mosta_capture_table('public.nokey')$$),
          pg_temp.error_of($$SELECT mosta.resolve_collection('public.nokey')$$),
          'a table without a key: the same error, detail and hint as mosta.resolve_collection');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('public.nokey')$$))[1:2],
          ARRAY['55000', 'table "public.nokey" has neither a primary key nor REPLICA IDENTITY FULL'],
          'a table without a key is 55000');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('public.nothing_t')$$))[1], '55000',
          'a table with REPLICA IDENTITY NOTHING is 55000');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('public.unlogged_t')$$))[1], '55000',
          'an unlogged table is 55000');
SELECT throws_ok($$SELECT mosta_capture_table('mosta.rules')$$, '42809', '"mosta.rules" is a table of mostajs',
                 'a table of mostajs is 42809');
SELECT throws_ok($$SELECT mosta_capture_table('pg_catalog.pg_class')$$, '42809', '"pg_catalog.pg_class" is a system table',
                 'a catalog is 42809');
SELECT throws_ok($$SELECT mosta_capture_table('public.missing')$$, '42P01', NULL,
                 'a table that does not exist is 42P01 (from regclass)');
SELECT is(pg_temp.capture_triggers(t), '{}', format('no trigger was left on %s', t))
  FROM unnest(ARRAY['public.nokey', 'public.nothing_t', 'public.unlogged_t', 'temp_t']::regclass[]) t;

------------------------------------------------------------------------------
-- capture, idempotence, status
------------------------------------------------------------------------------
CREATE TABLE public.cap_docs (id int PRIMARY KEY, title text, body text, n numeric);
ALTER TABLE public.cap_docs ALTER COLUMN body SET STORAGE EXTERNAL;  -- out of line, uncompressed
CREATE TABLE public.cap_other (k text PRIMARY KEY);

SELECT lives_ok($$SELECT mosta_capture_table('public.cap_docs')$$, 'mosta_capture_table captures a table');
-- tgtype: 1 row + 4 insert + 8 delete + 16 update = 29; 32 truncate (statement)
SELECT is(pg_temp.capture_triggers('public.cap_docs'), ARRAY['mosta_capture:29', 'mosta_capture_truncate:32'],
          'it installs an AFTER row trigger for INSERT, UPDATE, DELETE and an AFTER TRUNCATE statement trigger');
SELECT lives_ok($$SELECT mosta_capture_table('public.cap_docs')$$, 'capturing it again is no error');
SELECT is(pg_temp.capture_triggers('public.cap_docs'), ARRAY['mosta_capture:29', 'mosta_capture_truncate:32'],
          'capturing again is a no-op: still one trigger of each');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'capture_table' AND object = 'public.cap_docs'),
          1::bigint, 'the capture is logged once in mosta.activity');
SELECT mosta_capture_table('cap_other');
SELECT results_eq(
	$$SELECT "table"::text, schema, table_name, captured_since = now(), pending_changes, oldest_pending
	    FROM mosta_capture_status()$$,
	$$VALUES ('cap_docs', 'public', 'cap_docs', true, 0::bigint, NULL::timestamptz),
	         ('cap_other', 'public', 'cap_other', true, 0::bigint, NULL::timestamptz)$$,
	'mosta_capture_status lists the captured tables, with nothing pending yet');

------------------------------------------------------------------------------
-- the documents
------------------------------------------------------------------------------
INSERT INTO public.cap_docs VALUES (1, 'a', repeat('x', 3000), 1.5);
SELECT cmp_ok(pg_temp.toasted_values('public.cap_docs'), '>', 0::bigint, 'body is stored out of line, in TOAST');
UPDATE public.cap_docs SET title = 'b' WHERE id = 1;           -- body unchanged: a TOAST pointer in the trigger
UPDATE public.cap_docs SET id = 2, n = NULL WHERE id = 1;       -- a key change
DELETE FROM public.cap_docs WHERE id = 2;
INSERT INTO public.cap_docs VALUES (3, E'quote " backslash \\ newline \n', NULL, 'NaN');
TRUNCATE public.cap_docs;

SELECT is((pg_temp.changes_of('public.cap_docs'))[1],
          format('{"op":"insert","schema":"public","table":"cap_docs","key":["id"],'
                 '"new":{"id":1,"title":"a","body":"%s","n":"1.5"}}', repeat('x', 3000)),
          'insert: the whole new row, the toasted value included');
SELECT is((pg_temp.changes_of('public.cap_docs'))[2],
          format('{"op":"update","schema":"public","table":"cap_docs","key":["id"],'
                 '"new":{"id":1,"title":"b","body":"%s","n":"1.5"},"old":{"id":1}}', repeat('x', 3000)),
          'update: the unchanged toasted value is written whole, not listed as "unchanged"; old has the key');
SELECT is((pg_temp.changes_of('public.cap_docs'))[3],
          format('{"op":"update","schema":"public","table":"cap_docs","key":["id"],'
                 '"new":{"id":2,"title":"b","body":"%s","n":null},"old":{"id":1}}', repeat('x', 3000)),
          'update of the key: old carries the OLD row''s key');
SELECT is((pg_temp.changes_of('public.cap_docs'))[4],
          '{"op":"delete","schema":"public","table":"cap_docs","key":["id"],"old":{"id":2}}',
          'delete: old has the key columns only, as the replica identity logs them');
SELECT is((pg_temp.changes_of('public.cap_docs'))[5],
          '{"op":"insert","schema":"public","table":"cap_docs","key":["id"],'
          '"new":{"id":3,"title":"quote \" backslash \\ newline \n","body":null,"n":"NaN"}}',
          'insert: text escaped as JSON, NULL as null');
SELECT is((pg_temp.changes_of('public.cap_docs'))[6],
          '{"op":"truncate","tables":[{"schema":"public","table":"cap_docs"}],"cascade":false,"restart_identity":false}',
          'truncate: one document naming the table (CASCADE and RESTART IDENTITY are not known to a trigger)');
SELECT is(array_length(pg_temp.changes_of('public.cap_docs'), 1), 6, 'one document per change, no more');
SELECT ok((SELECT bool_and(change::jsonb IS NOT NULL) FROM mosta.change_log), 'every document is valid JSON');
SELECT ok((SELECT bool_and(position(E'\n' IN change::text) = 0) FROM mosta.change_log),
          'every document is one line');
SELECT ok((SELECT bool_and(xid = pg_current_xact_id() AND relid = 'public.cap_docs'::regclass
                           AND captured_at >= now()) FROM mosta.change_log),
          'each row has the writing transaction''s xid, the table''s OID and the capture time');
SELECT is((SELECT array_agg(seq ORDER BY seq) = array_agg(seq ORDER BY captured_at, seq) FROM mosta.change_log),
          true, 'seq follows the order of the changes');

SELECT is((SELECT pending_changes FROM mosta_capture_status() WHERE "table" = 'public.cap_docs'::regclass),
          6::bigint, 'mosta_capture_status counts the changes still in the log');
SELECT is((SELECT oldest_pending FROM mosta_capture_status() WHERE "table" = 'public.cap_docs'::regclass),
          (SELECT min(captured_at) FROM mosta.change_log), 'and the time of the oldest');

-- REPLICA IDENTITY FULL without a key: old is the whole old row, toasted values fetched
CREATE TABLE public.cap_full (a int, doc text);
ALTER TABLE public.cap_full ALTER COLUMN doc SET STORAGE EXTERNAL;
ALTER TABLE public.cap_full REPLICA IDENTITY FULL;
SELECT mosta_capture_table('public.cap_full');
INSERT INTO public.cap_full VALUES (1, repeat('y', 3000));
UPDATE public.cap_full SET a = 2;
DELETE FROM public.cap_full;
SELECT is(pg_temp.changes_of('public.cap_full'),
          ARRAY[format('{"op":"insert","schema":"public","table":"cap_full","new":{"a":1,"doc":"%s"}}', repeat('y', 3000)),
                format('{"op":"update","schema":"public","table":"cap_full","new":{"a":2,"doc":"%1$s"},'
                       '"old":{"a":1,"doc":"%1$s"}}', repeat('y', 3000)),
                format('{"op":"delete","schema":"public","table":"cap_full","old":{"a":2,"doc":"%s"}}',
                       repeat('y', 3000))],
          'REPLICA IDENTITY FULL: no key; old is the whole old row, its toasted value fetched');

-- a key from a REPLICA IDENTITY USING INDEX index: a large key value is fetched; other large values are not written
CREATE TABLE public.cap_ident (code text NOT NULL, other text);
ALTER TABLE public.cap_ident ALTER COLUMN code SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX cap_ident_code ON public.cap_ident (md5(code));  -- an expression index cannot be the identity
CREATE UNIQUE INDEX cap_ident_plain ON public.cap_ident (code) WITH (deduplicate_items = off);
ALTER TABLE public.cap_ident REPLICA IDENTITY USING INDEX cap_ident_plain;
SELECT mosta_capture_table('public.cap_ident');
INSERT INTO public.cap_ident VALUES ('k', 'v');
UPDATE public.cap_ident SET other = 'w';
DELETE FROM public.cap_ident;
SELECT is(pg_temp.changes_of('public.cap_ident'),
          ARRAY['{"op":"insert","schema":"public","table":"cap_ident","key":["code"],"new":{"code":"k","other":"v"}}',
                '{"op":"update","schema":"public","table":"cap_ident","key":["code"],"new":{"code":"k","other":"w"},'
                '"old":{"code":"k"}}',
                '{"op":"delete","schema":"public","table":"cap_ident","key":["code"],"old":{"code":"k"}}'],
          'REPLICA IDENTITY USING INDEX: its columns are the key and the old row');

-- TRUNCATE of two captured tables: a document each
INSERT INTO public.cap_other VALUES ('a');
TRUNCATE public.cap_docs, public.cap_other;
SELECT is((pg_temp.changes_of('public.cap_other'))[2],
          '{"op":"truncate","tables":[{"schema":"public","table":"cap_other"}],"cascade":false,"restart_identity":false}',
          'a TRUNCATE of several captured tables writes a document for each');

------------------------------------------------------------------------------
-- the trigger refuses to be misused
------------------------------------------------------------------------------
CREATE TABLE public.misuse (id int PRIMARY KEY);
CREATE TRIGGER before_row BEFORE INSERT ON public.misuse FOR EACH ROW EXECUTE FUNCTION mosta.capture_trigger();
SELECT throws_ok($$INSERT INTO public.misuse VALUES (1)$$, '39P01',
                 'mosta.capture_trigger: must be called after the change', 'a BEFORE trigger is refused (39P01)');
DROP TRIGGER before_row ON public.misuse;
CREATE TRIGGER per_statement AFTER INSERT ON public.misuse FOR EACH STATEMENT
	EXECUTE FUNCTION mosta.capture_trigger();
SELECT throws_ok($$INSERT INTO public.misuse VALUES (1)$$, '39P01',
                 'mosta.capture_trigger: must be called for each row, or for TRUNCATE',
                 'a statement trigger for INSERT is refused (39P01)');
DROP TRIGGER per_statement ON public.misuse;
SELECT throws_ok($$SELECT mosta.capture_trigger()$$, '39P01', 'mosta.capture_trigger: must be called as trigger',
                 'calling the trigger function directly is refused (39P01)');

------------------------------------------------------------------------------
-- privileges
------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO mosta_test_plain;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.cap_other TO mosta_test_plain;
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', sql), '42501', format('a plain role is refused %s', what))
  FROM (VALUES
	('mosta_capture_table', $$SELECT mosta_capture_table('public.misuse')$$),
	('mosta_uncapture_table', $$SELECT mosta_uncapture_table('public.cap_other')$$),
	('mosta_capture_status', $$SELECT * FROM mosta_capture_status()$$),
	('mosta_change_log_read', $$SELECT * FROM mosta_change_log_read(NULL, NULL)$$),
	('mosta_change_log_purge', $$SELECT mosta_change_log_purge(pg_current_snapshot(), 0)$$),
	('SELECT on mosta.change_log', $$SELECT * FROM mosta.change_log$$),
	('INSERT into mosta.change_log', $$INSERT INTO mosta.change_log (relid, change) VALUES (0, '{}')$$),
	('mosta.capture_trigger in its own trigger',
	 $$CREATE TRIGGER forged AFTER INSERT ON public.cap_other FOR EACH ROW EXECUTE FUNCTION mosta.capture_trigger()$$)
  ) AS t(what, sql);
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$INSERT INTO public.cap_other VALUES ('plain')$$), '00000',
          'a plain role''s change to a captured table needs no privilege on the log');
SELECT is((pg_temp.changes_of('public.cap_other'))[3],
          '{"op":"insert","schema":"public","table":"cap_other","key":["k"],"new":{"k":"plain"}}',
          'and is captured');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', sql), '00000', format('a member of mosta_admin may call %s', what))
  FROM (VALUES
	('mosta_capture_table', $$SELECT mosta_capture_table('public.misuse')$$),
	('mosta_capture_status', $$SELECT * FROM mosta_capture_status()$$),
	('mosta_uncapture_table', $$SELECT mosta_uncapture_table('public.misuse')$$),
	('SELECT on mosta.change_log', $$SELECT * FROM mosta.change_log$$)
  ) AS t(what, sql);

------------------------------------------------------------------------------
-- when the log is not the table the extension made, the SPI path honours it
------------------------------------------------------------------------------
ALTER TABLE mosta.change_log ADD CONSTRAINT small_changes CHECK (length(change::text) < 200) NOT VALID;
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$INSERT INTO public.cap_other VALUES ('through SPI')$$),
          '00000', 'with a CHECK on the log, a plain role''s change is still captured (through SPI, as owner)');
SELECT is((SELECT change::text FROM mosta.change_log ORDER BY seq DESC LIMIT 1),
          '{"op":"insert","schema":"public","table":"cap_other","key":["k"],"new":{"k":"through SPI"}}',
          'the SPI path writes the same document');
SELECT ok((SELECT xid = pg_current_xact_id() AND relid = 'public.cap_other'::regclass
                  AND seq = (SELECT max(seq) FROM mosta.change_log) FROM mosta.change_log ORDER BY seq DESC LIMIT 1),
          'and the same row');
SELECT throws_ok(format($$INSERT INTO public.cap_other VALUES (%L)$$, repeat('z', 300)), '23514', NULL,
                 'the SPI path applies the log''s CHECK');
ALTER TABLE mosta.change_log DROP CONSTRAINT small_changes;

------------------------------------------------------------------------------
-- partitioned tables
------------------------------------------------------------------------------
CREATE TABLE public.cap_part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE public.cap_part_1 PARTITION OF public.cap_part FOR VALUES FROM (0) TO (10);
CREATE TABLE public.cap_part_2 PARTITION OF public.cap_part FOR VALUES FROM (10) TO (20);
SELECT mosta_capture_table('public.cap_part_1');
SELECT throws_ok($$SELECT mosta_capture_table('public.cap_part')$$, '55000',
                 'partition public.cap_part_1 of table public.cap_part is captured on its own',
                 'a partitioned table with a partition captured on its own is 55000');
SELECT mosta_uncapture_table('public.cap_part_1');
SELECT lives_ok($$SELECT mosta_capture_table('public.cap_part')$$, 'a partitioned table can be captured');
SELECT is(pg_temp.capture_triggers('public.cap_part_2'), ARRAY['mosta_capture:29'],
          'its partitions get the row trigger');
SELECT lives_ok($$SELECT mosta_capture_table('public.cap_part_2')$$,
                'capturing a partition of a captured table is a no-op');
SELECT throws_ok($$SELECT mosta_uncapture_table('public.cap_part_2')$$, '55000',
                 'table public.cap_part_2 is captured through its partitioned table',
                 'a partition cannot be uncaptured alone (55000)');
INSERT INTO public.cap_part VALUES (1, 'a'), (15, 'b');
SELECT is(pg_temp.changes_of('public.cap_part_2'),
          ARRAY['{"op":"insert","schema":"public","table":"cap_part_2","key":["id"],"new":{"id":15,"v":"b"}}'],
          'changes are written under the partition''s name, as the output plugin does by default');
SELECT is((SELECT pending_changes FROM mosta_capture_status() WHERE "table" = 'public.cap_part'::regclass), 2::bigint,
          'mosta_capture_status counts a partitioned table''s changes with its partitions''');
SELECT ok(NOT EXISTS (SELECT FROM mosta_capture_status() WHERE "table" = 'public.cap_part_2'::regclass),
          'partitions are not listed on their own');

------------------------------------------------------------------------------
-- names that need quoting
------------------------------------------------------------------------------
CREATE SCHEMA "Odd ""sch"".ema";
CREATE TABLE "Odd ""sch"".ema"."t;1" ("i d" int PRIMARY KEY);
SELECT lives_ok($$SELECT mosta_capture_table('"Odd ""sch"".ema"."t;1"')$$,
                'a table whose schema and name need quoting is captured');
INSERT INTO "Odd ""sch"".ema"."t;1" VALUES (1);
SELECT is(pg_temp.changes_of('"Odd ""sch"".ema"."t;1"'),
          ARRAY['{"op":"insert","schema":"Odd \"sch\".ema","table":"t;1","key":["i d"],"new":{"i d":1}}'],
          'its documents carry the names as they are');
SELECT is(mosta_uncapture_table('"Odd ""sch"".ema"."t;1"'), true, 'and it is uncaptured');

------------------------------------------------------------------------------
-- uncapture
------------------------------------------------------------------------------
SELECT is(mosta_uncapture_table('public.cap_other'), true, 'mosta_uncapture_table returns true');
SELECT is(pg_temp.capture_triggers('public.cap_other'), '{}', 'it drops both triggers');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'uncapture_table' AND object = 'public.cap_other'),
          1::bigint, 'the uncapture is logged in mosta.activity');
INSERT INTO public.cap_other VALUES ('after');
SELECT is(array_length(pg_temp.changes_of('public.cap_other'), 1), 4,
          'later changes are not captured; the logged ones stay');
SELECT throws_ok($$SELECT mosta_uncapture_table('public.cap_other')$$, '42704',
                 'table public.cap_other is not captured', 'uncapturing a table that is not captured is 42704');
SELECT is(mosta_uncapture_table('public.cap_other', if_exists => true), false,
          'with if_exists it returns false instead');
SELECT throws_ok($$SELECT mosta_uncapture_table(NULL)$$, '22004', 'argument "tbl" must not be null',
                 'a NULL table is 22004');
DROP TABLE public.cap_full;
SELECT ok(NOT EXISTS (SELECT FROM mosta_capture_status() WHERE table_name = 'cap_full'),
          'a dropped table is no longer listed');

------------------------------------------------------------------------------
-- reading: the snapshot window (mosta._change_log_window) on chosen xids
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM mosta_change_log_read(NULL, NULL)$$, '55000',
                 'cannot read the change log in a transaction that wrote to it',
                 'reading in a transaction that wrote captured changes is 55000 (its position could lose them)');

-- Rows, in seq order, of transactions 100..103. Snapshot S1 sees 101 and 102
-- committed while 100 is in flight and 103 has not started; S2 also sees
-- 100, with 103 in flight; S3 sees everything.
DELETE FROM mosta.change_log;
INSERT INTO mosta.change_log (seq, xid, relid, change) VALUES
	(1, '100', 0, '{"n":1}'), (2, '101', 0, '{"n":2}'), (3, '100', 0, '{"n":3}'),
	(4, '102', 0, '{"n":4}'), (5, '103', 0, '{"n":5}'), (6, '103', 0, '{"n":6}');
CREATE TEMP TABLE snaps (name text PRIMARY KEY, snap pg_snapshot);
INSERT INTO snaps VALUES ('S1', '100:103:100'), ('S2', '103:104:103'), ('S3', '104:104:');
-- window returns "seq,..;next_seq" for a read from (after, after_seq) in snapshot current
CREATE FUNCTION pg_temp.window(after text, after_seq bigint, current text, max_rows integer) RETURNS text
	LANGUAGE sql AS $$
	SELECT coalesce(string_agg(w.seq::text, ',' ORDER BY w.seq), '') || ';'
	       || coalesce(max(w.next_seq)::text, '-')
	       || coalesce(';' || min(w.next_snapshot::text), '')
	  FROM mosta._change_log_window((SELECT snap FROM snaps WHERE name = after), after_seq,
	                                (SELECT snap FROM snaps WHERE name = current), max_rows) w
$$;
SELECT is(pg_temp.window(NULL, 0, 'S1', NULL), '2,4;4;100:103:100',
          'from the start: the committed rows, in seq order, skipping the in-flight transaction''s');
SELECT is(pg_temp.window('S1', 4, 'S2', NULL), '1,3;4;103:104:103',
          'next: the rows of the transaction that was in flight, although their seq is lower (not skipped)');
SELECT is(pg_temp.window('S2', 4, 'S3', NULL), '5,6;6;104:104:', 'then the rows committed since');
SELECT is(pg_temp.window('S3', 6, 'S3', NULL), ';-', 'then nothing: the position stays');
SELECT is(pg_temp.window(NULL, 0, 'S1', 1), '2;2;100:103:100', 'max_rows cuts the batch: position (S1, 2)');
SELECT is(pg_temp.window('S1', 2, 'S1', 1), '4;4;100:103:100', 'the next read of the same window goes on after seq 2');
SELECT is(pg_temp.window('S1', 4, 'S3', 1), '1,3,5;5;104:104:',
          'late rows come whole, whatever max_rows, then max_rows of the rest');
SELECT is(pg_temp.window('S3', 5, 'S3', 1), '6;6;104:104:', 'and the rest after');
SELECT is(pg_temp.window('S1', 2, 'S3', 2), '1,3,4;4;104:104:',
          'a cut batch read in a newer snapshot: the late row, then max_rows of the rest, in seq order');

-- every schedule of reads delivers each row exactly once
CREATE FUNCTION pg_temp.read_all(schedule text[], max_rows integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	position_snapshot pg_snapshot;
	position_seq bigint := 0;
	delivered text := '';
	current_name text;
	batch record;
	got int;
BEGIN
	FOREACH current_name IN ARRAY schedule LOOP
		LOOP
			got := 0;
			FOR batch IN SELECT * FROM mosta._change_log_window(position_snapshot, position_seq,
			                 (SELECT snap FROM snaps WHERE name = current_name), max_rows) LOOP
				delivered := delivered || batch.seq || ' ';
				position_snapshot := batch.next_snapshot;
				position_seq := batch.next_seq;
				got := got + 1;
			END LOOP;
			EXIT WHEN got = 0;
		END LOOP;
	END LOOP;
	RETURN delivered;
END
$$;
SELECT is(pg_temp.read_all(ARRAY['S1', 'S2', 'S3'], m), r, format('reading S1, S2, S3 with max_rows %s: %s', m, r))
  FROM (VALUES (1, '2 4 1 3 5 6 '), (2, '2 4 1 3 5 6 '), (100, '2 4 1 3 5 6 ')) AS t(m, r);
SELECT is(pg_temp.read_all(ARRAY['S1', 'S3'], 1), '2 4 1 3 5 6 ', 'skipping S2 changes nothing');

-- purge deletes what a position has consumed, nothing else
SELECT is(mosta_change_log_purge('100:103:100', 2), 1::bigint, 'purge (S1, 2) deletes seq 2 only');
SELECT is(mosta_change_log_purge('104:104:', 4), 3::bigint, 'purge (S3, 4) deletes seq 1, 3 and 4');
SELECT is((SELECT array_agg(seq ORDER BY seq) FROM mosta.change_log), ARRAY[5, 6]::bigint[], 'seq 5 and 6 remain');
SELECT throws_ok($$SELECT mosta_change_log_purge(NULL, 1)$$, '22004', 'argument "upto" must not be null',
                 'purge: a NULL snapshot is 22004');
SELECT throws_ok($$SELECT mosta_change_log_purge('104:104:', NULL)$$, '22004', 'argument "upto_seq" must not be null',
                 'purge: a NULL seq is 22004');
SELECT throws_ok(format($$SELECT mosta_change_log_purge('%s:%s:', 1)$$,
                        pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000,
                        pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000), '22023', NULL,
                 'purge: a snapshot from the future is 22023');

------------------------------------------------------------------------------
-- mosta_change_log_read itself
------------------------------------------------------------------------------
DELETE FROM mosta.change_log;
-- xids 3 and 4 are older than any snapshot's xmin: committed
INSERT INTO mosta.change_log (seq, xid, relid, change) VALUES (10, '3', 0, '{"a":1}'), (11, '4', 0, '{"a":2}');
INSERT INTO mosta.change_log (seq, xid, relid, change)
	VALUES (12, (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 10)::text::xid8, 0, '{"future":1}');
SELECT results_eq($$SELECT seq, change::text, next_seq FROM mosta_change_log_read(NULL, NULL)$$,
                  $$VALUES (10::bigint, '{"a":1}', 11::bigint), (11, '{"a":2}', 11)$$,
                  'from the start (NULL): the committed rows in seq order, with the next position');
SELECT ok((SELECT bool_and(next_snapshot::text = pg_current_snapshot()::text) FROM mosta_change_log_read(NULL, NULL)),
          'next_snapshot is the snapshot of the read');
SELECT results_eq($$SELECT seq FROM mosta_change_log_read(NULL, NULL, 1)$$, $$VALUES (10::bigint)$$,
                  'max_rows limits the batch');
SELECT is((SELECT count(*) FROM mosta_change_log_read(pg_current_snapshot(), 11)), 0::bigint,
          'from the current position: nothing');
SELECT throws_ok($$SELECT * FROM mosta_change_log_read(NULL, NULL, 0)$$, '22023', 'max_rows must be at least 1',
                 'max_rows 0 is 22023');
SELECT throws_ok($$SELECT * FROM mosta_change_log_read(NULL, 2)$$, '22023', 'after_seq 2 without a snapshot',
                 'a seq without its snapshot is 22023');
SELECT throws_ok($$SELECT * FROM mosta_change_log_read(pg_current_snapshot(), NULL)$$, '22004',
                 'argument "after_seq" must not be null', 'a snapshot without its seq is 22004');
SELECT throws_ok(format($$SELECT * FROM mosta_change_log_read('%s:%s:', 0)$$,
                        pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000,
                        pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000), '22023', NULL,
                 'a snapshot from the future is 22023');

SELECT * FROM finish();
ROLLBACK;
