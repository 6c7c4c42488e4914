-- 96_internal_tables.sql: the extension's own tables (schema mosta, and any
-- member of the extension) are never a collection of a rule, in any mode,
-- however they are named, through '*' or later: they hold replica URIs with
-- credentials (issue 10, item 7).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(25);

\ir support/helpers.psql

SELECT mosta_add_replica('src', 'primary', 'master', 'postgres', 'postgresql://u:pw@db1/src');
SELECT mosta_add_replica('dst', 'primary', 'master', 'postgres', 'postgresql://db2/dst');
SELECT mosta_add_replica('dst', 'lite', 'slave', 'sqlite', 'dst.db');
CREATE TABLE public.users (id int PRIMARY KEY);

-- every mode, qualified, unqualified (through search_path), mixed case and quoted
SELECT is((pg_temp.error_of(format($$SELECT mosta_add_rule('r', 'src', %L, %L, ARRAY[%L])$$,
                                   t.target, t.mode, t.name)))[1:2],
          ARRAY['42809', '"mosta.replicas" is a table of mostajs'],
          format('%s rule over %s is refused with 42809', t.mode, t.name))
  FROM (VALUES ('dst', 'snapshot', 'mosta.replicas'), ('dst', 'cdc', 'mosta.replicas'),
               ('dst', 'bidirectional', 'mosta.replicas'), ('src', 'cdc', 'MOSTA.Replicas'),
               ('dst', 'snapshot', '"mosta"."replicas"'), ('dst', 'cdc', '  mosta . replicas ')) t(target, mode, name);

SET LOCAL search_path = mosta, public;
SELECT is((pg_temp.error_of(format($$SELECT public.mosta_add_rule('r', 'src', 'dst', %L, ARRAY['replicas'])$$, m)))[1:2],
          ARRAY['42809', '"mosta.replicas" is a table of mostajs'],
          format('an unqualified name found through search_path is refused (%s)', m))
  FROM unnest(ARRAY['snapshot', 'cdc', 'bidirectional']) m;
RESET search_path;

SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['public.users', 'mosta.rules'])$$))[1:2],
          ARRAY['42809', '"mosta.rules" is a table of mostajs'], 'one internal table among user tables is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['mosta.id_map'])$$))[1:2],
          ARRAY['42809', '"mosta.id_map" is a table of mostajs'], 'the id map is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['mosta.replicas_masked'])$$))[1:2],
          ARRAY['42809', '"mosta.replicas_masked" is a table of mostajs'], 'a view of the catalog is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['mosta.replicas'])$$))[3:4],
          ARRAY['The extension''s catalog holds replica credentials and status: it is never replicated.',
                'Collections must be tables of your own schemas.'],
          'the refusal says why, with a hint');
SELECT is(count(*), 0::bigint, 'no rule was stored') FROM mosta.rules;

-- a table a user creates in schema mosta, and one moved there later
CREATE TABLE mosta.planted (id int PRIMARY KEY);
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['mosta.planted'])$$))[1],
          '42809', 'any table in schema mosta is refused');
CREATE TABLE public.moved (id int PRIMARY KEY);
SELECT lives_ok($$SELECT mosta_add_rule('r_moved', 'src', 'dst', 'cdc', ARRAY['public.moved'])$$,
                'a user table is accepted');
ALTER TABLE public.moved SET SCHEMA mosta;
SELECT is((pg_temp.error_of($$SELECT count(*) FROM mosta.snapshot_documents('mosta.moved')$$))[1:2],
          ARRAY['42809', '"moved" is a table of mostajs'],
          'a table moved into mosta after its rule was added is not copied');

-- a member of the extension moved out of mosta stays internal
ALTER TABLE mosta.activity SET SCHEMA public;
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['public.activity'])$$))[1:2],
          ARRAY['42809', '"public.activity" is a table of mostajs'], 'a member of the extension in another schema is refused');
SELECT is((pg_temp.error_of($$SELECT count(*) FROM mosta.snapshot_documents('public.activity')$$))[1],
          '42809', 'nor is it copied');
ALTER TABLE public.activity SET SCHEMA mosta;

-- '*': stored as {*}, and no list that resolves it names an internal table
SELECT lives_ok($$SELECT mosta_add_rule('r_star', 'src', 'dst', 'cdc', ARRAY['*'])$$, 'a * rule is accepted');
SELECT is((SELECT count(*) FROM mosta._validate_tables(ARRAY['*']) v
            JOIN pg_class c ON c.oid = v.relid WHERE c.relnamespace = 'mosta'::regnamespace), 0::bigint,
          'the tables * covers (mosta_validate_rule) include none of schema mosta');
SELECT ok(EXISTS (SELECT 1 FROM mosta._validate_tables(ARRAY['*']) WHERE collection = 'public.users'),
          'while they include user tables');

-- a rule row that never went through mosta_add_rule (restored by pg_dump, or older): the copy refuses
INSERT INTO mosta.rules (name, source_project, target_project, mode, collections)
VALUES ('r_restored', 'src', 'dst', 'cdc', ARRAY['mosta.replicas']);
SELECT is((pg_temp.error_of($$SELECT count(*) FROM mosta.snapshot_documents('mosta.replicas')$$))[1:2],
          ARRAY['42809', '"replicas" is a table of mostajs'], 'the initial copy of a catalog table is refused');

-- capture refuses them with the same SQLSTATE
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('mosta.replicas')$$))[1], '42809',
          'mosta_capture_table refuses a catalog table with the same SQLSTATE');
SELECT is((pg_temp.error_of($$SELECT mosta_capture_table('mosta.planted')$$))[1], '42809',
          'and any table in schema mosta');

SELECT * FROM finish();
ROLLBACK;
