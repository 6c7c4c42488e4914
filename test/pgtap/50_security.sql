-- 50_security.sql: privileges (a plain login role is refused every change
-- and cannot read credentials; a member of mosta_admin can), pinned
-- search_path of SECURITY DEFINER functions, and identifier quoting.
--
-- pgTAP keeps its state in temp tables of the session user, so the
-- statements under test run as another role inside sqlstate_as() or
-- value_as(), which switch role with SET LOCAL ROLE and switch back before
-- returning; every assertion runs as the session user.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(73);

\ir support/helpers.psql

CREATE ROLE mosta_test_user LOGIN;
CREATE ROLE mosta_test_admin LOGIN;
GRANT mosta_admin TO mosta_test_admin;
CREATE ROLE mosta_test_sidecar LOGIN REPLICATION;
GRANT mosta_sidecar TO mosta_test_sidecar;



SELECT mosta_add_replica('shop', 'primary', 'master', 'postgres', 'postgresql://app:S3cretPG@db1/shop');
SELECT mosta_add_replica('shop', 'kv', 'slave', 'postgres', 'host=db2 password=S3cretKV dbname=shop');
SELECT mosta_add_replica('shop', 'mongo', 'slave', 'mongodb', 'mongodb://u:S3cretMG@m1/shop');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms) VALUES ('shop', 'kv', 'up', 5);
CREATE TABLE public.items (id int PRIMARY KEY);
SELECT mosta_add_rule('keep', 'shop', 'shop', 'cdc', ARRAY['items']);

SELECT is(current_user, session_user, 'the assertions run as the session user');
SELECT is(pg_temp.value_as('mosta_test_user', 'SELECT current_user'), 'mosta_test_user',
          'value_as really switches to the role');
SELECT is(current_user, session_user, 'and switches back');
SELECT is(pg_temp.sqlstate_as('mosta_test_user', 'SELECT 1/0'), '22012', 'sqlstate_as reports the error''s SQLSTATE');
SELECT is(current_user, session_user, 'and switches back after an error');
SELECT ok(NOT pg_has_role('mosta_test_user', 'mosta_admin', 'USAGE'), 'mosta_test_user is not a member of mosta_admin');
SELECT is_member_of('mosta_admin', 'mosta_test_admin', 'mosta_test_admin is a member of mosta_admin');

------------------------------------------------------------------------------
-- a plain login role
------------------------------------------------------------------------------
SELECT is(pg_temp.sqlstate_as('mosta_test_user', sql), '42501', format('a plain role is refused %s', what))
  FROM (VALUES
	('mosta_add_replica', $$SELECT mosta_add_replica('shop', 'x', 'slave', 'sqlite', 'x.db')$$),
	('mosta_remove_replica', $$SELECT mosta_remove_replica('shop', 'kv')$$),
	('mosta_remove_replica(if_exists)', $$SELECT mosta_remove_replica('shop', 'nope', true)$$),
	('mosta_add_rule', $$SELECT mosta_add_rule('x', 'shop', 'shop', 'cdc', ARRAY['items'])$$),
	('mosta_remove_rule', $$SELECT mosta_remove_rule('keep')$$),
	('mosta_enable_rule', $$SELECT mosta_enable_rule('keep')$$),
	('mosta_disable_rule', $$SELECT mosta_disable_rule('keep')$$),
	('mosta_set_read_routing', $$SELECT mosta_set_read_routing('shop', 'random')$$),
	('mosta_switchover', $$SELECT mosta_switchover('shop', 'kv')$$),
	('mosta._add_rule', $$SELECT mosta._add_rule('x', 'shop', 'shop', 'cdc', ARRAY['public.items'],
	                                             'source-wins', true)$$),
	('mosta._set_rule_enabled', $$SELECT mosta._set_rule_enabled('keep', false)$$),
	('mosta._log', $$SELECT mosta._log('forged', 'shop', 'x')$$),
	('mosta._resolve_collections', $$SELECT mosta._resolve_collections(ARRAY['items'])$$),
	('SELECT on mosta.replicas', $$SELECT uri FROM mosta.replicas$$),
	('SELECT on mosta.activity', $$SELECT detail FROM mosta.activity$$),
	('SELECT on mosta.projects', $$SELECT name FROM mosta.projects$$),
	('INSERT on mosta.replica_status', $$INSERT INTO mosta.replica_status (project, replica, status, lag_ms)
	                                     VALUES ('shop', 'mongo', 'up', 0)$$),
	('UPDATE on mosta.replica_status', $$UPDATE mosta.replica_status SET lag_ms = 0$$),
	('UPDATE on mosta.rules', $$UPDATE mosta.rules SET enabled = false$$),
	('DELETE on mosta.replicas', $$DELETE FROM mosta.replicas$$),
	('INSERT on mosta.activity', $$INSERT INTO mosta.activity (action) VALUES ('forged')$$)
  ) AS t(what, sql);
