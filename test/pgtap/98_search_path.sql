-- 98_search_path.sql: no object planted earlier in the caller's search_path
-- runs when the extension's API is called (issue 10, item 10). A schema
-- "planted", put before pg_catalog, holds operators (=, <>, <, >, <=, >=,
-- ||, ~~, ~, @>, && on text, name, integers, oid, regclass, uuid, arrays...)
-- and functions (lower, format, quote_ident, array_length, ...) that count
-- their calls in a sequence (non-transactional, so a caught error still
-- counts) and raise. Then every API function of the extension, listed from
-- pg_proc (a new function fails the coverage test until it is called here),
-- is called with valid arguments: each must succeed and the count stay 0.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(4 + 62);

\ir support/helpers.psql

------------------------------------------------------------------------------
-- fixtures, made with the ordinary search_path
------------------------------------------------------------------------------
SELECT mosta_add_replica('src', 'primary', 'master', 'postgres', 'postgresql://u:pw@db1/src');
SELECT mosta_add_replica('dst', 'pg', 'master', 'postgres', 'postgresql://db2/dst');
SELECT mosta_add_replica('dst', 'lite', 'slave', 'sqlite', 'dst.db');
SELECT mosta_add_replica('src', 'stby', 'slave', 'postgres', 'postgresql://db3/src');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms) VALUES ('src', 'stby', 'up', 0);
CREATE TABLE public.users (id int PRIMARY KEY, name text, amount numeric, at timestamptz DEFAULT now());
INSERT INTO public.users (id, name, amount) VALUES (1, 'a', 10), (2, 'b', 5);
CREATE TABLE public.items (id int PRIMARY KEY, owner int, is_primary boolean, email text);
CREATE TABLE public.pay (id int PRIMARY KEY);
CREATE TABLE public.events (id int PRIMARY KEY, at timestamptz);
CREATE TABLE public.cap (id int PRIMARY KEY);
CREATE TABLE public.cap2 (id int PRIMARY KEY);
SELECT mosta_capture_table('public.cap2');

------------------------------------------------------------------------------
-- the planted objects
------------------------------------------------------------------------------
CREATE SCHEMA planted;
CREATE SEQUENCE planted.ran;

DO $do$
DECLARE
	op record;
	n integer := 0;
BEGIN
	FOR op IN
		SELECT o.name, t.lt, t.rt, CASE WHEN o.name = '||' THEN t.lt ELSE 'boolean' END AS result
		  FROM unnest(ARRAY['=', '<>', '<', '>', '<=', '>=']) o(name),
		       unnest(ARRAY['text', 'name', 'integer', 'bigint', 'smallint', 'oid', 'regclass', 'regnamespace',
		                    'uuid', 'numeric', 'boolean', '"char"', 'text[]', 'name[]', 'integer[]', 'oid[]',
		                    'pg_lsn', 'timestamptz', 'interval', 'jsonb', 'xid8'])
		            WITH ORDINALITY t0(lt, k)
		 CROSS JOIN LATERAL (SELECT t0.lt, t0.lt AS rt) t
		UNION ALL
		SELECT o.name, t.lt, t.rt, CASE WHEN o.name = '||' THEN 'text' ELSE 'boolean' END
		  FROM unnest(ARRAY['||', '~~', '!~~', '~', '!~', '~*', '~~*']) o(name),
		       (VALUES ('text', 'text'), ('name', 'text')) t(lt, rt)
		 WHERE NOT (o.name = '||' AND t.lt = 'name')
		UNION ALL
		SELECT o.name, t.lt, t.lt, CASE WHEN o.name = '||' THEN t.lt ELSE 'boolean' END
		  FROM unnest(ARRAY['@>', '<@', '&&', '||']) o(name),
		       unnest(ARRAY['text[]', 'name[]', 'integer[]', 'oid[]', 'uuid[]']) t(lt)
		UNION ALL
		SELECT '||', 'text[]', 'text', 'text[]'
		UNION ALL
		SELECT '=', 'text', 'name', 'boolean'
		UNION ALL
		SELECT '=', 'name', 'text', 'boolean'
	LOOP
		n := n + 1;
		EXECUTE format('CREATE FUNCTION planted.op_%s(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
		               n, op.lt, op.rt, op.result,
		               format('BEGIN PERFORM pg_catalog.nextval(''planted.ran''); '
		                      'RAISE EXCEPTION ''planted operator %s(%s, %s) ran''; END',
		                      op.name, op.lt, op.rt));
		EXECUTE format('CREATE OPERATOR planted.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = planted.op_%s)',
		               op.name, op.lt, op.rt, n);
	END LOOP;
