-- 90_snapshot.sql: mosta.snapshot_documents(), the initial copy: one insert
-- document per row, byte for byte the plugin's format with include-types;
-- out-of-line values written in full; partitions under their leaf names, or
-- under their root with partition_root; mosta.snapshot_ddl_document, the
-- shape the copy announces before a table's rows;
-- the privilege and row-level-security checks a direct heap read must make.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(18);

\ir support/helpers.psql

CREATE TABLE public.snap (id int PRIMARY KEY, big text, ts timestamptz, n numeric);
ALTER TABLE public.snap ALTER big SET STORAGE EXTERNAL;
INSERT INTO public.snap VALUES (1, repeat('y', 5000), '2024-05-01 12:00+02', 1.50), (2, NULL, NULL, NULL);
CREATE TABLE public.snap_parted (id int, r text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE public.snap_parted_a PARTITION OF public.snap_parted FOR VALUES IN ('a');
CREATE TABLE public.snap_parted_b PARTITION OF public.snap_parted FOR VALUES IN ('b');
INSERT INTO public.snap_parted VALUES (1, 'a'), (2, 'b');
CREATE VIEW public.snap_view AS SELECT 1 AS id;
CREATE TABLE public.snap_rls (id int PRIMARY KEY);
ALTER TABLE public.snap_rls ENABLE ROW LEVEL SECURITY;
CREATE ROLE mosta_test_plain LOGIN;
CREATE ROLE mosta_test_admin LOGIN;
GRANT mosta_admin TO mosta_test_admin;
GRANT SELECT ON public.snap, public.snap_rls TO mosta_test_admin;

SELECT is((SELECT count(*) FROM mosta.snapshot_documents('public.snap')), 2::bigint, 'one document per row');
SELECT is((SELECT d FROM mosta.snapshot_documents('public.snap') d WHERE d LIKE '%"id":2,%'),
          '{"op":"insert","schema":"public","table":"snap","key":["id"],"new":{"id":2,"big":null,"ts":null,"n":null},"types":{"id":"integer","big":"text","ts":"timestamp with time zone","n":"numeric"}}',
          'a row is an insert document with its types');
SELECT is((SELECT d FROM mosta.snapshot_documents('public.snap', false) d WHERE d LIKE '%"id":2,%'),
          '{"op":"insert","schema":"public","table":"snap","key":["id"],"new":{"id":2,"big":null,"ts":null,"n":null}}',
          'include_types => false leaves the types out');
SELECT is((SELECT length(d::jsonb->'new'->>'big') FROM mosta.snapshot_documents('public.snap') d WHERE d LIKE '%"id":1,%'),
          5000, 'a value stored out of line is written in full');
SELECT ok((SELECT NOT (d::jsonb ? 'unchanged') FROM mosta.snapshot_documents('public.snap') d WHERE d LIKE '%"id":1,%'),
          'nothing is listed as unchanged in a copy');
SELECT is((SELECT d::jsonb->'new'->>'ts' FROM mosta.snapshot_documents('public.snap') d WHERE d LIKE '%"id":1,%'),
          '2024-05-01T10:00:00+00:00', 'values are encoded as in the stream (timestamptz in UTC)');
SELECT results_eq($$SELECT d::jsonb->>'table' FROM mosta.snapshot_documents('public.snap_parted') d ORDER BY 1$$,
                  ARRAY['snap_parted_a', 'snap_parted_b'], 'a partitioned table yields its leaves'' rows under the leaf names');
SELECT results_eq($$SELECT d FROM mosta.snapshot_documents('public.snap_parted', true, true) d ORDER BY 1$$,
                  ARRAY['{"op":"insert","schema":"public","table":"snap_parted","key":["id","r"],"new":{"id":1,"r":"a"},"types":{"id":"integer","r":"text"}}',
                        '{"op":"insert","schema":"public","table":"snap_parted","key":["id","r"],"new":{"id":2,"r":"b"},"types":{"id":"integer","r":"text"}}'],
                  'partition_root => true: the leaves'' rows under the root''s name (the plugin''s partition-root)');
SELECT is(mosta.snapshot_ddl_document('public.snap'),
          '{"op":"message","transactional":true,"prefix":"mostajs.ddl","content":'
          || mosta._ddl_table_json('CREATE TABLE', 'public.snap'::regclass) || '}',
          'snapshot_ddl_document: the mostajs.ddl message of the event trigger''s CREATE TABLE document');
SELECT is(mosta.snapshot_ddl_document('public.snap')::jsonb #>> '{content,columns,3,name}', 'n',
          'it lists the table''s columns');
SELECT throws_ok($$SELECT mosta.snapshot_ddl_document('public.snap_view')$$, '42809',
                 '"public.snap_view" is not a user table', 'snapshot_ddl_document refuses a view');
SELECT throws_ok($$SELECT mosta.snapshot_ddl_document(NULL)$$, '22004', 'argument "tbl" must not be null',
                 'snapshot_ddl_document refuses NULL');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta.snapshot_ddl_document('public.snap')$$), '42501',
          'a role outside mosta_admin and mosta_sidecar may not call snapshot_ddl_document');
SELECT throws_ok($$SELECT mosta.snapshot_documents('public.snap_view')$$, '42809', '"snap_view" is not a table',
                 'a view is refused');
SELECT throws_ok($$SELECT mosta.snapshot_documents(NULL)$$, '22004', 'argument "tbl" must not be null',
                 'NULL is refused');
SELECT is(pg_temp.sqlstate_as('mosta_test_plain', $$SELECT mosta.snapshot_documents('public.snap')$$), '42501',
          'a role outside mosta_admin may not call it');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', $$SELECT count(*) FROM mosta.snapshot_documents('public.snap_rls')$$),
          '42501', 'row-level security in force for the caller is refused, not silently applied');
REVOKE SELECT ON public.snap FROM mosta_test_admin;
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', $$SELECT count(*) FROM mosta.snapshot_documents('public.snap')$$),
          '42501', 'the caller needs SELECT on the table: the heap is read directly');

SELECT * FROM finish();
ROLLBACK;
