-- 20_rules.sql: mosta_add_rule (canonical collections, every rejection),
-- mosta_enable_rule / mosta_disable_rule, mosta_remove_rule and mosta_rules().
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(90);

\ir support/helpers.psql

-- collections_of returns the stored collections of a rule.
CREATE FUNCTION pg_temp.collections_of(rule text) RETURNS text[] LANGUAGE sql AS $$
	SELECT collections FROM mosta.rules WHERE name = rule
$$;

-- last_activity returns the newest activity row as (action, project, object).
CREATE FUNCTION pg_temp.last_activity() RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', action, project, object) FROM mosta.activity ORDER BY id DESC LIMIT 1
$$;

SELECT mosta_add_replica('src', 'primary', 'master', 'postgres', 'postgresql://db1/src');
SELECT mosta_add_replica('dst', 'primary', 'master', 'postgres', 'postgresql://db2/dst');
SELECT mosta_add_replica('dst', 'lite', 'slave', 'sqlite', 'dst.db');
CREATE SCHEMA other;
CREATE TABLE public.users (id int PRIMARY KEY);
CREATE TABLE other.t (id int PRIMARY KEY);
CREATE TABLE other.only_here (id int PRIMARY KEY);
CREATE TABLE public."Mixed Case" (id int PRIMARY KEY);
CREATE TABLE public.nokey (id int);
CREATE TABLE public.full_ident (id int);
ALTER TABLE public.full_ident REPLICA IDENTITY FULL;
CREATE TABLE public.by_index (id int NOT NULL);
CREATE UNIQUE INDEX by_index_id ON public.by_index (id);
ALTER TABLE public.by_index REPLICA IDENTITY USING INDEX by_index_id;
CREATE TABLE public.nothing (id int PRIMARY KEY);
ALTER TABLE public.nothing REPLICA IDENTITY NOTHING;
CREATE TABLE public.parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE VIEW public.users_v AS SELECT * FROM public.users;
CREATE SEQUENCE public.seq;
CREATE TEMP TABLE temp_t (id int PRIMARY KEY);
CREATE UNLOGGED TABLE public.unlogged_t (id int PRIMARY KEY);

------------------------------------------------------------------------------
-- happy paths: canonical collections and defaults
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT mosta_add_rule('r1', 'src', 'dst', 'cdc', ARRAY['users'])$$, 'a cdc rule is added');
SELECT is(pg_temp.collections_of('r1'), ARRAY['public.users'], 'ARRAY[''users''] is stored as {public.users}');
SELECT row_eq($$SELECT source_project::text, target_project::text, mode, conflict_resolution, enabled
                 FROM mosta.rules WHERE name = 'r1'$$,
              ROW('src'::text, 'dst'::text, 'cdc'::text, 'source-wins'::text, true),
              'source, target and mode are stored; conflict_resolution defaults to source-wins, enabled to true');
SELECT row_eq($$SELECT action, project, object, detail->'collections', detail->>'target'
                 FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('add_rule'::text, 'src'::text, 'r1'::text, '["public.users"]'::jsonb, 'dst'::text),
              'the new rule is logged with its canonical collections');
SELECT lives_ok($$SELECT mosta_add_rule('r2', 'src', 'dst', 'snapshot',
                                         ARRAY['users', 'public.users', 'PUBLIC.USERS', 'other.t', '"Mixed Case"'],
                                         'last-write-wins', false)$$,
                'a rule with several spellings of one table is added');
SELECT is(pg_temp.collections_of('r2'), ARRAY['public.users', 'other.t', 'public."Mixed Case"'],
          'duplicates collapse, other.t stays other.t, quoted names stay quoted, order is kept');
SELECT row_eq($$SELECT conflict_resolution, enabled FROM mosta.rules WHERE name = 'r2'$$,
              ROW('last-write-wins'::text, false), 'explicit conflict_resolution and enabled are stored');
SELECT lives_ok($$SELECT mosta_add_rule('all', 'src', 'dst', 'cdc', ARRAY['*'], 'target-wins')$$,
                'a rule for every table is added');
SELECT is(pg_temp.collections_of('all'), ARRAY['*'], 'ARRAY[''*''] stays {*}');
SET LOCAL search_path = other, public;
SELECT lives_ok($$SELECT mosta_add_rule('r3', 'src', 'dst', 'cdc', ARRAY['t', 'only_here'])$$,
                'a rule is added with search_path other, public');
SELECT is(pg_temp.collections_of('r3'), ARRAY['other.t', 'other.only_here'],
          'unqualified names resolve with the caller''s search_path');
RESET search_path;
SELECT lives_ok($$SELECT mosta_add_rule('r4', 'src', 'dst', 'cdc', ARRAY['full_ident', 'by_index', 'parted'])$$,
                'REPLICA IDENTITY FULL, REPLICA IDENTITY USING INDEX and a partitioned table with a key are accepted');