SELECT results_eq($$SELECT name::text, enabled FROM mosta.rules$$, $$VALUES ('keep', true)$$,
                  'the refused calls changed no rule');
SELECT is((SELECT count(*) FROM mosta.replicas), 3::bigint, 'the refused calls changed no replica');
SELECT is((SELECT count(*) FROM mosta.activity), 4::bigint, 'the refused calls logged nothing');
SELECT table_privs_are('mosta', 'replicas', 'mosta_test_user', '{}', 'a plain role has no privilege on mosta.replicas');
SELECT table_privs_are('mosta', 'replicas_masked', 'mosta_test_user', ARRAY['SELECT'],
                       'a plain role may only SELECT from mosta.replicas_masked');
SELECT function_privs_are('public', 'mosta_add_replica', ARRAY['text', 'text', 'text', 'text', 'text', 'bigint',
                          'integer', 'integer'], 'mosta_test_user', '{}',
                          'a plain role cannot execute mosta_add_replica (catalog view of the same rule)');

-- what a plain role can read
SELECT is(pg_temp.value_as('mosta_test_user',
                           $$SELECT string_agg(uri, ' | ' ORDER BY name) FROM mosta.replicas_masked$$),
          'host=db2 password=*** dbname=shop | mongodb://u:***@m1/shop | postgresql://app:***@db1/shop',
          'a plain role reads mosta.replicas_masked, with masked URIs only');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT string_agg(replica || '=' || status || ' ' || uri, ' | ')
                                                FROM mosta_replica_status('shop')$$),
          'primary=unknown postgresql://app:***@db1/shop | kv=up host=db2 password=*** dbname=shop | '
          'mongo=unknown mongodb://u:***@m1/shop',
          'a plain role reads mosta_replica_status(), with masked URIs only');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT string_agg(name || ':' || status, ',') FROM mosta_rules()$$),
          'keep:pending', 'a plain role reads mosta_rules()');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT mosta_topology() #>> '{projects,shop,replicas,0,uri}'$$),
          'postgresql://app:***@db1/shop', 'a plain role reads mosta_topology(), with masked URIs');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT mosta_topology()::text ~ 'S3cret'$$), 'false',
          'no password anywhere in the topology a plain role reads');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT mosta_read_replica('shop')$$), 'kv',
          'a plain role may ask mosta_read_replica() where to read');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT mosta.mask_uri('postgresql://a:b@h/d')$$),
          'postgresql://a:***@h/d', 'a plain role may call mosta.mask_uri()');
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT count(*) FROM mosta_replica_status('nope')$$), 'ERROR 42704',
          'a plain role gets the same 42704 for an unknown project');

------------------------------------------------------------------------------
-- a member of mosta_admin
------------------------------------------------------------------------------
SELECT is(pg_temp.value_as('mosta_test_admin', $$SELECT string_agg(uri, ' | ' ORDER BY name) FROM mosta.replicas$$),
          'host=db2 password=S3cretKV dbname=shop | mongodb://u:S3cretMG@m1/shop | postgresql://app:S3cretPG@db1/shop',
          'an admin reads the raw URIs from mosta.replicas');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', sql), '00000', format('an admin may %s', what))
  FROM (VALUES
	('add a replica', $$SELECT mosta_add_replica('shop', 'lite', 'slave', 'sqlite', 'shop.db')$$),
	('add a rule', $$SELECT mosta_add_rule('admin-rule', 'shop', 'shop', 'snapshot', ARRAY['items'])$$),
	('disable a rule', $$SELECT mosta_disable_rule('admin-rule')$$),
	('enable a rule', $$SELECT mosta_enable_rule('admin-rule')$$),
	('set read routing', $$SELECT mosta_set_read_routing('shop', 'random')$$),
	('remove a rule', $$SELECT mosta_remove_rule('admin-rule')$$),
	('remove a replica', $$SELECT mosta_remove_replica('shop', 'mongo')$$),
	('read the activity log', $$SELECT detail FROM mosta.activity$$)
  ) AS t(what, sql);
SELECT results_eq($$SELECT action, object FROM mosta.activity WHERE id > 4 ORDER BY id$$,
                  $$VALUES ('add_replica', 'lite'), ('add_rule', 'admin-rule'), ('disable_rule', 'admin-rule'),
                           ('enable_rule', 'admin-rule'), ('set_read_routing', NULL), ('remove_rule', 'admin-rule'),
                           ('remove_replica', 'mongo')$$,
                  'every admin change took effect and was logged, in order');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin',
                              $$SELECT mosta_add_replica('shop', 'lite', 'slave', 'sqlite', 'x.db')$$),
          '23505', 'an admin gets the API''s own errors, not 42501');
