-- 00_schema.sql: the objects CREATE EXTENSION mostajs makes: schema, tables
-- and their keys, the mosta_admin and mosta_sidecar roles, and every function with its exact
-- signature, return type and SECURITY DEFINER flag.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(209);

-- schema, role and view
SELECT has_schema('mosta', 'schema mosta exists');
SELECT has_role('mosta_admin', 'role mosta_admin exists');
SELECT hasnt_user('mosta_admin', 'mosta_admin cannot log in (not in pg_user)');
SELECT is((SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'mosta_admin'), false,
          'mosta_admin has no superuser, createrole or createdb attribute');
SELECT has_role('mosta_sidecar', 'role mosta_sidecar exists');
SELECT hasnt_user('mosta_sidecar', 'mosta_sidecar cannot log in (not in pg_user)');
SELECT is((SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication FROM pg_roles
            WHERE rolname = 'mosta_sidecar'), false,
          'mosta_sidecar has no superuser, createrole, createdb or replication attribute');
SELECT has_view('mosta', 'replicas_masked', 'view mosta.replicas_masked exists');
SELECT has_domain('mosta', 'object_name', 'domain mosta.object_name exists');

-- tables and their keys
SELECT has_table('mosta', t, format('table mosta.%s exists', t))
  FROM unnest(ARRAY['projects', 'replicas', 'rules', 'routing', 'replica_status', 'rule_stats', 'target_status',
                     'activity', 'ha_requests', 'conflicts']) t;
SELECT has_pk('mosta', t, format('table mosta.%s has a primary key', t))
  FROM unnest(ARRAY['projects', 'replicas', 'rules', 'routing', 'replica_status', 'rule_stats', 'target_status',
                     'activity', 'ha_requests', 'conflicts']) t;
SELECT col_is_pk('mosta', 'projects', 'name', 'mosta.projects is keyed by name');
SELECT col_is_pk('mosta', 'replicas', ARRAY['project', 'name'], 'mosta.replicas is keyed by (project, name)');
SELECT col_is_pk('mosta', 'rules', 'name', 'mosta.rules is keyed by name');
SELECT col_is_pk('mosta', 'routing', 'project', 'mosta.routing is keyed by project');
SELECT col_is_pk('mosta', 'replica_status', ARRAY['project', 'replica'],
                 'mosta.replica_status is keyed by (project, replica)');
SELECT col_is_pk('mosta', 'rule_stats', 'rule', 'mosta.rule_stats is keyed by rule');
SELECT col_is_pk('mosta', 'target_status', ARRAY['rule', 'project', 'replica'],
                 'mosta.target_status is keyed by (rule, project, replica)');
SELECT col_is_pk('mosta', 'activity', 'id', 'mosta.activity is keyed by id');
SELECT fk_ok('mosta', 'replicas', 'project', 'mosta', 'projects', 'name',
             'mosta.replicas.project references mosta.projects');
SELECT fk_ok('mosta', 'replica_status', ARRAY['project', 'replica'], 'mosta', 'replicas', ARRAY['project', 'name'],
             'mosta.replica_status references mosta.replicas');
SELECT index_is_unique('mosta', 'replicas', 'replicas_one_master', 'one master per project is a unique index');

-- important column types
SELECT col_type_is('mosta', 'projects', 'name', 'mosta', 'object_name', 'projects.name is mosta.object_name');
SELECT col_type_is('mosta', 'replicas', 'uri', 'text', 'replicas.uri is text');
SELECT col_type_is('mosta', 'replicas', 'lag_tolerance_ms', 'bigint', 'replicas.lag_tolerance_ms is bigint');
SELECT col_type_is('mosta', 'replicas', 'pool_min', 'integer', 'replicas.pool_min is integer');
SELECT col_type_is('mosta', 'replicas', 'pool_max', 'integer', 'replicas.pool_max is integer');
SELECT col_default_is('mosta', 'replicas', 'lag_tolerance_ms', '5000', 'replicas.lag_tolerance_ms defaults to 5000');
SELECT col_type_is('mosta', 'rules', 'collections', 'text[]', 'rules.collections is text[]');
SELECT col_type_is('mosta', 'rules', 'enabled', 'boolean', 'rules.enabled is boolean');
SELECT col_type_is('mosta', 'routing', 'strategy', 'text', 'routing.strategy is text');
SELECT col_type_is('mosta', 'replica_status', 'lag_ms', 'bigint', 'replica_status.lag_ms is bigint');
SELECT col_type_is('mosta', 'replica_status', 'applied_lsn', 'pg_lsn', 'replica_status.applied_lsn is pg_lsn');
SELECT col_type_is('mosta', 'replica_status', 'last_seen', 'timestamp with time zone',
                   'replica_status.last_seen is timestamptz');
SELECT col_type_is('mosta', 'rule_stats', 'confirmed_lsn', 'pg_lsn', 'rule_stats.confirmed_lsn is pg_lsn');
SELECT col_type_is('mosta', 'activity', 'detail', 'jsonb', 'activity.detail is jsonb');
SELECT col_type_is('mosta', 'activity', 'actor', 'name', 'activity.actor is name');