SELECT is(pg_temp.collections_of('r4'), ARRAY['public.full_ident', 'public.by_index', 'public.parted'],
          'those tables are stored qualified');
SELECT lives_ok($$SELECT mosta_add_rule('bi', 'src', 'dst', 'bidirectional', ARRAY['users'], 'error')$$,
                'a bidirectional rule between two projects is added, with conflict_resolution error');
SELECT is((SELECT conflict_resolution FROM mosta.rules WHERE name = 'bi'), 'error',
          'conflict_resolution error is stored (a conflict stops the target: docs/sql-api.md, "Conflicts")');
SELECT lives_ok($$SELECT mosta_add_rule('self', 'dst', 'dst', 'cdc', ARRAY['users'])$$,
                'a cdc rule from a project into itself is accepted');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'add_rule'), 7::bigint, 'seven rules, seven log rows');

------------------------------------------------------------------------------
-- rejections
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'sync', ARRAY['users'])$$,
                 '22023', 'invalid mode "sync"', 'an unknown mode is refused with 22023');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('x', 'src', 'dst', 'sync', ARRAY['users'])$$))[4],
          'Valid values for mode are: snapshot, cdc, bidirectional.', 'the mode error lists the modes');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users'], 'newest-wins')$$,
                 '22023', 'invalid conflict_resolution "newest-wins"', 'an unknown conflict_resolution is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users'], 'newest-wins')$$))[4],
          'Valid values for conflict_resolution are: source-wins, target-wins, last-write-wins, error.',
          'the conflict_resolution error lists the policies, error included');
SELECT throws_ok($$UPDATE mosta.rules SET conflict_resolution = 'newest-wins' WHERE name = 'bi'$$, '23514', NULL,
                 'the table''s CHECK refuses an unknown conflict_resolution too');
SELECT lives_ok($$UPDATE mosta.rules SET conflict_resolution = 'error' WHERE name = 'r1'$$,
                'and accepts error');
UPDATE mosta.rules SET conflict_resolution = 'source-wins' WHERE name = 'r1';
SELECT throws_ok($$SELECT mosta_add_rule('x', 'nope', 'dst', 'cdc', ARRAY['users'])$$,
                 '42704', 'project "nope" does not exist', 'an unknown source project raises 42704');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('x', 'nope', 'dst', 'cdc', ARRAY['users'])$$))[4],
          'Known projects: dst, src. A project is created by adding its first replica with mosta_add_replica().',
          'the unknown-project error lists the known projects');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'nope', 'cdc', ARRAY['users'])$$,
                 '42704', 'project "nope" does not exist', 'an unknown target project raises 42704');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users', 'missing'])$$,
                 '42P01', 'relation "missing" does not exist', 'a missing table raises 42P01');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['only_here'])$$,
                 '42P01', 'relation "only_here" does not exist', 'a table off the search_path raises 42P01');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['nokey'])$$, '55000',
                 'table "public.nokey" has neither a primary key nor REPLICA IDENTITY FULL',
                 'a table without a key raises 55000');
SELECT matches((pg_temp.error_of($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['nokey'])$$))[4],
               'ALTER TABLE public\.nokey REPLICA IDENTITY FULL',
               'the no-key hint tells how to set REPLICA IDENTITY FULL on that table');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['nothing'])$$, '55000',
                 'table "public.nothing" has REPLICA IDENTITY NOTHING', 'REPLICA IDENTITY NOTHING raises 55000');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users_v'])$$, '42809',
                 '"public.users_v" is not a table', 'a view raises 42809');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['seq'])$$, '42809',
                 '"public.seq" is not a table', 'a sequence raises 42809');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['*', 'users'])$$, '22023',
                 'collection "*" must be the only collection of a rule', '"*" mixed with names raises 22023');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users', '*'])$$, '22023',
                 'collection "*" must be the only collection of a rule', '"*" after a name raises 22023');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', '{}')$$, '22023',
                 'collections must not be empty', 'an empty collection list raises 22023');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY[''])$$, '22023',
                 'collection name must not be empty', 'an empty collection name raises 22023');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['users', NULL])$$, '22004',
                 'collection name must not be null', 'a NULL collection name raises 22004');