SELECT is(pg_temp.sqlstate_as('mosta_test_admin', $$INSERT INTO mosta.replicas (project, name, role, dialect, uri)
                                                   VALUES ('shop', 'raw', 'slave', 'sqlite', 'x.db')$$),
          '42501', 'an admin cannot write the catalog tables directly, only through the API');

------------------------------------------------------------------------------
-- SECURITY DEFINER functions pin their search_path
------------------------------------------------------------------------------
CREATE TEMP VIEW definers AS
	SELECT p.oid::regprocedure::text AS fn, p.proconfig
	  FROM pg_proc p
	 WHERE p.prosecdef
	   AND p.pronamespace IN ('mosta'::regnamespace, (SELECT extnamespace FROM pg_extension WHERE extname = 'mostajs'));
SELECT is((SELECT count(*) FROM definers), 37::bigint, 'the extension has 37 SECURITY DEFINER functions');
SELECT is_empty($$SELECT fn FROM definers
                   WHERE NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)$$,
                'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');

------------------------------------------------------------------------------
-- identifier quoting
------------------------------------------------------------------------------
CREATE TABLE public."x""; drop table y; --" (id int PRIMARY KEY);
CREATE TABLE public.y (id int);
SELECT lives_ok($$SELECT mosta_add_rule('quoted', 'shop', 'shop', 'cdc', ARRAY['"x""; drop table y; --"'])$$,
                'a rule on a table whose name holds SQL is added when the name is quoted');
SELECT is((SELECT collections FROM mosta.rules WHERE name = 'quoted'), ARRAY['public."x""; drop table y; --"'],
          'the rule stores the canonical quoted name');
SELECT is(mosta.resolve_collection((SELECT collections[1] FROM mosta.rules WHERE name = 'quoted')),
          'public."x""; drop table y; --"', 'the stored name resolves to itself');
SELECT has_table('public', 'y', 'table y still exists');
SELECT throws_ok($$SELECT mosta_add_rule('unquoted', 'shop', 'shop', 'cdc', ARRAY['x"; drop table y; --'])$$,
                 '42602', 'invalid collection name "x"; drop table y; --"', 'the same name unquoted is invalid syntax');
SELECT has_table('public', 'y', 'table y still exists after the refused call');
SELECT throws_ok(format($$SELECT mosta_add_replica(%L, %L, 'slave', 'sqlite', 'x.db')$$, project, name), '22023',
                 format('invalid %s "%s"', which, 'x"; drop table y; --'), format('a %s holding SQL is refused', which))
  FROM (VALUES ('project', 'x"; drop table y; --', 'r'), ('name', 'shop', 'x"; drop table y; --'))
       AS t(which, project, name);
SELECT throws_ok($$SELECT mosta_add_rule('x''; drop table y; --', 'shop', 'shop', 'cdc', ARRAY['items'])$$,
                 '22023', 'invalid name "x''; drop table y; --"', 'a rule name holding SQL is refused');
SELECT throws_ok($$SELECT mosta_add_replica('shop', 'Robert''); DROP TABLE y;--', 'slave', 'sqlite', 'x.db')$$,
                 '22023', NULL, 'a replica name with a quote and a semicolon is refused');
SELECT has_table('public', 'y', 'table y survives every attempt');

------------------------------------------------------------------------------
-- mosta_sidecar: what the daemon needs, and no more
------------------------------------------------------------------------------
SELECT is(pg_temp.value_as('mosta_test_sidecar', $$SELECT uri FROM mosta.replicas WHERE name = 'kv'$$),
          'host=db2 password=S3cretKV dbname=shop', 'mosta_sidecar reads the raw URIs it connects with');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar',
          $$INSERT INTO mosta.rule_stats (rule, status) VALUES ('keep', 'streaming')
            ON CONFLICT (rule) DO UPDATE SET status = EXCLUDED.status$$), '00000',
          'mosta_sidecar writes mosta.rule_stats');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar',
          $$INSERT INTO mosta.target_status (rule, project, replica, slot) VALUES ('keep', 'shop', 'kv', 's')$$),
          '00000', 'mosta_sidecar writes mosta.target_status');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar',
          $$INSERT INTO mosta.activity (action, object) VALUES ('slot_invalidated', 'keep')$$), '00000',
          'mosta_sidecar logs events in mosta.activity');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar', $$UPDATE mosta.rules SET enabled = false$$), '42501',
          'mosta_sidecar cannot change the rules');
SELECT is(pg_temp.sqlstate_as('mosta_test_sidecar', $$SELECT mosta_remove_rule('keep')$$), '42501',
          'mosta_sidecar cannot call the admin API');

SELECT * FROM finish();
ROLLBACK;