END
$do$;

DO $do$
DECLARE
	f record;
BEGIN
	FOR f IN
		SELECT * FROM (VALUES
			('lower', 'text', 'text'), ('upper', 'text', 'text'), ('format', 'text', 'text'),
			('format', 'text, text', 'text'), ('format', 'text, text, text', 'text'),
			('quote_ident', 'text', 'text'), ('quote_literal', 'text', 'text'), ('quote_nullable', 'text', 'text'),
			('length', 'text', 'integer'), ('octet_length', 'text', 'integer'), ('md5', 'text', 'text'),
			('replace', 'text, text, text', 'text'), ('split_part', 'text, text, integer', 'text'),
			('regexp_replace', 'text, text, text', 'text'), ('string_to_array', 'text, text', 'text[]'),
			('array_length', 'anyarray, integer', 'integer'), ('cardinality', 'anyarray', 'integer'),
			('array_to_string', 'anyarray, text', 'text'), ('array_position', 'anycompatiblearray, anycompatible', 'integer'),
			('array_append', 'anycompatiblearray, anycompatible', 'anycompatiblearray'),
			('to_json', 'anyelement', 'json'), ('to_jsonb', 'anyelement', 'jsonb'),
			('now', '', 'timestamptz'), ('clock_timestamp', '', 'timestamptz'),
			('current_setting', 'text', 'text'), ('set_config', 'text, text, boolean', 'text'),
			('to_regclass', 'text', 'regclass'), ('nextval', 'regclass', 'bigint'),
			('gen_random_uuid', '', 'uuid'), ('random', '', 'double precision'),
			('pg_has_role', 'name, oid, text', 'boolean'), ('has_table_privilege', 'oid, text', 'boolean'),
			('quote_qualified_identifier', 'text, text', 'text'), ('starts_with', 'text, text', 'boolean'),
			('pg_current_snapshot', '', 'pg_snapshot'), ('pg_current_xact_id', '', 'xid8')
		) v(name, args, result)
	LOOP
		EXECUTE format('CREATE FUNCTION planted.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L', f.name, f.args, f.result,
		               format('BEGIN PERFORM pg_catalog.nextval(''planted.ran''); '
		                      'RAISE EXCEPTION ''planted function %s(%s) ran''; END', f.name, f.args));
	END LOOP;
END
$do$;

-- run_planted runs sql with search_path planted, pg_catalog, public and
-- returns NULL, or the SQLSTATE and message of the error it raised. It uses
-- only qualified operators and functions itself.
CREATE FUNCTION pg_temp.run_planted(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	message text;
	saved text := pg_catalog.current_setting('search_path');
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'planted, pg_catalog, public', true);
	EXECUTE sql;
	PERFORM pg_catalog.set_config('search_path', saved, true);
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	-- the block's subtransaction is rolled back, and the search_path with it
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	RETURN state OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) message;
END
$$;

-- the planted objects do shadow pg_catalog's for unqualified calls
SELECT is(pg_temp.run_planted($$SELECT 'a'::text = 'b'::text$$),
          'P0001 planted operator =(text, text) ran', 'a bare = on text runs the planted operator');
SELECT is(pg_temp.run_planted($$SELECT lower('A'::text)$$),
          'P0001 planted function lower(text) ran', 'a bare lower() runs the planted function');
SELECT setval('planted.ran', 1, false);