SELECT throws_ok(format('SELECT mosta_add_rule(%s)', args), '22004',
                 format('argument "%s" must not be null', arg), format('NULL %s raises 22004', arg))
  FROM (VALUES
	('collections', $$'x', 'src', 'dst', 'cdc', NULL$$),
	('name', $$NULL, 'src', 'dst', 'cdc', ARRAY['users']$$),
	('source', $$'x', NULL, 'dst', 'cdc', ARRAY['users']$$),
	('target', $$'x', 'src', NULL, 'cdc', ARRAY['users']$$),
	('mode', $$'x', 'src', 'dst', NULL, ARRAY['users']$$),
	('conflict_resolution', $$'x', 'src', 'dst', 'cdc', ARRAY['users'], NULL$$),
	('enabled', $$'x', 'src', 'dst', 'cdc', ARRAY['users'], 'source-wins', NULL$$)
  ) AS t(arg, args);
SELECT throws_ok($$SELECT mosta_add_rule('bad name', 'src', 'dst', 'cdc', ARRAY['users'])$$, '22023',
                 'invalid name "bad name"', 'a rule name with a space raises 22023');
SELECT throws_ok($$SELECT mosta_add_rule('r1', 'src', 'dst', 'snapshot', ARRAY['other.t'])$$, '23505',
                 'rule "r1" already exists', 'a duplicate rule name raises 23505');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'src', 'bidirectional', ARRAY['users'])$$, '22023',
                 'a bidirectional rule needs two different projects',
                 'bidirectional with source = target raises 22023');
SELECT is((SELECT count(*) FROM mosta.rules WHERE name = 'x'), 0::bigint, 'no refused rule was stored');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'add_rule'), 7::bigint, 'refused rules are not logged');

SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['temp_t'])$$, '42809',
                 format('"%s.temp_t" is a temporary table', pg_my_temp_schema()::regnamespace),
                 'a temporary table raises 42809');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['unlogged_t'])$$, '55000',
                 'table "public.unlogged_t" is unlogged', 'an unlogged table raises 55000');
SELECT is((pg_temp.error_of($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['unlogged_t'])$$))[4],
          'Run ALTER TABLE public.unlogged_t SET LOGGED.', 'the unlogged error tells how to fix it');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['pg_catalog.pg_class'])$$, '42809',
                 '"pg_catalog.pg_class" is a system table', 'a system catalog raises 42809');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['information_schema.sql_features'])$$,
                 '42809', '"information_schema.sql_features" is a system table',
                 'an information_schema table raises 42809');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'cdc', ARRAY['Mixed Case'])$$, '42602',
                 'invalid collection name "Mixed Case"', 'an unquoted name with a space names the collection');

-- errors come in argument order: name, source, target, mode, then collections
SELECT throws_ok($$SELECT mosta_add_rule(NULL, 'nope', 'nope', 'sync', ARRAY['missing'])$$, '22004',
                 'argument "name" must not be null', 'a NULL name is reported before anything else');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'nope', 'dst', 'sync', ARRAY['missing'])$$, '42704',
                 'project "nope" does not exist', 'an unknown source is reported before mode and collections');
SELECT throws_ok($$SELECT mosta_add_rule('x', 'src', 'dst', 'sync', ARRAY['missing'])$$, '22023',
                 'invalid mode "sync"', 'an unknown mode is reported before collections');

------------------------------------------------------------------------------
-- enable / disable
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT mosta_disable_rule('r1')$$, 'mosta_disable_rule runs');
SELECT is((SELECT enabled FROM mosta.rules WHERE name = 'r1'), false, 'mosta_disable_rule clears enabled');
SELECT is(pg_temp.last_activity(), 'disable_rule src r1', 'disabling is logged');
SELECT mosta_disable_rule('r1');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'disable_rule'), 1::bigint,
          'disabling a disabled rule logs nothing');
SELECT is((SELECT enabled FROM mosta.rules WHERE name = 'r1'), false, 'and leaves it disabled');
SELECT mosta_enable_rule('r1');
SELECT is((SELECT enabled FROM mosta.rules WHERE name = 'r1'), true, 'mosta_enable_rule sets enabled');
SELECT is(pg_temp.last_activity(), 'enable_rule src r1', 'enabling is logged');
SELECT mosta_enable_rule('r1');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'enable_rule'), 1::bigint,
          'enabling an enabled rule logs nothing');
SELECT throws_ok($$SELECT mosta_enable_rule('nope')$$, '42704', 'rule "nope" does not exist',
                 'enabling an unknown rule raises 42704');
SELECT throws_ok($$SELECT mosta_disable_rule('nope')$$, '42704', 'rule "nope" does not exist',
                 'disabling an unknown rule raises 42704');
SELECT throws_ok($$SELECT mosta_enable_rule(NULL)$$, '22004', 'argument "name" must not be null',
                 'enabling NULL raises 22004');
SELECT throws_ok($$SELECT mosta_disable_rule(NULL)$$, '22004', 'argument "name" must not be null',
                 'disabling NULL raises 22004');