-- the public API: exactly these mosta_* functions, each with its signature, result and security
SELECT set_eq(
	$$SELECT p.proname::text FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	   JOIN pg_extension e ON e.oid = d.refobjid AND d.deptype = 'e'
	  WHERE e.extname = 'mostajs' AND p.proname LIKE 'mosta\_%'$$,
	ARRAY['mosta_add_replica', 'mosta_remove_replica', 'mosta_add_rule', 'mosta_remove_rule', 'mosta_enable_rule',
	      'mosta_disable_rule', 'mosta_set_read_routing', 'mosta_read_replica', 'mosta_replica_status',
	      'mosta_rules', 'mosta_rule_targets', 'mosta_topology', 'mosta_heartbeat', 'mosta_capture_table', 'mosta_uncapture_table',
	      'mosta_capture_status', 'mosta_change_log_read', 'mosta_change_log_purge',
	      'mosta_set_id_policy', 'mosta_map_id', 'mosta_map_ids', 'mosta_lookup_id', 'mosta_require_id', 'mosta_legacy_id',
	      'mosta_checksum', 'mosta_sum_by',
	      'mosta_add_sparse_unique', 'mosta_add_one_per', 'mosta_add_polymorphic_ref', 'mosta_invariants',
	      'mosta_check_invariants', 'mosta_next_value', 'mosta_seed_counter', 'mosta_add_ttl', 'mosta_remove_ttl', 'mosta_ttl_expire',
	      'mosta_validate_rule', 'mosta_switchover', 'mosta_conflicts', 'mosta_purge_conflicts',
	      'mosta_write_lease_grant', 'mosta_write_lease_revoke', 'mosta_write_lease_state'],
	'the extension has exactly the documented mosta_* functions');

CREATE TEMP TABLE api (fn name, args name[], returns text, definer boolean);
INSERT INTO api VALUES
	('mosta_add_replica', '{text,text,text,text,text,bigint,integer,integer}', 'void', true),
	('mosta_remove_replica', '{text,text,boolean}', 'boolean', true),
	('mosta_add_rule', '{text,text,text,text,text[],text,boolean}', 'void', false),
	('mosta_remove_rule', '{text,boolean}', 'boolean', true),
	('mosta_enable_rule', '{text}', 'void', true),
	('mosta_disable_rule', '{text}', 'void', true),
	('mosta_set_read_routing', '{text,text}', 'void', true),
	('mosta_read_replica', '{text}', 'text', true),
	('mosta_replica_status', '{text}', 'setof mosta.replica_status_row', true),
	('mosta_rules', '{}', 'setof record', true),
	('mosta_rule_targets', '{text}', 'setof record', true),
	('mosta_topology', '{}', 'jsonb', true),
	('mosta_heartbeat', '{}', 'pg_lsn', false),
	('mosta_capture_table', '{regclass}', 'void', true),
	('mosta_uncapture_table', '{regclass,boolean}', 'boolean', true),
	('mosta_capture_status', '{}', 'setof record', true),
	('mosta_change_log_read', '{pg_snapshot,bigint,integer}', 'setof record', true),
	('mosta_change_log_purge', '{pg_snapshot,bigint}', 'bigint', true);
INSERT INTO api VALUES
	('mosta_add_sparse_unique', '{regclass,text[]}', 'text', false),
	('mosta_add_one_per', '{regclass,text,text[]}', 'text', false),
	('mosta_add_polymorphic_ref', '{regclass,text,regclass}', 'text', false),
	('mosta_invariants', '{regclass}', 'setof record', false),
	('mosta_check_invariants', '{regclass}', 'setof record', false),
	('mosta_next_value', '{text,text}', 'bigint', true),
	('mosta_seed_counter', '{text,text,bigint}', 'bigint', true),
	('mosta_add_ttl', '{regclass,text,interval}', 'void', false),
	('mosta_remove_ttl', '{regclass,boolean}', 'boolean', false),
	('mosta_ttl_expire', '{regclass,integer}', 'bigint', false);
INSERT INTO api VALUES
	('mosta_checksum', '{regclass,text[]}', 'record', false),
	('mosta_sum_by', '{regclass,text,text[]}', 'setof record', false);
INSERT INTO api VALUES
	('mosta_validate_rule', '{text}', 'setof record', true);
INSERT INTO api VALUES
	('mosta_switchover', '{text,text}', 'bigint', true);
INSERT INTO api VALUES
	('mosta_conflicts', '{text}', 'setof record', true),
	('mosta_purge_conflicts', '{text,interval}', 'bigint', true);
INSERT INTO api VALUES
	('mosta_write_lease_grant', '{bigint}', 'bigint', false),
	('mosta_write_lease_revoke', '{}', 'void', false),
	('mosta_write_lease_state', '{}', 'setof record', false);