------------------------------------------------------------------------------
-- every API function, called with valid arguments
------------------------------------------------------------------------------
CREATE TEMP TABLE calls (position serial, fn regprocedure, sql text);
INSERT INTO calls (fn, sql) VALUES
	('mosta.mask_uri(text)', $$SELECT mosta.mask_uri('postgresql://u:secret@h/db?sslpassword=x')$$),
	('mosta.mask_text(text)', $$SELECT mosta.mask_text('failed: password=x {"password": "y"} mongodb://u:p@h/')$$),
	('mosta.check_uri(text,text)', $$SELECT mosta.check_uri('postgres', 'postgresql://u:p@h/db')$$),
	('mosta.resolve_collection(text)', $$SELECT mosta.resolve_collection('users')$$),
	('mosta._resolve_collections(text[])', $$SELECT mosta._resolve_collections(ARRAY['users', 'public.users'])$$),
	('mosta.round_robin_tick()', $$SELECT mosta.round_robin_tick()$$),
	('mosta.status_max_age_ms()', $$SELECT mosta.status_max_age_ms()$$),
	('mosta.uuid_v7()', $$SELECT mosta.uuid_v7()$$),
	('mosta.uuid_v5(uuid,text)', $$SELECT mosta.uuid_v5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'x')$$),
	('mosta.uuid_from_legacy_id(text,text)', $$SELECT mosta.uuid_from_legacy_id('c', 'x')$$),
	('mosta.uuid_from_objectid(text,text)', $$SELECT mosta.uuid_from_objectid('c', '5f0000000000000000000001')$$),
	('mosta.canonical_text(anyelement)', $$SELECT mosta.canonical_text(1.50::numeric)$$),
	('mosta.canonical_row_hash(record)', $$SELECT mosta.canonical_row_hash(u) FROM public.users u$$),
	('mosta.canonical_checksum(record)', $$SELECT mosta.canonical_checksum(u) FROM public.users u$$),
	('mosta.row_hashes(regclass,text[])', $$SELECT * FROM mosta.row_hashes('users')$$),
	('mosta.snapshot_documents(regclass,boolean,boolean,integer)', $$SELECT * FROM mosta.snapshot_documents('users')$$),
	('mosta.snapshot_ddl_document(regclass)', $$SELECT mosta.snapshot_ddl_document('users')$$),
	('mosta_add_replica(text,text,text,text,text,bigint,integer,integer)',
	 $$SELECT mosta_add_replica('dst', 'mongo', 'slave', 'mongodb', 'mongodb://u:p@h/db?authSource=admin')$$),
	('mosta_add_rule(text,text,text,text,text[],text,boolean)',
	 $$SELECT mosta_add_rule('r', 'src', 'dst', 'cdc', ARRAY['users', 'public.items'])$$),
	('mosta_validate_rule(text)', $$SELECT * FROM mosta_validate_rule('r')$$),
	('mosta_disable_rule(text)', $$SELECT mosta_disable_rule('r')$$),
	('mosta_enable_rule(text)', $$SELECT mosta_enable_rule('r')$$),
	('mosta_set_read_routing(text,text)', $$SELECT mosta_set_read_routing('dst', 'round-robin')$$),
	('mosta_read_replica(text)', $$SELECT mosta_read_replica('dst')$$),
	('mosta_switchover(text,text)', $$SELECT mosta_switchover('src', 'stby')$$),
	('mosta_replica_status(text)', $$SELECT * FROM mosta_replica_status()$$),
	('mosta_rules()', $$SELECT * FROM mosta_rules()$$),
	('mosta_rule_targets(text)', $$SELECT * FROM mosta_rule_targets('r')$$),
	('mosta_topology()', $$SELECT mosta_topology()$$),
	('mosta_heartbeat()', $$SELECT mosta_heartbeat()$$),
	('mosta_capture_table(regclass)', $$SELECT mosta_capture_table('cap')$$),
	('mosta_uncapture_table(regclass,boolean)', $$SELECT mosta_uncapture_table('cap2')$$),
	('mosta_capture_status()', $$SELECT * FROM mosta_capture_status()$$),
	('mosta_change_log_read(pg_snapshot,bigint,integer)', $$SELECT * FROM mosta_change_log_read(NULL, NULL)$$),
	('mosta_change_log_purge(pg_snapshot,bigint)',
	 $$SELECT mosta_change_log_purge(pg_catalog.pg_current_snapshot(), 0)$$),
	('mosta_set_id_policy(text,text,boolean)', $$SELECT mosta_set_id_policy('orders', 'objectid')$$),
	('mosta_map_id(text,text)', $$SELECT mosta_map_id('orders', '5F0000000000000000000001')$$),
	('mosta_map_ids(text,text[])', $$SELECT mosta_map_ids('orders', ARRAY['5f0000000000000000000002', '5f0000000000000000000001'])$$),
	('mosta_lookup_id(text,text)', $$SELECT mosta_lookup_id('orders', '5F0000000000000000000002')$$),
	('mosta_require_id(text,text)', $$SELECT mosta_require_id('orders', '5f0000000000000000000002')$$),
	('mosta_legacy_id(text,uuid)', $$SELECT mosta_legacy_id('orders', mosta.uuid_from_objectid('orders', '5f0000000000000000000001'))$$),
	('mosta_add_sparse_unique(regclass,text[])', $$SELECT mosta_add_sparse_unique('items', ARRAY['email'])$$),
	('mosta_add_one_per(regclass,text,text[])', $$SELECT mosta_add_one_per('items', 'is_primary', ARRAY['owner'])$$),
	('mosta_add_polymorphic_ref(regclass,text,regclass)', $$SELECT mosta_add_polymorphic_ref('pay', 'purchase', 'users')$$),
	('mosta_invariants(regclass)', $$SELECT * FROM mosta_invariants()$$),
	('mosta_check_invariants(regclass)', $$SELECT * FROM mosta_check_invariants('items')$$),
	('mosta_next_value(text,text)', $$SELECT mosta_next_value('orders', 'eu')$$),
	('mosta_seed_counter(text,text,bigint)', $$SELECT mosta_seed_counter('orders', 'eu', 7)$$),
	('mosta_add_ttl(regclass,text,interval)', $$SELECT mosta_add_ttl('events', 'at', '1 day')$$),
	('mosta_ttl_expire(regclass,integer)', $$SELECT mosta_ttl_expire('events')$$),
	('mosta_remove_ttl(regclass,boolean)', $$SELECT mosta_remove_ttl('events')$$),
	('mosta_checksum(regclass,text[])', $$SELECT * FROM mosta_checksum('users', ARRAY['id', 'name'])$$),
	('mosta_sum_by(regclass,text,text[])', $$SELECT * FROM mosta_sum_by('users', 'amount', ARRAY['name'])$$),
	('mosta._record_conflict(text,text,jsonb)',
	 $$SELECT mosta._record_conflict('r', 'lite', '{"kind": "update_differs", "incoming_side": "target",
	   "schema": "public", "table": "users", "key": {"id": 1}, "local": {"id": 1, "name": "a"},
	   "incoming": {"id": 1, "name": "b"}, "local_time": "2026-12-07T15:00:00Z", "incoming_time": null,
	   "incoming_lsn": "0/16B3748", "change_index": 0, "decision": "applied"}')$$),
	('mosta_conflicts(text)', $$SELECT * FROM mosta_conflicts('r')$$),
	('mosta_purge_conflicts(text,interval)', $$SELECT mosta_purge_conflicts('r')$$),
	('mosta_remove_rule(text,boolean)', $$SELECT mosta_remove_rule('r')$$),
	('mosta_remove_replica(text,text,boolean)', $$SELECT mosta_remove_replica('dst', 'mongo')$$),
	-- the test cluster does not preload mostajs: grant and revoke then raise 55000 (47_write_lease.sql), which is
	-- their valid answer here; a grant that ends at once changes nothing on a server that does preload it
	('mosta_write_lease_state()', $$SELECT * FROM mosta_write_lease_state()$$),
	('mosta_write_lease_grant(bigint)', $$DO $do$ BEGIN
	   PERFORM mosta_write_lease_grant((SELECT now_boottime_us FROM mosta_write_lease_state()));
	 EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $do$ $$),
	('mosta_write_lease_revoke()', $$DO $do$ BEGIN
	   IF (SELECT enforced FROM mosta_write_lease_state()) IS NOT TRUE THEN PERFORM mosta_write_lease_revoke(); END IF;
	 EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $do$ $$);

-- the extension's API: every function not named _*, except trigger functions (not callable); and every
-- function of it that does not pin search_path (C and internal functions have none to pin)
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text)
             FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
            WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mostajs')
              AND ((p.proname !~ '^_' AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype))
                   OR (p.proconfig IS NULL AND p.prolang NOT IN (SELECT oid FROM pg_language
                                                                  WHERE lanname IN ('c', 'internal'))))
              AND p.oid NOT IN (SELECT fn FROM calls)),
          NULL, 'every API function of the extension is called below (add a call for the ones named here)');

SELECT is(pg_temp.run_planted(c.sql), NULL, format('%s runs with planted objects first in search_path', c.fn))
  FROM calls c ORDER BY c.position;

SELECT is((SELECT last_value || ' ' || is_called FROM planted.ran), '1 false',
          'no planted operator or function ran, not even one whose error was caught');

SELECT is(current_setting('search_path'), '"$user", public', 'the search_path is back');

SELECT * FROM finish();
ROLLBACK;