------------------------------------------------------------------------------
-- mosta_rules()
------------------------------------------------------------------------------
SELECT results_eq($$SELECT name, status FROM mosta_rules()$$,
                  $$VALUES ('all', 'pending'), ('bi', 'pending'), ('r1', 'pending'), ('r2', 'disabled'),
                           ('r3', 'pending'), ('r4', 'pending'), ('self', 'pending')$$,
                  'mosta_rules() lists every rule by name: pending without stats, disabled when disabled');
SELECT row_eq($$SELECT source, target, mode, collections, conflict_resolution, enabled, snapshot_rows,
                       changes_applied, transactions, confirmed_lsn, retained_bytes, last_applied_at, last_error,
                       conflicts
                  FROM mosta_rules() WHERE name = 'r2'$$,
              ROW('src'::text, 'dst'::text, 'snapshot'::text,
                  ARRAY['public.users', 'other.t', 'public."Mixed Case"'], 'last-write-wins'::text, false,
                  0::bigint, 0::bigint, 0::bigint, NULL::pg_lsn, NULL::bigint, NULL::timestamptz, NULL::text,
                  0::bigint),
              'a rule without stats shows its settings and zero counters, conflicts 0 included');
INSERT INTO mosta.rule_stats (rule, status, snapshot_rows, changes_applied, transactions, confirmed_lsn,
                              retained_bytes, last_applied_at, last_error)
VALUES ('r1', 'streaming', 1200, 340, 17, '0/16B3748', 4096, '2024-05-01 12:00:00+00', 'transient: retried'),
       ('r2', 'streaming', 5, 0, 0, NULL, NULL, NULL, NULL);
SELECT row_eq($$SELECT status, snapshot_rows, changes_applied, transactions, confirmed_lsn, retained_bytes,
                       last_applied_at, last_error FROM mosta_rules() WHERE name = 'r1'$$,
              ROW('streaming'::text, 1200::bigint, 340::bigint, 17::bigint, '0/16B3748'::pg_lsn, 4096::bigint,
                  '2024-05-01 12:00:00+00'::timestamptz, 'transient: retried'::text),
              'mosta_rules() shows the sidecar''s stats');
SELECT is((SELECT status FROM mosta_rules() WHERE name = 'r2'), 'disabled',
          'a disabled rule shows disabled whatever the sidecar reported');
SELECT is((SELECT snapshot_rows FROM mosta_rules() WHERE name = 'r2'), 5::bigint,
          'a disabled rule still shows its counters');
SELECT mosta_disable_rule('r1');
SELECT is((SELECT status FROM mosta_rules() WHERE name = 'r1'), 'disabled', 'disabling r1 shows in mosta_rules()');

------------------------------------------------------------------------------
-- mosta_remove_rule
------------------------------------------------------------------------------
SELECT is(mosta_remove_rule('r1'), true, 'removing a rule returns true');
SELECT is((SELECT count(*) FROM mosta.rules WHERE name = 'r1'), 0::bigint, 'the removed rule is gone');
SELECT is((SELECT count(*) FROM mosta.rule_stats WHERE rule = 'r1'), 0::bigint, 'its stats go with it');
SELECT row_eq($$SELECT action, project, object, detail FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('remove_rule'::text, 'src'::text, 'r1'::text, '{"mode": "cdc", "target": "dst"}'::jsonb),
              'the removal is logged');
SELECT throws_ok($$SELECT mosta_remove_rule('r1')$$, '42704', 'rule "r1" does not exist',
                 'removing an unknown rule raises 42704');
SELECT is(mosta_remove_rule('r1', if_exists => true), false, 'if_exists => true returns false');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'remove_rule'), 1::bigint,
          'only the real removal was logged');
SELECT throws_ok($$SELECT mosta_remove_rule(NULL)$$, '22004', 'argument "name" must not be null',
                 'removing NULL raises 22004');
SELECT throws_ok($$SELECT mosta_remove_rule('r2', NULL)$$, '22004', 'argument "if_exists" must not be null',
                 'if_exists NULL raises 22004');

-- a project lives as long as replicas or rules name it (mosta_remove_replica's comment)
SELECT mosta_add_replica('solo', 'primary', 'master', 'postgres', 'postgresql://db9/solo');
SELECT mosta_add_rule('solo-out', 'solo', 'dst', 'snapshot', ARRAY['users']);
SELECT is(mosta_remove_replica('solo', 'primary'), true, 'the only replica of project solo is removed');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'solo'), 1::bigint, 'solo stays while a rule names it');
SELECT is(mosta_remove_rule('solo-out'), true, 'the last rule naming solo is removed');
SELECT is((SELECT count(*) FROM mosta.projects WHERE name = 'solo'), 0::bigint,
          'removing the last rule of a project without replicas removes the project');

SELECT * FROM finish();
ROLLBACK;