INSERT INTO api VALUES
	('mosta_set_id_policy', '{text,text,boolean}', 'void', true),
	('mosta_map_id', '{text,text}', 'uuid', true),
	('mosta_map_ids', '{text,text[]}', 'uuid[]', true),
	('mosta_lookup_id', '{text,text}', 'uuid', true),
	('mosta_require_id', '{text,text}', 'uuid', true),
	('mosta_legacy_id', '{text,uuid}', 'text', true);

SELECT has_function('public', fn, args, format('function %s(%s) exists', fn, array_to_string(args, ', ')))
  FROM api ORDER BY fn;
SELECT function_returns('public', fn, args, returns, format('%s returns %s', fn, returns))
  FROM api ORDER BY fn;
SELECT CASE WHEN definer THEN is_definer('public', fn, args, format('%s is SECURITY DEFINER', fn))
            ELSE isnt_definer('public', fn, args, format('%s is SECURITY INVOKER', fn)) END
  FROM api ORDER BY fn;

-- C++ helpers in schema mosta
SELECT has_function('mosta', 'mask_uri', ARRAY['text'], 'function mosta.mask_uri(text) exists');
SELECT function_returns('mosta', 'mask_uri', ARRAY['text'], 'text', 'mosta.mask_uri returns text');
SELECT has_function('mosta', 'check_uri', ARRAY['text', 'text'], 'function mosta.check_uri(text, text) exists');
SELECT function_returns('mosta', 'check_uri', ARRAY['text', 'text'], 'void', 'mosta.check_uri returns void');
SELECT has_function('mosta', 'resolve_collection', ARRAY['text'], 'function mosta.resolve_collection(text) exists');
SELECT function_returns('mosta', 'resolve_collection', ARRAY['text'], 'text', 'mosta.resolve_collection returns text');
SELECT has_function('mosta', 'round_robin_tick', '{}'::name[], 'function mosta.round_robin_tick() exists');
SELECT function_returns('mosta', 'round_robin_tick', '{}'::name[], 'bigint', 'mosta.round_robin_tick returns bigint');
SELECT has_function('mosta', 'status_max_age_ms', '{}'::name[], 'function mosta.status_max_age_ms() exists');
SELECT function_returns('mosta', 'status_max_age_ms', '{}'::name[], 'integer',
                        'mosta.status_max_age_ms returns integer');
SELECT is(mosta.status_max_age_ms(), 30000, 'mostajs.status_max_age defaults to 30s');

-- named arguments
SELECT lives_ok(
	$$SELECT mosta_add_replica(project => 'named', name => 'm', role => 'master', dialect => 'postgres',
	                           uri => 'postgresql://app@db1/app', pool_max => 3)$$,
	'mosta_add_replica accepts named arguments, skipping defaulted ones');
SELECT row_eq(
	$$SELECT role, dialect, lag_tolerance_ms, pool_min, pool_max FROM mosta.replicas
	   WHERE project = 'named' AND name = 'm'$$,
	ROW('master'::text, 'postgres'::text, 5000::bigint, 1, 3),
	'named arguments land in the right columns, defaults fill the rest');
SELECT lives_ok(
	$$SELECT mosta_add_replica(pool_min => 0, uri => 'data/app.db', dialect => 'sqlite', role => 'slave',
	                           name => 's', project => 'named', lag_tolerance_ms => 0)$$,
	'named arguments work in any order');
SELECT row_eq(
	$$SELECT lag_tolerance_ms, pool_min, pool_max FROM mosta.replicas WHERE project = 'named' AND name = 's'$$,
	ROW(0::bigint, 0, 10), 'reordered named arguments land in the right columns');
SELECT lives_ok($$SELECT mosta_set_read_routing(strategy => 'random', project => 'named')$$,
                'mosta_set_read_routing accepts named arguments');
SELECT is((SELECT strategy FROM mosta.routing WHERE project = 'named'), 'random',
          'the named strategy argument is stored');
SELECT lives_ok(
	$$SELECT mosta_add_rule(collections => ARRAY['*'], mode => 'snapshot', target => 'named', source => 'named',
	                        name => 'nr', enabled => false)$$,
	'mosta_add_rule accepts named arguments');
SELECT row_eq($$SELECT source_project::text, mode, collections, conflict_resolution, enabled FROM mosta.rules$$,
              ROW('named'::text, 'snapshot'::text, ARRAY['*'], 'source-wins'::text, false),
              'mosta_add_rule named arguments land in the right columns');
SELECT lives_ok($$SELECT mosta_enable_rule(name => 'nr')$$, 'mosta_enable_rule accepts a named argument');
SELECT is(mosta_remove_rule(if_exists => true, name => 'nr'), true, 'mosta_remove_rule accepts named arguments');
SELECT is(mosta_read_replica(project => 'named'), 'm', 'mosta_read_replica accepts a named argument');
SELECT is((SELECT count(*) FROM mosta_replica_status(project => 'named')), 2::bigint,
          'mosta_replica_status accepts a named argument');
SELECT is(mosta_remove_replica(project => 'named', name => 'nope', if_exists => true), false,
          'mosta_remove_replica accepts named arguments');

SELECT * FROM finish();
ROLLBACK;
