/*
 * sql/mostajs--0.1.0--0.2.0.sql
 *	  Takes a mostajs 0.1.0 catalog to 0.2.0 (ALTER EXTENSION mostajs UPDATE):
 *	  afterwards the database holds exactly what CREATE EXTENSION mostajs
 *	  VERSION '0.2.0' makes, and every row of the mosta.* tables is kept.
 *
 * Derived by comparing a 0.1.0 install with a fresh 0.2.0 install
 * (pg_dump --binary-upgrade --schema-only, which lists the extension's
 * members, their grants and comments); test/integration/upgrade.sh checks
 * the two stay identical. What changes:
 *  - the status CHECK of mosta.target_status and mosta.rule_stats accepts
 *    'stopped' (a sidecar that stops cleanly marks its targets so);
 *  - mosta.snapshot_documents(regclass, boolean) becomes
 *    mosta.snapshot_documents(regclass, boolean, boolean, integer)
 *    (partition_root, format_version): dropped and created again, with its
 *    comment and grants. The C function reads PG_NARGS(), so the 0.1.0
 *    declaration keeps working with the new library until this runs;
 *  - new functions (id map locking, key length checks, the types and
 *    rewrites of DDL messages, SQL dump validation, mosta_seed_counter, ...)
 *    with their grants;
 *  - new bodies of changed functions (CREATE OR REPLACE keeps their grants
 *    and comments; none changed its return type or argument names);
 *  - conflicts of bidirectional rules (sql/parts/70_conflicts.sql): the
 *    table mosta.conflicts and its functions, mosta.rules.conflict_resolution
 *    accepts 'error', mosta.rule_stats gets the counter conflicts, and
 *    mosta_rules() its last column conflicts (a new result type: dropped and
 *    created again, with its comment; PUBLIC keeps EXECUTE, as on any new
 *    function) and mosta_topology() each rule's stats.conflicts;
 *  - the event trigger mosta_ddl_command_end also fires on ALTER DOMAIN
 *    (created again: ALTER EVENT TRIGGER cannot change the tags), and the
 *    new one mosta_ddl_table_rewrite records the tables a command rewrites;
 *  - the in-server write lease of automatic failover (sql/parts/80_write_lease.sql):
 *    mosta_write_lease_grant/revoke/state, for mosta_admin only.
 * Statements follow the order of the 0.2.0 install script, so a SQL function
 * finds the functions its body calls.
 *
 * Never edit this file once 0.2.0 is released: a later change goes to
 * mostajs--0.2.0--<next>.sql.
 */

\echo Use "ALTER EXTENSION mostajs UPDATE TO '0.2.0'" to load this file. \quit

-- mosta_ddl_command_end fires on ALTER DOMAIN too in 0.2.0: it is created again at the end (ALTER EVENT TRIGGER
-- cannot change the tags); dropped first, so that this script's ALTER TABLE does not fire the 0.1.0 one.
DROP EVENT TRIGGER mosta_ddl_command_end;

-- A target or rule stopped by a clean shutdown of the sidecar says 'stopped'.
ALTER TABLE mosta.target_status DROP CONSTRAINT target_status_status_check,
	ADD CONSTRAINT target_status_status_check
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'stopped', 'error'));
ALTER TABLE mosta.rule_stats DROP CONSTRAINT rule_stats_status_check,
	ADD CONSTRAINT rule_stats_status_check
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'stopped', 'error'));

-- Conflicts (sql/parts/70_conflicts.sql): the policy error, and the counter of recorded conflicts.
ALTER TABLE mosta.rules DROP CONSTRAINT rules_conflict_resolution_check,
	ADD CONSTRAINT rules_conflict_resolution_check
		CHECK (conflict_resolution IN ('source-wins', 'target-wins', 'last-write-wins', 'error'));
-- Added without a default, then filled: ADD COLUMN ... DEFAULT 0 would keep the 0 of the existing rows as a "missing
-- value" in pg_attribute, which a fresh install does not have (pg_dump --binary-upgrade shows it).
ALTER TABLE mosta.rule_stats ADD COLUMN conflicts bigint;
UPDATE mosta.rule_stats SET conflicts = 0;
ALTER TABLE mosta.rule_stats ALTER COLUMN conflicts SET DEFAULT 0, ALTER COLUMN conflicts SET NOT NULL;

-- snapshot_documents gets partition_root and format_version: a new signature, so the old function goes (its
-- comment and grants with it); the new one is created below, where the install script creates it. No other
-- object depends on it (SQL function bodies record no dependencies).
DROP FUNCTION mosta.snapshot_documents(regclass, boolean);

-- _check_key_length raises 54000 when a text that goes into a btree index of
-- the catalog (an id map's collection or legacy id, a counter's scope or key)
-- is longer than max_key_bytes: PostgreSQL's own error would come from deep
-- in the index ("index row size ... exceeds btree version 4 maximum 2704").
-- 1024 bytes per part keeps a two-part key within that limit, compressed or not.
CREATE FUNCTION mosta._check_key_length(value text, argument text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	max_key_bytes CONSTANT integer := 1024;
BEGIN
	IF octet_length(value) > max_key_bytes THEN
		RAISE EXCEPTION '% is too long (% bytes)', argument, octet_length(value)
			USING ERRCODE = 'program_limit_exceeded',
			      DETAIL = format('%s is stored in a btree index, which limits it to %s bytes.', argument, max_key_bytes),
			      HINT = format('Use a shorter %s, e.g. a digest of it: md5(%s).', argument, argument);
	END IF;
	RETURN value;
END
$$;

-- _require_relation raises 22004 when tbl is NULL and 42P01 when it is an OID
-- that names no relation (0, or a dropped table's): regclass accepts any
-- number, and its text '-' or the bare number would reach the user otherwise.
CREATE FUNCTION mosta._require_relation(tbl regclass, argument text) RETURNS regclass
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(tbl, argument);
	IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = tbl) THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid
			USING ERRCODE = 'undefined_table',
			      HINT = format('Pass an existing table as %s, e.g. ''public.orders''::regclass.', argument);
	END IF;
	RETURN tbl;
END
$$;

-- _resolve_collections returns the canonical form of a rule's collections:
-- {*} alone, or distinct qualified table names that each have a key. It runs
-- with the caller's search_path and privileges (SECURITY INVOKER, no SET):
-- a canonical name resolves the same under any search_path. So that nothing
-- planted earlier in that search_path runs as the caller, every operator and
-- function here is schema-qualified (test/pgtap/98_search_path.sql).
CREATE OR REPLACE FUNCTION mosta._resolve_collections(collections text[]) RETURNS text[]
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	resolved text[] := '{}';
	item text;
BEGIN
	PERFORM mosta._require(collections, 'collections');
	IF pg_catalog.cardinality(collections) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'collections must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'List table names, or use ARRAY[''*''] for every table with a key.';
	END IF;
	IF '*' OPERATOR(pg_catalog.=) ANY (collections) THEN
		IF pg_catalog.cardinality(collections) OPERATOR(pg_catalog.>) 1 THEN
			RAISE EXCEPTION 'collection "*" must be the only collection of a rule'
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Use ARRAY[''*''] for every table with a key, or list the tables.';
		END IF;
		RETURN ARRAY['*'];
	END IF;
	FOREACH item IN ARRAY collections LOOP
		item := mosta.resolve_collection(item);
		IF NOT item OPERATOR(pg_catalog.=) ANY (resolved) THEN
			resolved := resolved OPERATOR(pg_catalog.||) item;
		END IF;
	END LOOP;
	RETURN resolved;
END
$$;

-- _within_tolerance tells whether a replica's reported state is trustworthy
-- and close enough to the master: reported up, within mostajs.status_max_age
-- (0: no limit), and lagging by no more than its tolerance.
-- _status_is_stale tells whether a status report written at last_seen is older
-- than mostajs.status_max_age (0: never stale): its sidecar may be gone (a
-- SIGKILL, a crash), so nothing it said can be trusted any more. A cleanly
-- stopped sidecar says so at once (targets stopped, replicas down).
CREATE FUNCTION mosta._status_is_stale(last_seen timestamptz)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT $1 IS NOT NULL AND mosta.status_max_age_ms() <> 0
	       AND $1 < now() - make_interval(secs => mosta.status_max_age_ms() / 1000.0)
$$;

CREATE OR REPLACE FUNCTION mosta._within_tolerance(status text, lag_ms bigint, last_seen timestamptz, tolerance_ms bigint)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce($1 = 'up' AND $2 <= $4 AND $3 IS NOT NULL AND NOT mosta._status_is_stale($3), false)
$$;

-- the sync_state of a PostgreSQL standby in its master's pg_stat_replication, as the sidecar observes it
ALTER TABLE mosta.replica_status ADD COLUMN sync_state text CHECK (sync_state IN ('async', 'potential', 'sync', 'quorum'));
ALTER TYPE mosta.replica_status_row ADD ATTRIBUTE sync_state text;

CREATE OR REPLACE FUNCTION mosta_replica_status(project text DEFAULT NULL)
	RETURNS SETOF mosta.replica_status_row
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF project IS NOT NULL THEN
		PERFORM mosta._require_project(project, 'project');
	END IF;
	RETURN QUERY
	-- a report older than mostajs.status_max_age says nothing about now (its sidecar may be gone): unknown
	SELECT r.project::text, r.name::text, r.role, r.dialect, r.uri,
	       CASE WHEN s.status IS NULL OR f.stale THEN 'unknown' ELSE s.status END,
	       CASE WHEN f.stale THEN NULL ELSE s.lag_ms END, CASE WHEN f.stale THEN NULL ELSE s.lag_bytes END,
	       r.lag_tolerance_ms,
	       mosta._within_tolerance(s.status, s.lag_ms, s.last_seen, r.lag_tolerance_ms),
	       s.applied_lsn, s.tables, s.last_seen, mosta.mask_text(s.last_error),
	       CASE WHEN f.stale THEN NULL ELSE s.sync_state END
	  FROM mosta.replicas_masked r
	  LEFT JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
	 CROSS JOIN LATERAL (SELECT mosta._status_is_stale(s.last_seen) AS stale) f
	 WHERE mosta_replica_status.project IS NULL OR r.project = mosta_replica_status.project
	 ORDER BY r.project, r.role, r.name;
END
$$;

-- _add_rule stores a rule whose collections the caller has already resolved.
CREATE OR REPLACE FUNCTION mosta._add_rule(
	name text, source text, target text, mode text, collections text[], conflict_resolution text, enabled boolean
) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	canonical text[];
BEGIN
	PERFORM mosta._check_name(name, 'name');
	PERFORM mosta._require_project(source, 'source');
	PERFORM mosta._require_project(target, 'target');
	PERFORM mosta._check_choice(mode, 'mode', ARRAY['snapshot', 'cdc', 'bidirectional']);
	PERFORM mosta._check_choice(conflict_resolution, 'conflict_resolution',
	                            ARRAY['source-wins', 'target-wins', 'last-write-wins', 'error']);
	PERFORM mosta._require(enabled, 'enabled');
	IF mode = 'bidirectional' AND source = target THEN
		RAISE EXCEPTION 'a bidirectional rule needs two different projects'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use mode ''cdc'' to stream a project into its own non-PostgreSQL slaves.';
	END IF;
	-- canonical names resolve the same under our pinned search_path: this
	-- re-checks that each still exists and has a key
	canonical := mosta._resolve_collections(collections);
	BEGIN
		INSERT INTO mosta.rules (name, source_project, target_project, mode, collections, conflict_resolution, enabled)
		VALUES (name, source, target, mode, canonical, conflict_resolution, enabled);
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'rule "%" already exists', name
			USING ERRCODE = 'unique_violation',
			      HINT = 'Choose another name, or remove the rule first with mosta_remove_rule().';
	END;
	PERFORM mosta._log('add_rule', source, name,
		jsonb_build_object('target', target, 'mode', mode, 'collections', to_jsonb(canonical),
		                   'conflict_resolution', conflict_resolution, 'enabled', enabled));
END
$$;

-- mosta_rules() gets its last column conflicts: a new result type, so it is dropped and created again.
DROP FUNCTION mosta_rules();
CREATE FUNCTION mosta_rules()
	RETURNS TABLE (
		name text, source text, target text, mode text, collections text[], conflict_resolution text,
		enabled boolean, status text, snapshot_rows bigint, changes_applied bigint, transactions bigint,
		confirmed_lsn pg_lsn, retained_bytes bigint, last_applied_at timestamptz, last_error text,
		conflicts bigint
	)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.name, r.source_project, r.target_project, r.mode, r.collections, r.conflict_resolution,
	       r.enabled,
	       CASE WHEN NOT r.enabled THEN 'disabled' ELSE coalesce(s.status, 'pending') END,
	       coalesce(s.snapshot_rows, 0), coalesce(s.changes_applied, 0), coalesce(s.transactions, 0),
	       s.confirmed_lsn, s.retained_bytes, s.last_applied_at, mosta.mask_text(s.last_error),
	       coalesce(s.conflicts, 0)
	  FROM mosta.rules r
	  LEFT JOIN mosta.rule_stats s ON s.rule = r.name
	 ORDER BY r.name
$$;
COMMENT ON FUNCTION mosta_rules() IS
	'Returns each rule with the counters the sidecar reports and the number of conflicts recorded';

-- _mask_json returns the jsonb document doc with every string in it masked by
-- mosta.mask_text, object keys included, at any depth; the value of a member
-- whose key names a secret (password, token, ... : the keys mask_text masks
-- in key=value) becomes "***" whatever its type, unless it is null or "".
-- mosta.activity.detail goes through it on its way to PUBLIC in
-- mosta_topology(): the API masks the URIs it logs, but the sidecar writes
-- its events' texts (a target's error, which may quote a connection string)
-- as they are.
CREATE FUNCTION mosta._mask_json(doc jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE jsonb_typeof(doc)
		WHEN 'string' THEN to_jsonb(mosta.mask_text(doc #>> '{}'))
		WHEN 'array' THEN coalesce((
			SELECT jsonb_agg(mosta._mask_json(e.element) ORDER BY e.position)
			  FROM jsonb_array_elements(doc) WITH ORDINALITY e(element, position)), '[]')
		WHEN 'object' THEN coalesce((
			SELECT jsonb_object_agg(mosta.mask_text(m.key),
			                        CASE WHEN mosta.mask_text(m.key || '=x') <> mosta.mask_text(m.key) || '=x'
			                                  AND m.value NOT IN ('null', '""') THEN '"***"'
			                             ELSE mosta._mask_json(m.value) END)
			  FROM jsonb_each(doc) m), '{}')
		ELSE doc
	END
$$;
COMMENT ON FUNCTION mosta._mask_json(jsonb) IS
	'Returns a jsonb value with every string masked by mosta.mask_text and the values of secret keys as ***';

-- mosta_topology is the topology file (mosta-sidecar --tree) in one jsonb
-- value: docs/sql-api.md, "Topology JSON". Version 2 adds to version 1's
-- fields statusMaxAgeMs, each project's readsGoTo and eligible (what
-- mosta_read_replica decides, from the same _eligible_slaves, without
-- advancing the session's round-robin position) and the recent activity,
-- its detail masked by _mask_json; each rule's stats carry conflicts (the
-- count of mosta_rules(), recorded in mosta.conflicts).
CREATE OR REPLACE FUNCTION mosta_topology() RETURNS jsonb
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object(
		'version', 2,
		'generatedAt', now(),
		'statusMaxAgeMs', mosta.status_max_age_ms(),
		'projects', coalesce((
			SELECT jsonb_object_agg(p.name, jsonb_build_object(
				'readRouting', g.strategy,
				-- as mosta_read_replica(): the least lagging eligible slave, or the master when none is
				-- eligible; round-robin and random choose per call, so only eligible tells
				'readsGoTo', CASE WHEN e.by_lag IS NULL
				                  THEN (SELECT m.name FROM mosta.replicas m WHERE m.project = p.name AND m.role = 'master')
				                  WHEN g.strategy = 'least-lag' THEN e.by_lag[1] END,
				'eligible', to_jsonb(coalesce(e.by_lag, '{}')),
				'replicas', coalesce((
					SELECT jsonb_agg(jsonb_build_object(
						'name', r.name, 'role', r.role, 'dialect', r.dialect, 'uri', r.uri,
						'lagTolerance', r.lag_tolerance_ms,
						'pool', jsonb_build_object('min', r.pool_min, 'max', r.pool_max),
						'status', jsonb_build_object(
							-- as mosta_replica_status(): a stale report is unknown, its lag too
							'status', CASE WHEN s.status IS NULL OR mosta._status_is_stale(s.last_seen) THEN 'unknown'
							               ELSE s.status END,
							'lagMs', CASE WHEN mosta._status_is_stale(s.last_seen) THEN NULL ELSE s.lag_ms END,
							'lagBytes', CASE WHEN mosta._status_is_stale(s.last_seen) THEN NULL ELSE s.lag_bytes END,
							'appliedLsn', s.applied_lsn, 'tables', s.tables, 'lastSeen', s.last_seen,
							'withinTolerance', mosta._within_tolerance(s.status, s.lag_ms, s.last_seen, r.lag_tolerance_ms),
							'lastError', mosta.mask_text(s.last_error),
							'syncState', CASE WHEN mosta._status_is_stale(s.last_seen) THEN NULL ELSE s.sync_state END)
					) ORDER BY r.role, r.name)
					  FROM mosta.replicas_masked r
					  LEFT JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
					 WHERE r.project = p.name), '[]')))
			  FROM mosta.projects p
			 CROSS JOIN LATERAL (SELECT coalesce((SELECT o.strategy FROM mosta.routing o WHERE o.project = p.name),
			                                     'least-lag') AS strategy) g
			 CROSS JOIN LATERAL (SELECT array_agg(l.replica ORDER BY l.lag_ms, l.replica) AS by_lag
			                       FROM mosta._eligible_slaves(p.name) l) e), '{}'),
		'rules', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'name', u.name, 'source', u.source, 'target', u.target, 'mode', u.mode,
				'collections', to_jsonb(u.collections), 'conflictResolution', u.conflict_resolution,
				'enabled', u.enabled,
				'stats', jsonb_build_object('status', u.status, 'snapshotRows', u.snapshot_rows,
				                            'changesApplied', u.changes_applied, 'transactions', u.transactions,
				                            'confirmedLsn', u.confirmed_lsn, 'retainedBytes', u.retained_bytes,
				                            'lastAppliedAt', u.last_applied_at, 'lastError', u.last_error,
				                            'conflicts', u.conflicts),
				'targets', coalesce((
					SELECT jsonb_agg(jsonb_build_object(
						'project', g.project, 'replica', g.replica, 'slot', g.slot, 'status', g.status,
						'appliedLsn', g.applied_lsn, 'retainedBytes', g.retained_bytes, 'walStatus', g.wal_status,
						'resnapshots', g.resnapshots, 'lastError', g.last_error, 'warning', g.warning,
						'updatedAt', g.updated_at
					) ORDER BY g.project, g.replica)
					  FROM @extschema@.mosta_rule_targets(u.name) g), '[]')
			) ORDER BY u.name)
			  FROM @extschema@.mosta_rules() u), '[]'),
		-- the 30 most recent changes, newest first; mosta.activity itself is not readable by PUBLIC
		'activity', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'id', a.id, 'at', a.at, 'actor', a.actor, 'action', a.action, 'project', a.project,
				'object', mosta.mask_text(a.object), 'detail', mosta._mask_json(a.detail)
			) ORDER BY a.at DESC, a.id DESC)
			  FROM (SELECT * FROM mosta.activity x ORDER BY x.at DESC, x.id DESC LIMIT 30) a), '[]'))
$$;
COMMENT ON FUNCTION mosta_topology() IS
	'Returns the whole topology (projects, replicas, routing, rules, status, recent activity) as jsonb, '
	'passwords masked';

GRANT EXECUTE ON FUNCTION mosta._require_relation(regclass, text) TO PUBLIC;

GRANT EXECUTE ON FUNCTION mosta._check_key_length(text, text) TO mosta_admin;

-- User-defined types in the DDL documents. The SQL dump recreates the types
-- its tables need (docs/sidecar.md, "SQL dump"): these functions are the one
-- place that reads a type's definition from the catalogs. A definition is a
-- JSON object: "oid", "type" (format_type's spelling, as change documents'
-- "types" name it), "schema", "name", "kind" and the kind's fields:
--   enum        "labels" in sort order
--   composite   "attributes": name, type, collation (NULL: the type's own)
--   domain      "base", "collation", "not_null", "constraints": name,
--               definition, validated, portable (false: it calls a function
--               or operator outside pg_catalog, which an empty database lacks)
--   range       "subtype", "opclass", "collation", "canonical", "subtype_diff"
--               (NULL when default or absent), "multirange"
--   extension   "extension": a member of that extension (any kind)
--   unsupported "reason": a base type written in C, a table's row type, ...
-- Arrays and multiranges have no definition of their own: they come with
-- their element type and range.

-- _type_children returns the types a type is made of: an array's element, a
-- domain's base type, a composite's attribute types, a range's subtype, a
-- multirange's range.
CREATE FUNCTION mosta._type_children(typid oid) RETURNS SETOF oid
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT t.typelem FROM pg_type t
	 WHERE t.oid = $1 AND t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc
	UNION ALL
	SELECT t.typbasetype FROM pg_type t WHERE t.oid = $1 AND t.typtype = 'd'
	UNION ALL
	SELECT a.atttypid
	  FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	 WHERE t.oid = $1
	UNION ALL
	SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = $1
	UNION ALL
	SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = $1
$$;

-- _type_extension returns the extension a type belongs to, or NULL.
CREATE FUNCTION mosta._type_extension(typid oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT e.extname::text
	  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	 WHERE d.classid = 'pg_type'::regclass AND d.objid = $1
	   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	 LIMIT 1
$$;

-- _type_is_user tells whether a type needs a definition in a dump: outside
-- pg_catalog and information_schema, and neither an array nor a multirange.
CREATE FUNCTION mosta._type_is_user(typid oid) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT EXISTS (
		SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		 WHERE t.oid = $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype <> 'm'
		   AND NOT (t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc))
$$;

-- _type_closure returns the user types that the given types are made of
-- (themselves included), each once, every type after the types it is made
-- of. Extension members and table row types are not looked into: the
-- extension or the table brings them.
CREATE FUNCTION mosta._type_closure(roots oid[]) RETURNS TABLE (typid oid)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH RECURSIVE walk(typid, depth) AS (
		SELECT r, 0 FROM unnest($1) r
		UNION ALL
		SELECT c, w.depth + 1
		  FROM walk w CROSS JOIN LATERAL mosta._type_children(w.typid) c
		 WHERE w.depth < 64 AND mosta._type_extension(w.typid) IS NULL
		   AND NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_class k ON k.oid = t.typrelid
		                    WHERE t.oid = w.typid AND k.relkind <> 'c')
	)
	SELECT w.typid FROM walk w
	 WHERE mosta._type_is_user(w.typid)
	 GROUP BY w.typid
	 ORDER BY max(w.depth) DESC, w.typid
$$;

-- _qualified_name returns schema.name, each quoted where needed.
CREATE FUNCTION mosta._qualified_name(namespace oid, name name) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT quote_ident(n.nspname) || '.' || quote_ident($2) FROM pg_namespace n WHERE n.oid = $1
$$;

-- _type_definition returns the definition of a user type (see above).
CREATE FUNCTION mosta._type_definition(typid oid) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object('oid', t.oid::bigint, 'type', format_type(t.oid, NULL), 'schema', n.nspname::text,
	                          'name', t.typname::text)
	    || CASE
	       WHEN mosta._type_extension(t.oid) IS NOT NULL THEN
	           jsonb_build_object('kind', 'extension', 'extension', mosta._type_extension(t.oid))
	       WHEN t.typtype = 'e' THEN
	           jsonb_build_object('kind', 'enum', 'labels',
	               coalesce((SELECT jsonb_agg(e.enumlabel::text ORDER BY e.enumsortorder)
	                           FROM pg_enum e WHERE e.enumtypid = t.oid), '[]'))
	       WHEN t.typtype = 'c' AND k.relkind = 'c' THEN
	           jsonb_build_object('kind', 'composite', 'attributes',
	               coalesce((SELECT jsonb_agg(jsonb_build_object(
	                                 'name', a.attname::text, 'type', format_type(a.atttypid, a.atttypmod),
	                                 'collation', CASE WHEN a.attcollation NOT IN (0, at.typcollation) THEN
	                                              (SELECT mosta._qualified_name(l.collnamespace, l.collname)
	                                                 FROM pg_collation l WHERE l.oid = a.attcollation) END)
	                                 ORDER BY a.attnum)
	                           FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
	                          WHERE a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'))
	       WHEN t.typtype = 'c' THEN
	           jsonb_build_object('kind', 'unsupported', 'reason',
	               format('the row type of table %s', mosta._qualified_name(k.relnamespace, k.relname)))
	       WHEN t.typtype = 'd' THEN
	           jsonb_build_object('kind', 'domain', 'base', format_type(t.typbasetype, t.typtypmod),
	               'not_null', t.typnotnull,
	               'collation', CASE WHEN t.typcollation NOT IN (0, bt.typcollation) THEN
	                            (SELECT mosta._qualified_name(l.collnamespace, l.collname)
	                               FROM pg_collation l WHERE l.oid = t.typcollation) END,
	               'constraints', coalesce((SELECT jsonb_agg(jsonb_build_object(
	                                  'name', o.conname::text, 'definition', pg_get_constraintdef(o.oid),
	                                  'validated', o.convalidated,
	                                  'portable', NOT EXISTS (
	                                      SELECT 1 FROM pg_depend d
	                                        LEFT JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass
	                                                           AND p.oid = d.refobjid
	                                        LEFT JOIN pg_operator r ON d.refclassid = 'pg_operator'::regclass
	                                                               AND r.oid = d.refobjid
	                                       WHERE d.classid = 'pg_constraint'::regclass AND d.objid = o.oid
	                                         AND coalesce(p.pronamespace, r.oprnamespace)
	                                             <> 'pg_catalog'::regnamespace))
	                                  ORDER BY o.conname)
	                              FROM pg_constraint o WHERE o.contypid = t.oid AND o.contype = 'c'), '[]'))
	       WHEN t.typtype = 'r' AND g.rngcanonical <> 0
	            AND (SELECT p.pronamespace <> 'pg_catalog'::regnamespace FROM pg_proc p WHERE p.oid = g.rngcanonical) THEN
	           jsonb_build_object('kind', 'unsupported', 'reason',
	               format('a range type whose canonical function %s is a user function (written in C)',
	                      g.rngcanonical::regprocedure))
	       WHEN t.typtype = 'r' THEN
	           jsonb_build_object('kind', 'range', 'subtype', format_type(g.rngsubtype, NULL),
	               'opclass', (SELECT mosta._qualified_name(c.opcnamespace, c.opcname)
	                             FROM pg_opclass c WHERE c.oid = g.rngsubopc AND NOT c.opcdefault),
	               'collation', CASE WHEN g.rngcollation NOT IN (0, st.typcollation) THEN
	                            (SELECT mosta._qualified_name(l.collnamespace, l.collname)
	                               FROM pg_collation l WHERE l.oid = g.rngcollation) END,
	               'canonical', (SELECT mosta._qualified_name(p.pronamespace, p.proname)
	                               FROM pg_proc p WHERE p.oid = g.rngcanonical),
	               'subtype_diff', (SELECT mosta._qualified_name(p.pronamespace, p.proname)
	                                  FROM pg_proc p WHERE p.oid = g.rngsubdiff
	                                   AND p.pronamespace = 'pg_catalog'::regnamespace),
	               'multirange', format_type(g.rngmultitypid, NULL))
	       ELSE
	           jsonb_build_object('kind', 'unsupported', 'reason',
	               CASE t.typtype WHEN 'b' THEN 'a base type (written in C)' ELSE 'a pseudo-type' END)
	       END
	  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
	  LEFT JOIN pg_class k ON k.oid = t.typrelid
	  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
	  LEFT JOIN pg_range g ON g.rngtypid = t.oid
	  LEFT JOIN pg_type st ON st.oid = g.rngsubtype
	 WHERE t.oid = $1
$$;

-- _ddl_types_json returns the JSON array of the definitions of the user types
-- a table's replicated columns need, each after the types it is made of: the
-- "types" of a table's DDL document.
CREATE FUNCTION mosta._ddl_types_json(relid oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce(jsonb_agg(mosta._type_definition(c.typid) ORDER BY c.n)::text, '[]')
	  FROM mosta._type_closure(ARRAY(
	           SELECT a.atttypid FROM pg_attribute a
	            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''))
	       WITH ORDINALITY c(typid, n)
$$;

-- _ddl_type_json returns the content of a mostajs.type message: the command,
-- the type it changed ("type", absent for the initial copy) and the
-- definitions of that type and of the types it is made of ("types").
CREATE FUNCTION mosta._ddl_type_json(command text, typid oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT '{"command":' || to_json($1)::text
	    || ',"type":' || to_json(format_type($2, NULL))::text
	    || ',"types":' || coalesce((SELECT jsonb_agg(mosta._type_definition(c.typid) ORDER BY c.n)::text
	                                  FROM mosta._type_closure(ARRAY[$2]) WITH ORDINALITY c(typid, n)), '[]')
	    || '}'
	 WHERE mosta._type_is_user($2)
$$;

-- _column_fill returns the value rows older than a column hold in it (the
-- "fast default" PostgreSQL keeps in pg_attribute.attmissingval), written as
-- the change stream writes values; NULL when there is none. For a partitioned
-- table, the value its leaves hold.
CREATE FUNCTION mosta._column_fill(relid oid, attname name) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_column_fill'
	LANGUAGE C STABLE STRICT;

-- _ddl_table_json returns the one-line JSON document announcing a table's new
-- shape after command: its live columns in attnum order (generated columns
-- are left out, as they are from change documents), each with the "fill"
-- older rows hold when PostgreSQL stored one, its key in the index's column
-- order (the REPLICA IDENTITY USING INDEX index, else the primary key: the
-- "key" of change documents)
-- and its replica identity; "rewritten" when the command rewrote the table
-- (or one of its partitions: mosta._ddl_table_rewrite recorded it), and
-- "partition_root" for a partition. Every name goes through to_json, so no
-- character in a name can break the document; the pinned search_path makes
-- types and defaults come out schema-qualified whatever the DDL's search_path
-- was. The initial copy announces each table with it too
-- (mosta.snapshot_ddl_document): one owner of a table's shape document.
CREATE OR REPLACE FUNCTION mosta._ddl_table_json(command text, relid oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT '{"command":' || to_json($1)::text
	    || ',"schema":' || to_json(n.nspname::text)::text
	    || ',"table":' || to_json(c.relname::text)::text
	    || ',"object_identity":' || to_json((pg_identify_object('pg_class'::regclass, c.oid, 0)).identity)::text
	    || ',"columns":[' || coalesce((
	           SELECT string_agg('{"name":' || to_json(a.attname::text)::text
	                             || ',"type":' || to_json(format_type(a.atttypid, a.atttypmod))::text
	                             || ',"nullable":' || CASE WHEN a.attnotnull THEN 'false' ELSE 'true' END
	                             || coalesce(',"default":' || to_json(pg_get_expr(d.adbin, d.adrelid))::text, '')
	                             || CASE WHEN a.atthasmissing
	                                       OR (c.relkind = 'p' AND EXISTS (
	                                           SELECT 1 FROM pg_partition_tree(c.oid) t
	                                             JOIN pg_attribute l ON l.attrelid = t.relid AND l.attname = a.attname
	                                            WHERE t.isleaf AND l.atthasmissing))
	                                     THEN coalesce(',"fill":' || mosta._column_fill(c.oid, a.attname), '')
	                                     ELSE '' END
	                             || '}', ',' ORDER BY a.attnum)
	             FROM pg_attribute a
	             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), '')
	    || '],"key":[' || coalesce((
	           SELECT string_agg(to_json(a.attname::text)::text, ',' ORDER BY array_position(k.indkey::int2[], a.attnum))
	             FROM (SELECT i.indkey FROM pg_index i
	                    WHERE i.indrelid = c.oid AND i.indisvalid AND i.indimmediate
	                      AND (i.indisprimary OR (c.relreplident = 'i' AND i.indisreplident))
	                    ORDER BY (c.relreplident = 'i' AND i.indisreplident) DESC LIMIT 1) k
	             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (k.indkey)), '')
	    || '],"replica_identity":'
	    || CASE c.relreplident WHEN 'd' THEN '"default"' WHEN 'f' THEN '"full"' WHEN 'i' THEN '"index"'
	                           ELSE '"nothing"' END
	    || CASE WHEN EXISTS (
	           SELECT 1 FROM unnest(string_to_array(current_setting('mosta.rewritten_tables', true), ' ')) r(relid)
	            WHERE r.relid <> '' AND (r.relid::oid = c.oid
	                  OR (c.relkind = 'p' AND r.relid::oid IN (SELECT t.relid FROM pg_partition_tree(c.oid) t))))
	            THEN ',"rewritten":true' ELSE '' END
	    || CASE WHEN c.relispartition THEN (
	           SELECT ',"partition_root":{"schema":' || to_json(rn.nspname::text)::text
	               || ',"table":' || to_json(r.relname::text)::text || '}'
	             FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
	            WHERE r.oid = pg_partition_root(c.oid)) ELSE '' END
	    || ',"types":' || mosta._ddl_types_json(c.oid)
	    || '}'
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = $2
$$;

-- snapshot_ddl_document returns the mostajs.ddl message document that
-- announces tbl's shape as its CREATE TABLE did, as the plugin would write it
-- ({"op":"message",...,"prefix":"mostajs.ddl","content":{...}}): the initial
-- copy applies it before the table's rows, so every target holds every copied
-- table, rows or none, through the path that follows CREATE TABLE while
-- streaming. SECURITY DEFINER: it reads only catalogs, through helpers that
-- are not granted to PUBLIC.
CREATE FUNCTION mosta.snapshot_ddl_document(tbl regclass) RETURNS text
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'argument "tbl" must not be null'
			USING ERRCODE = 'null_value_not_allowed',
			      HINT = 'Pass the table to announce, e.g. ''public.orders''::regclass.';
	END IF;
	IF NOT mosta._ddl_user_table(tbl) THEN
		RAISE EXCEPTION '"%" is not a user table', tbl
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Shapes are announced for permanent ordinary and partitioned tables outside the system schemas and mosta.';
	END IF;
	RETURN '{"op":"message","transactional":true,"prefix":"mostajs.ddl","content":'
	       || mosta._ddl_table_json('CREATE TABLE', tbl) || '}';
END
$$;

COMMENT ON FUNCTION mosta.snapshot_ddl_document(regclass) IS
	'Returns the mostajs.ddl message document announcing a table''s shape (as CREATE TABLE), which the initial copy applies before its rows';

-- _type_emit writes a type document (mosta._ddl_type_json) into WAL as a
-- transactional mostajs.type message, as _ddl_emit does for tables.
CREATE FUNCTION mosta._type_emit(document text) RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT pg_logical_emit_message(true, 'mostajs.type', $1) WHERE $1 IS NOT NULL
$$;

-- _ddl_command_end announces the new shape of every user table a CREATE TABLE
-- (AS), SELECT INTO, ALTER TABLE or ALTER TYPE command created or altered.
-- ALTER TABLE on a parent also changes its partitions and inheritance
-- children, which pg_event_trigger_ddl_commands() does not list: they are
-- announced after it. ALTER TYPE ... CASCADE changes typed tables.
-- It runs as the extension owner, so that DDL of any user can call the
-- helpers above, which are not granted to PUBLIC; it only reads catalogs.
CREATE OR REPLACE FUNCTION mosta._ddl_command_end() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target record;
BEGIN
	IF current_setting('wal_level') <> 'logical' THEN
		RETURN;
	END IF;
	-- an altered user type first (a composite is named by its pg_class row),
	-- so a sink follows it before the tables that use it
	FOR target IN
		SELECT x.typid, x.command_tag FROM (
			SELECT DISTINCT ON (y.typid) y.typid, y.command_tag, y.position
			  FROM (SELECT d.ordinality AS position, d.command_tag,
			               CASE WHEN d.classid = 'pg_type'::regclass THEN d.objid
			                    ELSE (SELECT k.reltype FROM pg_class k WHERE k.oid = d.objid AND k.relkind = 'c')
			               END AS typid
			          FROM pg_event_trigger_ddl_commands() WITH ORDINALITY d
			         WHERE d.command_tag IN ('ALTER TYPE', 'ALTER DOMAIN')) y
			 WHERE y.typid IS NOT NULL
			 ORDER BY y.typid, y.position) x
		 ORDER BY x.position
	LOOP
		PERFORM mosta._type_emit(mosta._ddl_type_json(target.command_tag, target.typid));
	END LOOP;
	FOR target IN
		WITH RECURSIVE commands AS (
			SELECT d.ordinality AS position, d.command_tag, d.classid, d.objid
			  FROM pg_event_trigger_ddl_commands() WITH ORDINALITY d
		), named AS (
			SELECT c.position, c.command_tag, c.objid AS relid FROM commands c
			 WHERE c.classid = 'pg_class'::regclass
			UNION ALL
			-- ALTER TYPE names a composite type by its type or by its pg_class row
			SELECT c.position, c.command_tag, t.oid FROM commands c JOIN pg_class t ON t.reloftype = c.objid
			 WHERE c.classid = 'pg_type'::regclass
			UNION ALL
			SELECT c.position, c.command_tag, t.oid
			  FROM commands c JOIN pg_class k ON k.oid = c.objid AND k.relkind = 'c'
			  JOIN pg_class t ON t.reloftype = k.reltype
			 WHERE c.classid = 'pg_class'::regclass
		), tree AS (
			SELECT n.position, n.command_tag, n.relid, 0 AS depth FROM named n
			UNION ALL
			SELECT t.position, t.command_tag, i.inhrelid, t.depth + 1
			  FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
			 WHERE t.command_tag = 'ALTER TABLE'
		)
		SELECT f.relid, f.command_tag FROM (
			SELECT DISTINCT ON (t.relid) t.relid, t.command_tag, t.position, t.depth
			  FROM tree t
			 WHERE mosta._ddl_user_table(t.relid)
			 ORDER BY t.relid, t.position, t.depth) f
		 ORDER BY f.position, f.depth, f.relid
	LOOP
		PERFORM mosta._ddl_emit(mosta._ddl_table_json(target.command_tag, target.relid));
	END LOOP;
	-- what mosta._ddl_table_rewrite recorded is this command's: announced above
	PERFORM set_config('mosta.rewritten_tables', '', false);
END
$$;

-- _ddl_table_rewrite records, for the ddl_command_end trigger of the same
-- command, that it rewrites a table: an ADD COLUMN whose default is volatile
-- (clock_timestamp(), random(), nextval(), an identity) gives each existing
-- row its own value in the rewrite, which no change document carries, so the
-- message says "rewritten" and a target re-copies (docs/capture.md section 3).
-- A transaction-local setting carries the list: a function with a SET clause
-- would undo it on return, so this one pins nothing and qualifies every name.
CREATE FUNCTION mosta._ddl_table_rewrite() RETURNS event_trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM pg_catalog.set_config('mosta.rewritten_tables',
	                              pg_catalog.concat_ws(' ', pg_catalog.current_setting('mosta.rewritten_tables', true),
	                                                   pg_catalog.pg_event_trigger_table_rewrite_oid()),
	                              true);
END
$$;

CREATE OR REPLACE FUNCTION mosta_capture_table(tbl regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	name text;
	state text;
	captured_partition regclass;
BEGIN
	PERFORM mosta._require_relation(tbl, 'tbl');
	IF (SELECT c.relnamespace = 'mosta'::regnamespace FROM pg_class c WHERE c.oid = tbl) THEN
		RAISE EXCEPTION '"%" is a table of mostajs', tbl::text
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Capture tables of your own schemas.';
	END IF;
	-- the same checks, wording and hints as for the collections of a rule
	name := mosta.resolve_collection(tbl::text);
	-- serializes concurrent captures of the same table; CREATE TRIGGER takes this lock anyway
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	state := mosta._capture_state(tbl);
	IF state = 'table' THEN
		RAISE NOTICE 'table % is already captured', name;
		RETURN;
	ELSIF state = 'partition' THEN
		RAISE NOTICE 'table % is already captured through its partitioned table %', name,
			(SELECT a.relid FROM pg_partition_ancestors(tbl) a
			  WHERE a.relid <> tbl AND mosta._capture_state(a.relid) = 'table' LIMIT 1);
		RETURN;
	END IF;
	SELECT p.relid INTO captured_partition FROM pg_partition_tree(tbl) p
	 WHERE p.relid <> tbl AND mosta._capture_state(p.relid) = 'table' LIMIT 1;
	IF captured_partition IS NOT NULL THEN
		RAISE EXCEPTION 'partition % of table % is captured on its own', captured_partition::text, name
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'Capturing a partitioned table captures each of its partitions.',
			      HINT = format('Run SELECT mosta_uncapture_table(%L) first.', captured_partition::text);
	END IF;
	EXECUTE format('CREATE TRIGGER mosta_capture AFTER INSERT OR UPDATE OR DELETE ON %s '
	               'FOR EACH ROW EXECUTE FUNCTION mosta.capture_trigger()', tbl);
	EXECUTE format('CREATE TRIGGER mosta_capture_truncate AFTER TRUNCATE ON %s '
	               'FOR EACH STATEMENT EXECUTE FUNCTION mosta.capture_trigger()', tbl);
	INSERT INTO mosta.captured_tables AS t (relid) VALUES (tbl)
	ON CONFLICT (relid) DO UPDATE SET captured_since = excluded.captured_since, captured_by = excluded.captured_by;
	PERFORM mosta._log('capture_table', NULL, name);
END
$$;

CREATE OR REPLACE FUNCTION mosta_uncapture_table(tbl regclass, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	state text;
BEGIN
	PERFORM mosta._require_relation(tbl, 'tbl');
	PERFORM mosta._require(if_exists, 'if_exists');
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	state := mosta._capture_state(tbl);
	IF state = 'partition' THEN
		RAISE EXCEPTION 'table % is captured through its partitioned table', tbl::text
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Uncapture the partitioned table: its partitions cannot be uncaptured one by one.';
	END IF;
	IF state IS NULL THEN
		IF if_exists THEN
			RETURN false;
		END IF;
		RAISE EXCEPTION 'table % is not captured', tbl::text
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_capture_status(); pass if_exists => true to ignore this.';
	END IF;
	EXECUTE format('DROP TRIGGER mosta_capture ON %s', tbl);
	EXECUTE format('DROP TRIGGER IF EXISTS mosta_capture_truncate ON %s', tbl);
	DELETE FROM mosta.captured_tables t WHERE t.relid = tbl;
	PERFORM mosta._log('uncapture_table', NULL, tbl::text);
	RETURN true;
END
$$;

REVOKE ALL ON FUNCTION
	mosta._ddl_user_table(oid),
	mosta._column_fill(oid, name),
	mosta._ddl_table_json(text, oid),
	mosta._ddl_emit(text),
	mosta._ddl_table_rewrite(),
	mosta._type_children(oid),
	mosta._type_extension(oid),
	mosta._type_is_user(oid),
	mosta._type_closure(oid[]),
	mosta._qualified_name(oid, name),
	mosta._type_definition(oid),
	mosta._ddl_types_json(oid),
	mosta._ddl_type_json(text, oid),
	mosta._type_emit(text),
	mosta._ddl_command_end(),
	mosta._ddl_sql_drop(),
	mosta.capture_trigger(),
	mosta._capture_state(regclass),
	mosta._change_log_window(pg_snapshot, bigint, pg_snapshot, integer),
	mosta._check_snapshot(pg_snapshot, text),
	mosta_heartbeat(),
	mosta_capture_table(regclass),
	mosta_uncapture_table(regclass, boolean),
	mosta_capture_status(),
	mosta_change_log_read(pg_snapshot, bigint, integer),
	mosta_change_log_purge(pg_snapshot, bigint)
	FROM PUBLIC;

CREATE FUNCTION mosta.snapshot_documents(tbl regclass, include_types boolean DEFAULT true,
                                         partition_root boolean DEFAULT false, format_version integer DEFAULT 1)
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'mostajs_snapshot_documents'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

COMMENT ON FUNCTION mosta.snapshot_documents(regclass, boolean, boolean, integer) IS
	'Returns every row of a table, as of the snapshot, as an insert document of the change stream (the initial copy), '
	'in the given format version of docs/protocol.md';

REVOKE ALL ON FUNCTION mosta.snapshot_documents(regclass, boolean, boolean, integer),
	mosta.snapshot_ddl_document(regclass) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION mosta.snapshot_documents(regclass, boolean, boolean, integer),
	mosta.snapshot_ddl_document(regclass) TO mosta_admin, mosta_sidecar;

-- _id_policy returns the policy of a collection and whether its legacy ids must be ObjectIds
-- (policy objectid, or require_objectid); a collection without a row is (random, false).
-- (PL/pgSQL, not SQL: a SQL function with SET is planned again at every call, ten times the cost of the lookup)
CREATE OR REPLACE FUNCTION mosta._id_policy(collection text, OUT policy text, OUT objectids boolean)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	SELECT coalesce(max(p.policy), 'random'), coalesce(bool_or(p.policy = 'objectid' OR p.require_objectid), false)
	  INTO policy, objectids
	  FROM mosta.id_policies p WHERE p.collection = _id_policy.collection;
END
$$;

-- _check_legacy_id raises 22023 when a legacy id is empty, or is not an ObjectId where one is required.
CREATE OR REPLACE FUNCTION mosta._check_legacy_id(collection text, legacy_id text, objectids boolean) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF legacy_id = '' THEN
		RAISE EXCEPTION 'legacy id of collection "%" must not be empty', collection
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass the legacy id as text, e.g. an ObjectId''s 24 hex digits.';
	END IF;
	PERFORM mosta._check_key_length(legacy_id, 'legacy_id');
	IF objectids AND legacy_id !~ '^[0-9A-Fa-f]{24}$' THEN
		RAISE EXCEPTION 'legacy id "%" of collection "%" is not an ObjectId', legacy_id, collection
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = format('Collection "%s" requires ObjectIds (policy objectid or require_objectid): '
			                      '24 hexadecimal digits.', collection),
			      HINT = 'Check the source data, or give the collection another id policy before it maps '
			             'its first id (mosta_set_id_policy).';
	END IF;
END
$$;

-- _check_collection raises 22004 or 22023 when a collection name is NULL or empty.
CREATE OR REPLACE FUNCTION mosta._check_collection(collection text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(collection, 'collection');
	IF collection = '' THEN
		RAISE EXCEPTION 'collection must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Name the legacy collection, e.g. ''users''.';
	END IF;
	RETURN mosta._check_key_length(collection, 'collection');
END
$$;

-- _new_id returns a new uuid for a legacy id under policy.
CREATE OR REPLACE FUNCTION mosta._new_id(policy text, collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN CASE policy
	       WHEN 'time-ordered' THEN mosta.uuid_v7()
	       WHEN 'deterministic' THEN mosta.uuid_from_legacy_id(collection, legacy_id)
	       WHEN 'objectid' THEN mosta.uuid_from_objectid(collection, legacy_id)
	       ELSE gen_random_uuid() END;
END
$$;

-- _lock_allocation takes the allocation lock (see the header) for the rest of
-- the transaction and returns true, at once when this transaction holds it
-- already or nobody does. Otherwise it waits until the allocating
-- transaction ends, without taking the lock, and returns false: the caller
-- reads again (that transaction may have mapped its ids) and calls it again
-- for what is still missing. Waiting can only deadlock with a cycle the
-- application made (this transaction holds a lock the allocating one waits
-- for): the error then says how to order the work.
CREATE FUNCTION mosta._lock_allocation() RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- one key per database (advisory locks are per database): the OID of mosta.id_map
	allocation_key CONSTANT bigint := 'mosta.id_map'::regclass::oid::bigint;
BEGIN
	IF pg_try_advisory_xact_lock(allocation_key) THEN
		RETURN true;
	END IF;
	BEGIN
		-- a session-level shared lock, released at once: a wait for the holder's end that holds nothing after
		PERFORM pg_advisory_lock_shared(allocation_key);
		PERFORM pg_advisory_unlock_shared(allocation_key);
	EXCEPTION WHEN deadlock_detected THEN
		RAISE EXCEPTION 'deadlock waiting to allocate uuids in mosta.id_map'
			USING ERRCODE = 'deadlock_detected',
			      DETAIL = 'Allocating transactions run one at a time; this one held a lock (a row, a table) '
			               'that the allocating transaction waits for.',
			      HINT = 'Map the ids a transaction needs before it locks or writes other rows (one '
			             'mosta_map_ids call first), or map them in transactions of their own; then retry.';
	END;
	RETURN false;
END
$$;

CREATE OR REPLACE FUNCTION mosta_map_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- scalars, not a record: a record variable makes PL/pgSQL plan its statements again at every call
	id_policy text;
	objectids boolean;
	canonical text;
	mapped uuid;
BEGIN
	-- the common case first: an id already mapped, written as stored (only valid ids are ever stored)
	SELECT m.new_id INTO mapped FROM mosta.id_map m
	 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = mosta_map_id.legacy_id;
	IF FOUND THEN
		RETURN mapped;
	END IF;
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_id, 'legacy_id');
	SELECT p.policy, p.objectids INTO id_policy, objectids FROM mosta._id_policy(collection) p;
	PERFORM mosta._check_legacy_id(collection, legacy_id, objectids);
	canonical := CASE WHEN objectids THEN lower(legacy_id) ELSE legacy_id END;

	-- each read is a new statement: it sees what the allocator waited for committed
	LOOP
		SELECT m.new_id INTO mapped FROM mosta.id_map m
		 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
		IF FOUND THEN
			RETURN mapped;
		END IF;
		EXIT WHEN mosta._lock_allocation();
	END LOOP;
	-- the lock may have been free only after another allocator mapped it
	SELECT m.new_id INTO mapped FROM mosta.id_map m
	 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
	IF FOUND THEN
		RETURN mapped;
	END IF;
	INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
	VALUES (collection, canonical, mosta._new_id(id_policy, collection, canonical))
	ON CONFLICT DO NOTHING
	RETURNING m.new_id INTO mapped;
	IF mapped IS NULL THEN
		-- the new uuid collided (under the lock, no concurrent caller can have mapped it)
		SELECT m.new_id INTO mapped FROM mosta.id_map m
		 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
		IF mapped IS NULL THEN
			PERFORM mosta._raise_collision(id_policy, collection, canonical);
		END IF;
	END IF;
	RETURN mapped;
END
$$;

CREATE OR REPLACE FUNCTION mosta_map_ids(collection text, legacy_ids text[]) RETURNS uuid[]
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- scalars, not a record: a record variable makes PL/pgSQL plan its statements again at every call
	id_policy text;
	objectids boolean;
	null_at integer;
	bad text;
	canonical text[];
	mapped uuid[];
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_ids, 'legacy_ids');
	null_at := array_position(legacy_ids, NULL);
	IF null_at IS NOT NULL THEN
		RAISE EXCEPTION 'legacy_ids must not contain NULL'
			USING ERRCODE = 'null_value_not_allowed',
			      DETAIL = format('Element %s of %s is NULL.', null_at, cardinality(legacy_ids)),
			      HINT = 'Leave missing references out: a NULL legacy id has no uuid.';
	END IF;
	SELECT p.policy, p.objectids INTO id_policy, objectids FROM mosta._id_policy(collection) p;
	SELECT u INTO bad FROM unnest(legacy_ids) u
	 WHERE u = '' OR octet_length(u) > 1024 OR (objectids AND u !~ '^[0-9A-Fa-f]{24}$') LIMIT 1;
	IF FOUND THEN
		PERFORM mosta._check_legacy_id(collection, bad, objectids);
	END IF;

	-- only a call that allocates takes the lock. A backfill's batch is new: its first id, unmapped, settles it
	-- at the cost of one lookup; otherwise all are counted (= ANY: one index scan whatever the row estimates).
	canonical := CASE WHEN objectids THEN (SELECT array_agg(lower(u)) FROM unnest(legacy_ids) u)
	                  ELSE legacy_ids END;
	WHILE cardinality(canonical) > 0
	      AND (NOT EXISTS (SELECT 1 FROM mosta.id_map m
	                        WHERE m.collection = mosta_map_ids.collection AND m.legacy_id = canonical[1])
	           OR (SELECT count(*) FROM mosta.id_map m
	                WHERE m.collection = mosta_map_ids.collection AND m.legacy_id = ANY (canonical))
	              < (SELECT count(DISTINCT u) FROM unnest(canonical) u))
	LOOP
		EXIT WHEN mosta._lock_allocation();
	END LOOP;
	-- one statement: the ids already mapped, plus the missing ones inserted (sorted: time-ordered uuids follow them)
	WITH input AS (
		SELECT u.ord, CASE WHEN objectids THEN lower(u.lid) ELSE u.lid END AS lid
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
	), known AS (
		SELECT i.ord, i.lid, m.new_id
		  FROM input i
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection AND m.legacy_id = i.lid
	), added AS (
		INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
		SELECT mosta_map_ids.collection, d.lid,
		       CASE id_policy
		       WHEN 'time-ordered' THEN mosta.uuid_v7()
		       WHEN 'deterministic' THEN mosta.uuid_from_legacy_id(mosta_map_ids.collection, d.lid)
		       WHEN 'objectid' THEN mosta.uuid_from_objectid(mosta_map_ids.collection, d.lid)
		       ELSE gen_random_uuid() END
		  FROM (SELECT DISTINCT k.lid FROM known k WHERE k.new_id IS NULL) d
		 ORDER BY d.lid COLLATE "C"
		ON CONFLICT DO NOTHING
		RETURNING m.legacy_id, m.new_id
	)
	SELECT array_agg(coalesce(k.new_id, a.new_id) ORDER BY k.ord) INTO mapped
	  FROM known k LEFT JOIN added a ON a.legacy_id = k.lid;

	IF array_position(mapped, NULL) IS NOT NULL THEN
		-- a uuid collided (or, without the lock, an id was mapped meanwhile): read them all again
		SELECT array_agg(m.new_id ORDER BY u.ord) INTO mapped
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection
		       AND m.legacy_id = CASE WHEN objectids THEN lower(u.lid) ELSE u.lid END;
		null_at := array_position(mapped, NULL);
		IF null_at IS NOT NULL THEN
			PERFORM mosta._raise_collision(id_policy, collection,
				CASE WHEN objectids THEN lower(legacy_ids[null_at]) ELSE legacy_ids[null_at] END);
		END IF;
	END IF;
	RETURN coalesce(mapped, '{}');
END
$$;

REVOKE ALL ON FUNCTION
	mosta._id_policy(text),
	mosta._check_legacy_id(text, text, boolean),
	mosta._check_collection(text),
	mosta._new_id(text, text, text),
	mosta._raise_collision(text, text, text),
	mosta._lock_allocation(),
	mosta_set_id_policy(text, text, boolean),
	mosta_map_id(text, text),
	mosta_map_ids(text, text[]),
	mosta_lookup_id(text, text),
	mosta_require_id(text, text),
	mosta_legacy_id(text, uuid)
	FROM PUBLIC;

-- _user_table raises unless tbl is an ordinary or partitioned table of the
-- caller's, outside schema mosta: 22004, 42809 or 42501.
CREATE OR REPLACE FUNCTION mosta._user_table(tbl regclass) RETURNS regclass
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	c pg_class;
BEGIN
	PERFORM mosta._require_relation(tbl, 'tbl');
	SELECT * INTO c FROM pg_class k WHERE k.oid = tbl;
	IF c.relkind NOT IN ('r', 'p') OR c.relnamespace = 'mosta'::regnamespace THEN
		RAISE EXCEPTION '"%" is not a user table', tbl::text
			USING ERRCODE = 'wrong_object_type',
			      HINT = 'Declare invariants and TTLs on tables of your own schemas.';
	END IF;
	IF NOT mosta._owns(tbl) THEN
		RAISE EXCEPTION 'must be owner of table %', tbl::text
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = format('Table %s is owned by %s.', tbl::text, c.relowner::regrole::text),
			      HINT = 'Run this as the owner of the table (or a member of its owner role).';
	END IF;
	RETURN tbl;
END
$$;

CREATE OR REPLACE FUNCTION mosta_add_polymorphic_ref(tbl regclass, ref text, target_tbl regclass) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	kind_col text := ref || '_ref_kind';
	id_col text := ref || '_id';
	ext_col text := ref || '_external_ref';
	pk_col text;
	pk_type regtype;
	expected regtype;
	col_type regtype;
	existed boolean := false;
	col text;
	declared mosta.invariants;
	name name;
BEGIN
	PERFORM mosta._user_table(tbl);
	PERFORM mosta._require(ref, 'ref');
	PERFORM mosta._require_relation(target_tbl, 'target_tbl');
	IF ref !~ '^[a-z_][a-z0-9_]{0,49}$' THEN
		RAISE EXCEPTION 'invalid ref "%"', ref
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'The reference names three columns: <ref>_ref_kind, <ref>_id and <ref>_external_ref.',
			      HINT = 'Use 1 to 50 lowercase letters, digits or "_", not starting with a digit (purchase_request).';
	END IF;
	SELECT a.attname, a.atttypid INTO pk_col, pk_type
	  FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	 WHERE i.indrelid = target_tbl AND i.indisprimary AND i.indnatts = 1;
	IF pk_col IS NULL THEN
		RAISE EXCEPTION 'table % has no single-column primary key', target_tbl::text
			USING ERRCODE = 'invalid_foreign_key',
			      HINT = 'The entity a reference points at is found by a one-column primary key: add one to the target table.';
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	SELECT * INTO declared FROM mosta.invariants i
	 WHERE i.tbl = $1 AND i.kind = 'polymorphic_ref' AND i.columns = ARRAY[ref];
	IF FOUND AND declared.target <> target_tbl THEN
		RAISE EXCEPTION 'reference "%" of table % already points at %', ref, tbl::text, declared.target::text
			USING ERRCODE = 'duplicate_object',
			      HINT = format('Keep it, or choose another ref name for the references to %s.', target_tbl::text);
	ELSIF FOUND AND mosta._invariant_present(tbl, declared.name, 'polymorphic_ref') THEN
		RAISE NOTICE 'invariant "%" is already declared on %', declared.name, tbl::text;
		RETURN declared.name;
	END IF;
	-- the columns' types; those that exist already must have them
	FOREACH col IN ARRAY ARRAY[kind_col, id_col, ext_col] LOOP
		expected := CASE WHEN col = id_col THEN pk_type ELSE 'text'::regtype END;
		SELECT a.atttypid INTO col_type FROM pg_attribute a
		 WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
		IF col_type IS NOT NULL AND col_type <> expected THEN
			RAISE EXCEPTION 'column "%" of table % is of type %, not %', col, tbl::text, col_type::text, expected::text
				USING ERRCODE = 'datatype_mismatch',
				      DETAIL = format('A reference to %s keeps the kind in %I (text), the id in %I (%s, the type of %s.%I) '
				                      'and a template''s external id in %I (text).', target_tbl::text, kind_col, id_col,
				                      pk_type::text, target_tbl::text, pk_col, ext_col),
				      HINT = format('Convert %I with ALTER TABLE ... ALTER COLUMN ... TYPE %s, or choose another ref.',
				                    col, expected::text);
		END IF;
		existed := existed OR col_type IS NOT NULL;
	END LOOP;
	name := coalesce(declared.name, mosta._object_name(tbl, ARRAY[ref], 'ref_check'));
	PERFORM mosta._name_free(tbl, name);
	IF existed THEN
		PERFORM mosta._raise_rows(
			format('SELECT %s FROM %s t WHERE NOT (%s)', mosta._row_key(tbl, 't'), tbl, mosta._ref_check(ref)),
			'check_violation', format('table %s has rows that break invariant "%s"', tbl::text, name),
			format('do not set exactly the column their %I names', kind_col),
			format('Set %I to ''entity'' with %I, to ''template'' with %I, or all three to NULL.',
			       kind_col, id_col, ext_col));
		PERFORM mosta._raise_rows(
			format('SELECT %s FROM %s t WHERE t.%I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.%I = t.%I)',
			       mosta._row_key(tbl, 't'), tbl, id_col, target_tbl, pk_col, id_col),
			'foreign_key_violation', format('table %s has rows whose %s is not in %s', tbl::text, id_col, target_tbl::text),
			format('have a %I that is missing from %s', id_col, target_tbl::text),
			format('Insert the missing rows into %s, or turn those references into templates.', target_tbl::text));
	END IF;
	EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I text, ADD COLUMN IF NOT EXISTS %I %s, '
	               'ADD COLUMN IF NOT EXISTS %I text', tbl, kind_col, id_col, pk_type::text, ext_col);
	IF NOT EXISTS (SELECT 1 FROM pg_constraint k
	                WHERE k.conrelid = tbl AND k.conname = mosta._object_name(tbl, ARRAY[ref], 'ref_kind_check')) THEN
		EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IN (''entity'', ''template''))',
		               tbl, mosta._object_name(tbl, ARRAY[ref], 'ref_kind_check'), kind_col);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_constraint k
	                WHERE k.conrelid = tbl AND k.conname = mosta._object_name(tbl, ARRAY[ref], 'id_fkey')) THEN
		EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (%I)',
		               tbl, mosta._object_name(tbl, ARRAY[ref], 'id_fkey'), id_col, target_tbl, pk_col);
	END IF;
	EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%s)', tbl, name, mosta._ref_check(ref));
	IF declared.name IS NULL THEN
		INSERT INTO mosta.invariants (tbl, name, kind, columns, target, definition)
		VALUES (tbl, name, 'polymorphic_ref', ARRAY[ref], target_tbl,
		        format('%I in (entity, template): entity sets %I (references %s), template sets %I',
		               kind_col, id_col, target_tbl::text, ext_col));
		PERFORM mosta._log_catalog('add_invariant', tbl, jsonb_build_object(
			'name', name, 'kind', 'polymorphic_ref', 'columns', ARRAY[ref], 'target', target_tbl::text));
	ELSE
		RAISE NOTICE 'invariant "%" on % was declared but its constraint was missing: created again', name, tbl::text;
	END IF;
	RETURN name;
END
$$;

CREATE OR REPLACE FUNCTION mosta_next_value(scope text, key text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	given bigint;
BEGIN
	PERFORM mosta._check_key_length(mosta._require(scope, 'scope'), 'scope');
	PERFORM mosta._check_key_length(mosta._require(key, 'key'), 'key');
	-- the first caller inserts 1; the others wait for its row lock, then add one to what it committed
	INSERT INTO mosta.counters AS c (scope, key, value) VALUES ($1, $2, 1)
	ON CONFLICT ON CONSTRAINT counters_pkey DO UPDATE SET value = c.value + 1, updated_at = pg_catalog.now()
	RETURNING c.value INTO given;
	RETURN given;
END
$$;

-- mosta_seed_counter raises a counter to the highest value a legacy store handed
-- out (mosta-migrate backfill calls it), so that mosta_next_value() goes on from
-- there; it never lowers one: values handed out since stay handed out.
CREATE FUNCTION mosta_seed_counter(scope text, key text, value bigint) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	now_value bigint;
BEGIN
	PERFORM mosta._check_key_length(mosta._require(scope, 'scope'), 'scope');
	PERFORM mosta._check_key_length(mosta._require(key, 'key'), 'key');
	PERFORM mosta._require(value, 'value');
	IF value < 0 THEN
		RAISE EXCEPTION 'value must not be negative, not %', value
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass the highest value the legacy store handed out for this key (0 when none).';
	END IF;
	IF value = 0 THEN
		-- nothing handed out yet: the counter starts at 1 as a new one does
		SELECT c.value INTO now_value FROM mosta.counters c WHERE c.scope = $1 AND c.key = $2;
		RETURN coalesce(now_value, 0);
	END IF;
	-- the conflicting row is locked even when the WHERE leaves it as it is
	INSERT INTO mosta.counters AS c (scope, key, value) VALUES ($1, $2, $3)
	ON CONFLICT ON CONSTRAINT counters_pkey DO UPDATE SET value = excluded.value, updated_at = pg_catalog.now()
		WHERE c.value < excluded.value
	RETURNING c.value INTO now_value;
	IF now_value IS NULL THEN
		SELECT c.value INTO now_value FROM mosta.counters c WHERE c.scope = $1 AND c.key = $2;
	END IF;
	RETURN now_value;
END
$$;
COMMENT ON FUNCTION mosta_seed_counter(text, text, bigint) IS
	'Raises counter (scope, key) to value (the highest a legacy store handed out) and returns the counter''s value; '
	'never lowers it: mosta_next_value() then returns the next one';
REVOKE ALL ON FUNCTION mosta_seed_counter(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mosta_seed_counter(text, text, bigint) TO mosta_admin;

-- mosta_ttl_expire waits at most lock_timeout for a row another transaction
-- holds (SKIP LOCKED would need UPDATE on the table); on timeout the batch
-- fails and the next pass tries again.
CREATE OR REPLACE FUNCTION mosta_ttl_expire(tbl regclass, max_rows integer DEFAULT 1000) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET lock_timeout = '1s'
	AS $$
DECLARE
	entry mosta.ttl;
	key text;
	deleted bigint;
BEGIN
	PERFORM mosta._require_relation(tbl, 'tbl');
	PERFORM mosta._require(max_rows, 'max_rows');
	IF max_rows < 1 THEN
		RAISE EXCEPTION 'max_rows must be at least 1'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass the batch size, as in 1000.';
	END IF;
	SELECT * INTO entry FROM mosta.ttl t WHERE t.tbl = $1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % has no TTL', tbl::text
			USING ERRCODE = 'undefined_object', HINT = 'Declare one with mosta_add_ttl().';
	END IF;
	key := mosta._ttl_key(tbl);
	IF key IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', tbl::text
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'Add a primary key back, or remove the TTL with mosta_remove_ttl().';
	END IF;
	-- the condition is repeated outside: a row updated meanwhile is deleted only if still expired
	EXECUTE format('DELETE FROM %1$s t WHERE (%2$s) IN (SELECT %2$s FROM %1$s WHERE %3$I < now() - $1 LIMIT $2) '
	               '   AND t.%3$I < now() - $1', tbl, key, entry.ts_column)
	  USING entry.ttl, max_rows;
	GET DIAGNOSTICS deleted = ROW_COUNT;
	RETURN deleted;
END
$$;

-- mosta._verify_columns returns the columns to hash of tbl, in attnum order:
-- all of them when cols is NULL, else cols checked (each must exist, once).
CREATE OR REPLACE FUNCTION mosta._verify_columns(tbl regclass, cols text[]) RETURNS text[]
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	all_cols text[];
	col text;
BEGIN
	PERFORM mosta._require_relation(tbl, 'tbl');
	IF (SELECT relkind FROM pg_class WHERE oid = tbl) NOT IN ('r', 'p', 'v', 'm', 'f') THEN
		RAISE EXCEPTION '"%" is not a table', tbl USING ERRCODE = '42809',
			HINT = 'Checksums read tables, partitioned tables, views, materialized views and foreign tables.';
	END IF;
	SELECT array_agg(attname::text ORDER BY attnum) INTO all_cols
	  FROM pg_attribute WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped;
	IF cols IS NULL THEN
		RETURN coalesce(all_cols, '{}');
	END IF;
	IF cardinality(cols) = 0 THEN
		RAISE EXCEPTION 'no column given for "%"', tbl USING ERRCODE = '22023',
			HINT = 'Pass NULL to use every column.';
	END IF;
	IF array_position(cols, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'cols must not contain NULL' USING ERRCODE = '22004',
			DETAIL = format('Element %s of %s is NULL.', array_position(cols, NULL), cardinality(cols)),
			HINT = 'List column names, or pass NULL instead of the array to use every column.';
	END IF;
	FOREACH col IN ARRAY cols LOOP
		IF NOT col = ANY (all_cols) THEN
			RAISE EXCEPTION 'column "%" of "%" does not exist', col, tbl USING ERRCODE = '42703',
				HINT = format('The columns of %s are: %s. Names are case-sensitive, as stored.',
				              tbl, array_to_string(all_cols, ', '));
		END IF;
	END LOOP;
	IF cardinality(cols) <> (SELECT count(DISTINCT c) FROM unnest(cols) c) THEN
		RAISE EXCEPTION 'a column is listed twice for "%"', tbl USING ERRCODE = '42701';
	END IF;
	RETURN ARRAY(SELECT c FROM unnest(all_cols) WITH ORDINALITY a(c, n) WHERE c = ANY (cols) ORDER BY n);
END;
$$;

CREATE OR REPLACE FUNCTION mosta_sum_by(tbl regclass, amount_col text, group_cols text[] DEFAULT '{}')
	RETURNS TABLE (group_key jsonb, row_count bigint, total numeric)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	amount_type regtype;
	group_expr text := '''{}''::jsonb';
BEGIN
	PERFORM mosta._require(tbl, 'tbl');
	PERFORM mosta._require(amount_col, 'amount_col');
	-- NULL could mean "no groups" or "every column": neither is guessed; '{}' (the default) is one total
	IF group_cols IS NULL THEN
		RAISE EXCEPTION 'argument "group_cols" must not be null' USING ERRCODE = '22004',
			HINT = 'Pass ''{}'' (the default) for one total over the whole table, or the columns to group by.';
	END IF;
	PERFORM mosta._verify_columns(tbl, ARRAY[amount_col] || group_cols);
	SELECT atttypid INTO amount_type FROM pg_attribute WHERE attrelid = tbl AND attname = amount_col;
	WHILE (SELECT typtype FROM pg_type WHERE oid = amount_type) = 'd' LOOP -- a domain: its base type
		SELECT typbasetype INTO amount_type FROM pg_type WHERE oid = amount_type;
	END LOOP;
	IF amount_type IN ('real'::regtype, 'double precision'::regtype) THEN
		RAISE EXCEPTION 'column "%" of "%" is of type %, which is not exact', amount_col, tbl, amount_type
			USING ERRCODE = '42804',
			HINT = 'Sums of floating-point values depend on the order of addition; store amounts as numeric.';
	ELSIF amount_type NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype) THEN
		RAISE EXCEPTION 'column "%" of "%" is of type %, not a number type', amount_col, tbl, amount_type
			USING ERRCODE = '42804', HINT = 'mosta_sum_by sums smallint, integer, bigint and numeric columns.';
	END IF;
	IF cardinality(group_cols) > 0 THEN
		SELECT format('jsonb_build_object(%s)', string_agg(format('%L, t.%I', c, c), ', ' ORDER BY n))
		  INTO group_expr FROM unnest(group_cols) WITH ORDINALITY x(c, n);
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT g, count(*), coalesce(sum(t.%I::numeric), 0) FROM %s t CROSS JOIN LATERAL (SELECT %s AS g) x'
		' GROUP BY g ORDER BY g', amount_col, tbl, group_expr);
END;
$$;

/*
 * sql/parts/60_validate.sql
 *	  The compatibility report (docs/sql-api.md section 15): what a rule's
 *	  SQLite, MongoDB and SQL dump targets cannot hold faithfully (for the
 *	  dump: the user types it creates or cannot create), computed from the
 *	  definitions of the tables the rule covers. mosta_add_rule() raises a
 *	  NOTICE with its counts (mosta._validation_summary).
 *
 * The SQLite checks follow the sink's type mapping and naming
 * (sidecar/src/sink/sqlite_table.{hpp,cpp}, docs/sidecar.md "SQLite"); the
 * MongoDB checks follow the MongoDB sink's (sidecar/src/sink/mongo_bson.hpp,
 * mongo_sink.hpp: collection and field names, _id, value mapping). When a
 * sink's mapping changes, this file changes with it.
 *
 * Only catalogs are read: mosta_validate_rule is SECURITY DEFINER so that
 * mosta_admin can check tables it cannot SELECT from, with the search_path
 * pinned. Type names come from format_type under that search_path, as the
 * output plugin writes them ("types" of change documents): every type outside
 * pg_catalog is schema-qualified, which is what the SQLite sink tests.
 */

-- _validate_targets returns the sqlite, mongodb and sqldump replicas a rule from source
-- to target writes to, as the sidecar resolves targets (docs/sidecar.md, "Rules
-- and their targets"): the non-postgres slaves of a project streaming into
-- itself, else every replica of the target project.
CREATE OR REPLACE FUNCTION mosta._validate_targets(source text, target text)
	RETURNS TABLE (replica text, dialect text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.name::text, r.dialect
	  FROM mosta.replicas r
	 WHERE r.project = $2
	   AND ($1 <> $2 OR (r.role = 'slave' AND r.dialect <> 'postgres'))
	   AND r.dialect IN ('sqlite', 'mongodb', 'sqldump')
$$;

-- _validate_tables returns the tables a rule's collections cover: for {*},
-- the sidecar's list (ordinary permanent tables outside the system schemas
-- and mosta, with a primary key or REPLICA IDENTITY FULL, partitioned tables
-- as their top-most root only: kTablesOfStarSql in
-- sidecar/src/app/catalog.hpp); else each named table, relid NULL when it no
-- longer exists.
CREATE OR REPLACE FUNCTION mosta._validate_tables(collections text[])
	RETURNS TABLE (collection text, relid oid)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT format('%I.%I', n.nspname, c.relname), c.oid
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE $1 = ARRAY['*']
	   AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
	   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mosta', 'pg_toast')
	   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
	   AND (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
	UNION ALL
	SELECT x.name, to_regclass(x.name)::oid
	  FROM unnest($1) x(name)
	 WHERE $1 <> ARRAY['*']
$$;

-- _validate_key returns a table's key columns in key order, as change
-- documents carry it (mosta._ddl_table_json): the REPLICA IDENTITY USING
-- INDEX index, else the primary key; NULL for a keyless table.
CREATE OR REPLACE FUNCTION mosta._validate_key(tbl oid) RETURNS text[]
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT (SELECT array_agg(a.attname::text ORDER BY k.n)
	          FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
	          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	 WHERE i.indrelid = $1 AND i.indisvalid AND i.indimmediate
	   AND (i.indisprimary OR (c.relreplident = 'i' AND i.indisreplident))
	 ORDER BY (c.relreplident = 'i' AND i.indisreplident) DESC
	 LIMIT 1
$$;

-- _validate_table_issues returns the checks both dialects share: tables that
-- lost their key, partitioned tables (replicated as their root) and
-- partitions named on their own (refused), generated columns.
CREATE OR REPLACE FUNCTION mosta._validate_table_issues(tbl oid)
	RETURNS TABLE (severity text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT 'error', NULL::text,
	       'no primary key and no REPLICA IDENTITY FULL: updates and deletes cannot be applied by key'
	  FROM pg_class c
	 WHERE c.oid = $1 AND mosta._validate_key(c.oid) IS NULL AND c.relreplident <> 'f'
	UNION ALL
	SELECT 'info', NULL,
	       'partitioned table: replicated as its root, one target table (or collection) named after it holding '
	       'the rows of all its partitions (the sidecar streams with partition-root, docs/sidecar.md)'
	  FROM pg_class c
	 WHERE c.oid = $1 AND c.relkind = 'p'
	UNION ALL
	SELECT 'error', NULL,
	       format('partition of %s: partitioned tables are replicated as their root, whose name this rule does '
	              'not cover, so the sidecar refuses it: name %s instead', r.oid::regclass, r.oid::regclass)
	  FROM pg_class c JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
	 WHERE c.oid = $1 AND c.relispartition
	UNION ALL
	SELECT 'info', v.name, 'generated column: left out of change documents, so not replicated'
	  FROM mosta._validate_columns($1) v
	 WHERE v.generated
$$;

-- _mongodb_value_issue returns how values of a type (an array's element type)
-- change in BSON, with its severity, or NULLs when they map without surprise.
CREATE OR REPLACE FUNCTION mosta._mongodb_value_issue(type_oid oid, typmod integer, OUT severity text, OUT issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN type_oid = 'numeric'::regtype AND (typmod < 0 OR ((typmod - 4) >> 16) & 65535 > 34) THEN 'warning'
		WHEN type_oid IN ('timestamp'::regtype, 'timestamptz'::regtype) AND (typmod < 0 OR typmod > 3) THEN 'warning'
		WHEN type_oid IN ('json'::regtype, 'jsonb'::regtype) THEN 'warning'
		WHEN type_oid IN ('numeric'::regtype, 'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
		                  'oid'::regtype, 'double precision'::regtype, 'boolean'::regtype, 'bytea'::regtype,
		                  'timestamptz'::regtype) THEN NULL
		ELSE 'info'
	END,
	CASE
		WHEN type_oid = 'numeric'::regtype AND typmod < 0 THEN
			'numeric without a precision: Decimal128 when a value fits (34 significant digits, exponent range), '
			'else stored as a string'
		WHEN type_oid = 'numeric'::regtype AND ((typmod - 4) >> 16) & 65535 > 34 THEN
			format('%s has more than the 34 significant digits of Decimal128: values that do not fit are stored '
			       'as strings', format_type(type_oid, typmod))
		WHEN type_oid IN ('timestamp'::regtype, 'timestamptz'::regtype) AND (typmod < 0 OR typmod > 3) THEN
			format('%s stored as a BSON date, which has millisecond precision: microseconds are truncated%s; '
			       'infinity becomes a string', format_type(type_oid, typmod),
			       CASE WHEN type_oid = 'timestamp'::regtype THEN ', and the local time is stored as UTC' ELSE '' END)
		WHEN type_oid = 'timestamp'::regtype THEN
			format('%s stored as a BSON date: the local time is stored as UTC; infinity becomes a string',
			       format_type(type_oid, typmod))
		WHEN type_oid = 'date'::regtype THEN
			'date stored as a BSON date at 00:00 UTC; infinity becomes a string'
		WHEN type_oid IN ('json'::regtype, 'jsonb'::regtype) THEN
			format('%s stored as embedded documents and arrays: its numbers become int32, int64 or double (digits '
			       'beyond a double''s precision are lost), and keys with "." or a leading "$" are renamed as '
			       'field names are; SQL NULL is no field, the JSON null is null (in an array both are null)',
			       format_type(type_oid, typmod))
		WHEN type_oid = 'real'::regtype THEN
			'real (4-byte float) widened to a double'
		WHEN type_oid = 'uuid'::regtype THEN
			'uuid stored as binary subtype 4 (UUID)'
		WHEN type_oid IN ('numeric'::regtype, 'smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
		                  'oid'::regtype, 'double precision'::regtype, 'boolean'::regtype, 'bytea'::regtype,
		                  'timestamptz'::regtype) THEN
			NULL
		WHEN (SELECT t.typcategory = 'S' OR t.typtype = 'e' FROM pg_type t WHERE t.oid = type_oid)
		  THEN NULL
		ELSE
			format('%s stored as a string (its output form)', format_type(type_oid, typmod))
	END
$$;

-- _validate_dump_types returns the definitions of the user types a table's
-- replicated columns need, as its DDL document carries them.
CREATE FUNCTION mosta._validate_dump_types(tbl oid) RETURNS TABLE (def jsonb)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT jsonb_array_elements(mosta._ddl_types_json($1)::jsonb) $$;

-- _sqldump_issues returns the SQL dump checks of one table: the user types its
-- columns need, which the dump creates before the table (info) or cannot
-- create (warning: what the target database needs first), and the domain
-- constraints it leaves out (mosta._type_definition reads them all).
CREATE FUNCTION mosta._sqldump_issues(tbl oid)
	RETURNS TABLE (severity text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT * FROM mosta._validate_table_issues($1)
	UNION ALL
	SELECT CASE WHEN d.def->>'kind' IN ('extension', 'unsupported') THEN 'warning' ELSE 'info' END, NULL,
	       CASE d.def->>'kind'
	       WHEN 'extension' THEN
	           format('type %s belongs to extension %s: the dump does not create it; run CREATE EXTENSION %s in the '
	                  'target database before replaying the dump', d.def->>'type', d.def->>'extension',
	                  quote_ident(d.def->>'extension'))
	       WHEN 'unsupported' THEN
	           format('type %s cannot be created by the dump (%s): create it in the target database before '
	                  'replaying the dump', d.def->>'type', d.def->>'reason')
	       ELSE
	           format('the dump creates %s type %s before the table', d.def->>'kind', d.def->>'type')
	       END
	  FROM mosta._validate_dump_types($1) d
	UNION ALL
	SELECT 'warning', NULL,
	       format('constraint %s of domain %s is left out of the dump: %s', quote_ident(c->>'name'), d.def->>'type',
	              CASE WHEN NOT (c->>'portable')::boolean
	                   THEN 'it calls a function or operator outside pg_catalog'
	                   ELSE 'it is NOT VALID in the source' END)
	  FROM mosta._validate_dump_types($1) d CROSS JOIN LATERAL jsonb_array_elements(d.def->'constraints') c
	 WHERE d.def->>'kind' = 'domain' AND (NOT (c->>'portable')::boolean OR NOT (c->>'validated')::boolean)
$$;

-- _validation_issues returns the report of a rule from source_project to
-- target_project covering collections, unordered.
CREATE OR REPLACE FUNCTION mosta._validation_issues(source_project text, target_project text, collections text[])
	RETURNS TABLE (target text, severity text, collection text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH targets AS (
		SELECT * FROM mosta._validate_targets($1, $2)
	), tables AS (
		SELECT * FROM mosta._validate_tables($3)
	)
	SELECT g.replica, 'error', b.collection, NULL, 'table does not exist any more'
	  FROM targets g CROSS JOIN tables b
	 WHERE b.relid IS NULL
	UNION ALL
	SELECT g.replica, i.severity, b.collection, i."column", i.issue
	  FROM targets g CROSS JOIN tables b CROSS JOIN LATERAL mosta._sqlite_issues(b.relid) i
	 WHERE g.dialect = 'sqlite' AND b.relid IS NOT NULL
	UNION ALL
	SELECT g.replica, i.severity, b.collection, i."column", i.issue
	  FROM targets g CROSS JOIN tables b CROSS JOIN LATERAL mosta._mongodb_issues(b.relid) i
	 WHERE g.dialect = 'mongodb' AND b.relid IS NOT NULL
	UNION ALL
	SELECT g.replica, i.severity, b.collection, i."column", i.issue
	  FROM targets g CROSS JOIN tables b CROSS JOIN LATERAL mosta._sqldump_issues(b.relid) i
	 WHERE g.dialect = 'sqldump' AND b.relid IS NOT NULL
	UNION ALL
	SELECT g.replica, 'error', b.collection, NULL,
	       format('SQLite tables "%s" and "%s" differ only by case: SQLite names are case-insensitive, so both '
	              'tables'' rows go to one table', mosta._sqlite_table_name(b.relid), mosta._sqlite_table_name(o.relid))
	  FROM targets g CROSS JOIN tables b JOIN tables o
	    ON o.relid <> b.relid
	   AND mosta._sqlite_ascii_lower(mosta._sqlite_table_name(o.relid))
	       = mosta._sqlite_ascii_lower(mosta._sqlite_table_name(b.relid))
	 WHERE g.dialect = 'sqlite'
	UNION ALL
	SELECT g.replica, 'error', b.collection, NULL,
	       format('tables %s and %s both go to the MongoDB collection "%s"', b.collection, o.collection,
	              mosta._mongodb_collection(b.relid))
	  FROM targets g CROSS JOIN tables b JOIN tables o
	    ON o.relid <> b.relid AND mosta._mongodb_collection(o.relid) = mosta._mongodb_collection(b.relid)
	 WHERE g.dialect = 'mongodb'
$$;

-- _validation_summary returns the NOTICE text mosta_add_rule() raises for a
-- rule: its issue counts, or NULL when it has no SQLite, MongoDB or SQL dump target.
-- Only errors and warnings are issues; info rows are counted as notes.
CREATE OR REPLACE FUNCTION mosta._validation_summary(rule text) RETURNS text
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT format('rule "%s": ', $1)
	    || CASE WHEN s.errors + s.warnings = 0 THEN 'no compatibility issues'
	            ELSE format('%s compatibility issue%s found (%s error%s, %s warning%s)',
	                        s.errors + s.warnings, CASE WHEN s.errors + s.warnings = 1 THEN '' ELSE 's' END,
	                        s.errors, CASE WHEN s.errors = 1 THEN '' ELSE 's' END,
	                        s.warnings, CASE WHEN s.warnings = 1 THEN '' ELSE 's' END) END
	    || CASE WHEN s.infos = 0 THEN '' ELSE format(', %s note%s', s.infos, CASE WHEN s.infos = 1 THEN '' ELSE 's' END) END
	  FROM mosta.rules u
	 CROSS JOIN LATERAL (
		SELECT count(*) FILTER (WHERE i.severity = 'error') AS errors,
		       count(*) FILTER (WHERE i.severity = 'warning') AS warnings,
		       count(*) FILTER (WHERE i.severity = 'info') AS infos
		  FROM mosta._validation_issues(u.source_project, u.target_project, u.collections) i) s
	 WHERE u.name = $1
	   AND EXISTS (SELECT 1 FROM mosta._validate_targets(u.source_project, u.target_project))
$$;

REVOKE ALL ON FUNCTION
	mosta._validate_targets(text, text),
	mosta._validate_tables(text[]),
	mosta._validate_key(oid),
	mosta._validate_columns(oid),
	mosta._validate_table_issues(oid),
	mosta._sqlite_ascii_lower(text),
	mosta._sqlite_table_name(oid),
	mosta._sqlite_declared_type(text),
	mosta._sqlite_column_issue(text, oid, boolean),
	mosta._sqlite_issues(oid),
	mosta._mongodb_collection(oid),
	mosta._mongodb_field(text),
	mosta._mongodb_value_issue(oid, integer),
	mosta._mongodb_issues(oid),
	mosta._validate_dump_types(oid),
	mosta._sqldump_issues(oid),
	mosta._validation_issues(text, text, text[]),
	mosta._validation_summary(text),
	mosta_validate_rule(text)
	FROM PUBLIC;

-- New functions created where 0.2.0's "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mosta FROM PUBLIC" covers them
-- (before it in the install script) get the same revoke; mosta._require_relation, also created there, is
-- granted to PUBLIC again just after it, so it keeps PUBLIC's default EXECUTE.
REVOKE ALL ON FUNCTION
	mosta._check_key_length(text, text),
	mosta._status_is_stale(timestamptz),
	mosta._mask_json(jsonb)
	FROM PUBLIC;

------------------------------------------------------------------------------
-- Switchover requests (docs/failover.md, "Switchover")
------------------------------------------------------------------------------

-- A planned change of master, asked for with mosta_switchover() on the master and carried out by the master's
-- node agent (mosta-sidecar agent), which restarts its own server: no SQL function can do it. The row is
-- replicated to the standbys with the rest of the catalog, and the agent finishes it on the new primary.
CREATE TABLE mosta.ha_requests (
	id            bigserial PRIMARY KEY,
	project       mosta.object_name NOT NULL REFERENCES mosta.projects (name) ON DELETE CASCADE,
	kind          text NOT NULL DEFAULT 'switchover' CHECK (kind IN ('switchover')),
	target        mosta.object_name NOT NULL,
	state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
	requested_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	requested_by  name NOT NULL DEFAULT session_user,
	finished_at   timestamptz,
	detail        jsonb NOT NULL DEFAULT '{}'
);
-- one request in flight per project
CREATE UNIQUE INDEX ha_requests_one_open ON mosta.ha_requests (project) WHERE state IN ('pending', 'running');
COMMENT ON TABLE mosta.ha_requests IS
	'Switchover requests: written by mosta_switchover(), carried out and finished by the master''s node agent';

-- mosta_switchover checks that replica is a healthy PostgreSQL standby of project (a postgres slave whose last
-- status report is up, fresh and within its lag tolerance), then records a pending request, logs it and
-- notifies channel mosta_ha with the request id. Nothing else changes here: the master's node agent stops new
-- writes by stopping its server, waits until the standby has replayed everything, promotes it, swaps the roles
-- in the catalog and restarts the old master as a standby of the new one.
CREATE FUNCTION mosta_switchover(project text, replica text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target mosta.replicas%ROWTYPE;
	master_name text;
	observed mosta.replica_status%ROWTYPE;
	open_request mosta.ha_requests%ROWTYPE;
	request_id bigint;
BEGIN
	PERFORM mosta._require_project(project, 'project');
	PERFORM mosta._require(replica, 'replica');
	IF pg_is_in_recovery() THEN
		RAISE EXCEPTION 'mosta_switchover() runs on the master, and this server is a standby'
			USING ERRCODE = 'read_only_sql_transaction',
			      HINT = 'Connect to the current master of the project (target_session_attrs=read-write).';
	END IF;
	SELECT r.* INTO target FROM mosta.replicas r
	 WHERE r.project = mosta_switchover.project AND r.name = mosta_switchover.replica;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'replica "%" does not exist in project "%"', replica, project
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_replica_status(' || quote_literal(project) || ').';
	END IF;
	SELECT r.name INTO master_name FROM mosta.replicas r
	 WHERE r.project = mosta_switchover.project AND r.role = 'master';
	IF target.role <> 'slave' OR target.dialect <> 'postgres' THEN
		RAISE EXCEPTION 'replica "%" is not a PostgreSQL standby of project "%"', replica, project
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('It is a %s %s; only a postgres slave (a physical standby of the master) can become the master.',
			                      target.dialect, target.role),
			      HINT = 'Name one of the project''s postgres slaves.';
	END IF;
	IF master_name IS NULL OR NOT EXISTS (SELECT 1 FROM mosta.replicas r WHERE r.project = mosta_switchover.project
	                                          AND r.role = 'master' AND r.dialect = 'postgres') THEN
		RAISE EXCEPTION 'project "%" has no PostgreSQL master to switch over from', project
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      HINT = 'A switchover hands a postgres master''s role to one of its standbys.';
	END IF;
	SELECT s.* INTO observed FROM mosta.replica_status s
	 WHERE s.project = mosta_switchover.project AND s.replica = mosta_switchover.replica;
	IF NOT mosta._within_tolerance(observed.status, observed.lag_ms, observed.last_seen, target.lag_tolerance_ms) THEN
		RAISE EXCEPTION 'replica "%" is not a healthy standby: %', replica,
			CASE WHEN observed.status IS NULL THEN 'never reported'
			     WHEN mosta._status_is_stale(observed.last_seen)
			          THEN format('its last report (%s) is older than mostajs.status_max_age', observed.last_seen)
			     WHEN observed.status <> 'up' THEN format('status %s', observed.status)
			          || coalesce(': ' || mosta.mask_text(observed.last_error), '')
			     ELSE format('lag %s ms beyond its tolerance of %s ms', observed.lag_ms, target.lag_tolerance_ms) END
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'A switchover needs a standby the sidecar reports up, fresh and within its lag tolerance.',
			      HINT = 'Check SELECT * FROM mosta_replica_status(' || quote_literal(project)
			             || ') and that mosta-sidecar runs; retry when the standby has caught up.';
	END IF;
	SELECT q.* INTO open_request FROM mosta.ha_requests q
	 WHERE q.project = mosta_switchover.project AND q.state IN ('pending', 'running');
	IF FOUND THEN
		RAISE EXCEPTION 'project "%" already has a % switchover request (id %, to "%")', project,
			open_request.state, open_request.id, open_request.target
			USING ERRCODE = 'object_in_use',
			      HINT = 'Wait until it is done or failed: SELECT * FROM mosta.ha_requests ORDER BY id DESC.';
	END IF;

	INSERT INTO mosta.ha_requests (project, kind, target, detail)
	VALUES (project, 'switchover', replica,
	        jsonb_build_object('from', master_name, 'to', replica,
	                           'observed', jsonb_build_object('status', observed.status, 'lag_ms', observed.lag_ms,
	                                                          'lag_bytes', observed.lag_bytes,
	                                                          'sync_state', observed.sync_state,
	                                                          'last_seen', observed.last_seen)))
	RETURNING id INTO request_id;
	PERFORM mosta._log('switchover_requested', project, replica,
		jsonb_build_object('request', request_id, 'from', master_name, 'to', replica));
	PERFORM pg_notify('mosta_ha', request_id::text);
	RETURN request_id;
END
$$;
COMMENT ON FUNCTION mosta_switchover(text, text) IS
	'Requests a planned switchover of project to the standby replica and returns the request id; the master''s '
	'node agent (mosta-sidecar agent) carries it out, since it restarts this server: follow it in mosta.ha_requests';

REVOKE ALL ON mosta.ha_requests FROM PUBLIC;
REVOKE ALL ON FUNCTION mosta_switchover(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mosta_switchover(text, text) TO mosta_admin;
GRANT SELECT ON mosta.ha_requests TO mosta_admin;
-- the node agents move requests on (running, done, failed)
GRANT SELECT, UPDATE ON mosta.ha_requests TO mosta_sidecar;

-- Conflicts of bidirectional replication: sql/parts/70_conflicts.sql, whole.
------------------------------------------------------------------------------
-- The table
------------------------------------------------------------------------------

CREATE TABLE mosta.conflicts (
	id             bigserial PRIMARY KEY,
	rule           mosta.object_name NOT NULL REFERENCES mosta.rules (name) ON DELETE CASCADE,
	replica        mosta.object_name NOT NULL,
	kind           text NOT NULL
		CHECK (kind IN ('insert_exists', 'update_differs', 'update_missing', 'delete_differs')),
	incoming_side  text NOT NULL CHECK (incoming_side IN ('source', 'target')),
	schema_name    text NOT NULL,
	table_name     text NOT NULL,
	key            jsonb NOT NULL,
	local_row      jsonb,
	incoming_row   jsonb NOT NULL,
	local_time     timestamptz,
	incoming_time  timestamptz,
	incoming_lsn   pg_lsn NOT NULL,
	change_index   integer NOT NULL CHECK (change_index >= 0),
	decision       text NOT NULL CHECK (decision IN ('applied', 'kept', 'error')),
	recorded_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT conflicts_once UNIQUE (rule, replica, incoming_side, incoming_lsn, change_index)
);
-- the bound deletes a rule's oldest rows, and mosta_conflicts(rule) lists a rule's rows
CREATE INDEX conflicts_rule_id ON mosta.conflicts (rule, id);
COMMENT ON TABLE mosta.conflicts IS
	'Conflicts of bidirectional rules, recorded by mosta-sidecar through mosta._record_conflict(); rows hold user '
	'table values and are readable by mosta_admin only';
COMMENT ON COLUMN mosta.conflicts.replica IS 'The target replica (of the rule''s target project) of the conflicting pair';
COMMENT ON COLUMN mosta.conflicts.incoming_side IS
	'Where the incoming change was written: source (the rule''s source master) or target (the replica)';
COMMENT ON COLUMN mosta.conflicts.local_row IS 'The row the applying side held; NULL when it held none (update_missing)';
COMMENT ON COLUMN mosta.conflicts.incoming_lsn IS
	'The incoming transaction''s commit position on its side (a SQLite target: 0/seq of its change capture)';
COMMENT ON COLUMN mosta.conflicts.change_index IS 'The change''s position in its transaction, from 0';
COMMENT ON COLUMN mosta.conflicts.decision IS
	'What the rule''s conflict_resolution decided: applied (the incoming change), kept (the local row) or error';

------------------------------------------------------------------------------
-- Recording (mosta-sidecar)
------------------------------------------------------------------------------

-- _conflict_problem returns what is wrong with a conflict document, as
-- {message, detail}, or NULL when it is well formed: an object with exactly
-- the keys below, each of its type (null only for local and the times).
CREATE FUNCTION mosta._conflict_problem(conflict jsonb) RETURNS text[]
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	keys CONSTANT text[] := ARRAY['kind', 'incoming_side', 'schema', 'table', 'key', 'local', 'incoming',
	                              'local_time', 'incoming_time', 'incoming_lsn', 'change_index', 'decision'];
	item text;
	value jsonb;
	type_of text;
	text_of text;
	expected text;
BEGIN
	IF jsonb_typeof(conflict) IS DISTINCT FROM 'object' THEN
		RETURN ARRAY[format('%s is not a JSON object', left(conflict::text, 200)),
		             'A conflict is a JSON object.'];
	END IF;
	SELECT k INTO item FROM unnest(keys) k WHERE NOT conflict ? k LIMIT 1;
	IF FOUND THEN
		RETURN ARRAY[format('key "%s" is missing', item),
		             'Every key is present; local, local_time and incoming_time are null when unknown.'];
	END IF;
	SELECT k INTO item FROM jsonb_object_keys(conflict) k WHERE k <> ALL (keys) ORDER BY k LIMIT 1;
	IF FOUND THEN
		RETURN ARRAY[format('unknown key "%s"', item), 'A conflict has no other keys.'];
	END IF;
	FOREACH item IN ARRAY keys LOOP
		value := conflict -> item;
		type_of := jsonb_typeof(value);
		text_of := value #>> '{}';
		expected := NULL;
		CASE item
		WHEN 'kind' THEN
			IF type_of <> 'string' OR text_of NOT IN ('insert_exists', 'update_differs', 'update_missing',
			                                          'delete_differs') THEN
				expected := 'insert_exists, update_differs, update_missing or delete_differs';
			END IF;
		WHEN 'incoming_side' THEN
			IF type_of <> 'string' OR text_of NOT IN ('source', 'target') THEN
				expected := '"source" or "target"';
			END IF;
		WHEN 'decision' THEN
			IF type_of <> 'string' OR text_of NOT IN ('applied', 'kept', 'error') THEN
				expected := '"applied", "kept" or "error"';
			END IF;
		WHEN 'schema', 'table' THEN
			IF type_of <> 'string' OR text_of = '' THEN
				expected := 'a non-empty string';
			END IF;
		WHEN 'key', 'incoming' THEN
			IF type_of <> 'object' THEN
				expected := 'a JSON object of column names and values';
			END IF;
		WHEN 'local' THEN
			IF type_of NOT IN ('object', 'null') THEN
				expected := 'null or a JSON object of column names and values';
			END IF;
		WHEN 'change_index' THEN
			IF type_of <> 'number' THEN
				expected := 'an integer from 0 to 2147483647';
			ELSIF value::numeric < 0 OR value::numeric > 2147483647 OR value::numeric <> trunc(value::numeric) THEN
				expected := 'an integer from 0 to 2147483647';
			END IF;
		WHEN 'incoming_lsn' THEN
			IF type_of <> 'string' OR text_of !~ '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$' THEN
				expected := 'an LSN as text, e.g. "0/16B3748"';
			END IF;
		ELSE -- local_time, incoming_time
			IF type_of = 'string' THEN
				BEGIN
					PERFORM text_of::timestamptz;
				EXCEPTION WHEN data_exception THEN
					expected := 'null or a timestamp, e.g. "2026-12-07T15:04:05.123456Z"';
				END;
			ELSIF type_of <> 'null' THEN
				expected := 'null or a timestamp, e.g. "2026-12-07T15:04:05.123456Z"';
			END IF;
		END CASE;
		IF expected IS NOT NULL THEN
			RETURN ARRAY[format('key "%s" is %s', item, left(value::text, 200)),
			             format('"%s" must be %s.', item, expected)];
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION mosta._conflict_problem(jsonb) IS
	'Returns {message, detail} saying what is wrong with a conflict document, or NULL when it is well formed';

-- _trim_conflicts deletes the rule's oldest conflicts beyond the newest keep and returns how many it deleted.
CREATE FUNCTION mosta._trim_conflicts(rule text, keep integer) RETURNS bigint
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH gone AS (
		DELETE FROM mosta.conflicts c
		 WHERE c.rule = $1
		   AND c.id <= (SELECT k.id FROM mosta.conflicts k WHERE k.rule = $1 ORDER BY k.id DESC OFFSET $2 LIMIT 1)
		RETURNING 1)
	SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION mosta._trim_conflicts(text, integer) IS
	'Deletes the oldest conflicts of a rule beyond the newest keep and returns how many';

-- _record_conflict records one conflict of rule with its target replica, as
-- the sidecar's conflict handler describes it (docs/sql-api.md, "Conflicts"),
-- and returns true, or false when it was recorded already (a replay). A new
-- conflict counts in mosta.rule_stats.conflicts (the row is created when the
-- sidecar has written none yet); that row's lock also orders concurrent
-- recordings of one rule, so that the bound holds once they commit.
CREATE FUNCTION mosta._record_conflict(rule text, replica text, conflict jsonb) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target text;
	problem text[];
	new_id bigint;
BEGIN
	PERFORM mosta._require(rule, 'rule');
	PERFORM mosta._require(replica, 'replica');
	PERFORM mosta._require(conflict, 'conflict');
	SELECT r.target_project INTO target FROM mosta.rules r WHERE r.name = $1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rule "%" does not exist', $1
			USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM mosta_rules().';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM mosta.replicas p WHERE p.project = target AND p.name = $2) THEN
		RAISE EXCEPTION 'replica "%" does not exist in project "%", the target of rule "%"', $2, target, $1
			USING ERRCODE = 'undefined_object',
			      HINT = 'A conflict is recorded against a replica of the rule''s target project: '
			             'see SELECT * FROM mosta_replica_status(' || quote_literal(target) || ').';
	END IF;
	problem := mosta._conflict_problem(conflict);
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'invalid conflict document: %', problem[1]
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = problem[2],
			      HINT = 'A conflict has exactly the keys kind, incoming_side, schema, table, key, local, incoming, '
			             'local_time, incoming_time, incoming_lsn, change_index and decision '
			             '(docs/sql-api.md, "Conflicts").';
	END IF;

	INSERT INTO mosta.conflicts AS c (rule, replica, kind, incoming_side, schema_name, table_name, key, local_row,
	                                  incoming_row, local_time, incoming_time, incoming_lsn, change_index, decision)
	VALUES ($1, $2, conflict ->> 'kind', conflict ->> 'incoming_side', conflict ->> 'schema', conflict ->> 'table',
	        conflict -> 'key', nullif(conflict -> 'local', 'null'), conflict -> 'incoming',
	        (conflict ->> 'local_time')::timestamptz, (conflict ->> 'incoming_time')::timestamptz,
	        (conflict ->> 'incoming_lsn')::pg_lsn, (conflict ->> 'change_index')::integer, conflict ->> 'decision')
	ON CONFLICT ON CONSTRAINT conflicts_once DO NOTHING
	RETURNING c.id INTO new_id;
	IF new_id IS NULL THEN
		-- a replay; a conflict that stopped the target (error) keeps the decision of the retry that resolved it
		UPDATE mosta.conflicts c SET decision = conflict ->> 'decision'
		 WHERE c.rule = $1 AND c.replica = $2 AND c.incoming_side = conflict ->> 'incoming_side'
		   AND c.incoming_lsn = (conflict ->> 'incoming_lsn')::pg_lsn
		   AND c.change_index = (conflict ->> 'change_index')::integer
		   AND c.decision = 'error' AND conflict ->> 'decision' <> 'error';
		RETURN false;
	END IF;
	INSERT INTO mosta.rule_stats AS s (rule, conflicts) VALUES ($1, 1)
	ON CONFLICT ON CONSTRAINT rule_stats_pkey DO UPDATE SET conflicts = s.conflicts + 1;
	PERFORM mosta._trim_conflicts($1, 10000);
	RETURN true;
END
$$;
COMMENT ON FUNCTION mosta._record_conflict(text, text, jsonb) IS
	'Records a conflict of a bidirectional rule (mosta-sidecar calls it); returns false when it was recorded already';

------------------------------------------------------------------------------
-- Reading and purging (mosta_admin)
------------------------------------------------------------------------------

CREATE FUNCTION mosta_conflicts(rule_name text DEFAULT NULL)
	RETURNS TABLE (
		id bigint, rule text, replica text, kind text, incoming_side text, schema_name text, table_name text,
		key jsonb, local_row jsonb, incoming_row jsonb, local_time timestamptz, incoming_time timestamptz,
		incoming_lsn pg_lsn, change_index integer, decision text, recorded_at timestamptz
	)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF mosta_conflicts.rule_name IS NOT NULL THEN
		IF NOT EXISTS (SELECT 1 FROM mosta.rules u WHERE u.name = mosta_conflicts.rule_name) THEN
			RAISE EXCEPTION 'rule "%" does not exist', mosta_conflicts.rule_name
				USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM mosta_rules().';
		END IF;
	END IF;
	RETURN QUERY
	SELECT c.id, c.rule::text, c.replica::text, c.kind, c.incoming_side, c.schema_name, c.table_name, c.key,
	       c.local_row, c.incoming_row, c.local_time, c.incoming_time, c.incoming_lsn, c.change_index, c.decision,
	       c.recorded_at
	  FROM mosta.conflicts c
	 WHERE mosta_conflicts.rule_name IS NULL OR c.rule = mosta_conflicts.rule_name
	 ORDER BY c.recorded_at DESC, c.id DESC;
END
$$;
COMMENT ON FUNCTION mosta_conflicts(text) IS
	'Returns the recorded conflicts of a rule (or of every rule), newest first; rows hold user table values';

CREATE FUNCTION mosta_purge_conflicts(rule_name text DEFAULT NULL, older_than interval DEFAULT '0')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	source text;
	deleted bigint;
BEGIN
	PERFORM mosta._require(older_than, 'older_than');
	IF older_than < interval '0' THEN
		RAISE EXCEPTION 'older_than must not be negative'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use ''0'' to delete every recorded conflict, or e.g. ''30 days'' to keep the last 30 days.';
	END IF;
	IF rule_name IS NOT NULL THEN
		SELECT u.source_project INTO source FROM mosta.rules u WHERE u.name = rule_name;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'rule "%" does not exist', rule_name
				USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM mosta_rules().';
		END IF;
	END IF;
	DELETE FROM mosta.conflicts c
	 WHERE (rule_name IS NULL OR c.rule = rule_name) AND c.recorded_at <= now() - older_than;
	GET DIAGNOSTICS deleted = ROW_COUNT;
	IF deleted > 0 THEN
		PERFORM mosta._log('purge_conflicts', source, rule_name,
			jsonb_build_object('older_than', older_than::text, 'deleted', deleted));
	END IF;
	RETURN deleted;
END
$$;
COMMENT ON FUNCTION mosta_purge_conflicts(text, interval) IS
	'Deletes the recorded conflicts of a rule (or of every rule) older than older_than and returns how many; '
	'the rules'' conflict counters keep counting';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON mosta.conflicts, mosta.conflicts_id_seq FROM PUBLIC;
GRANT SELECT ON mosta.conflicts TO mosta_admin;
REVOKE ALL ON FUNCTION
	mosta._conflict_problem(jsonb),
	mosta._trim_conflicts(text, integer),
	mosta._record_conflict(text, text, jsonb),
	mosta_conflicts(text),
	mosta_purge_conflicts(text, interval)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mosta._record_conflict(text, text, jsonb) TO mosta_sidecar;
GRANT EXECUTE ON FUNCTION mosta_conflicts(text), mosta_purge_conflicts(text, interval) TO mosta_admin;

------------------------------------------------------------------------------
-- The in-server write lease (sql/parts/80_write_lease.sql)
------------------------------------------------------------------------------

CREATE FUNCTION mosta_write_lease_grant(valid_until_boottime_us bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_grant'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mosta_write_lease_grant(bigint) IS
	'Lets transactions that write commit until the given CLOCK_BOOTTIME microsecond (at most 1 hour ahead); '
	'returns the milliseconds left, negative when already past';

CREATE FUNCTION mosta_write_lease_revoke() RETURNS void
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_revoke'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mosta_write_lease_revoke() IS
	'Refuses the commit of every transaction that writes from now on, until the next grant';

CREATE FUNCTION mosta_write_lease_state(
	OUT enforced boolean, OUT preloaded boolean, OUT granted boolean, OUT remaining_ms bigint,
	OUT now_boottime_us bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mostajs_write_lease_state'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION mosta_write_lease_state() IS
	'One row: whether the write lease is enforced (mostajs.write_lease on and mostajs preloaded), whether a write '
	'would commit now, the milliseconds left (NULL when never granted) and the server''s CLOCK_BOOTTIME in microseconds';

REVOKE ALL ON FUNCTION
	mosta_write_lease_grant(bigint),
	mosta_write_lease_revoke(),
	mosta_write_lease_state()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mosta_write_lease_grant(bigint),
	mosta_write_lease_revoke(),
	mosta_write_lease_state()
	TO mosta_admin;

-- Event triggers come last, so that this script's own DDL does not fire them.
CREATE EVENT TRIGGER mosta_ddl_command_end ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'ALTER TYPE', 'ALTER DOMAIN')
	EXECUTE FUNCTION mosta._ddl_command_end();
COMMENT ON EVENT TRIGGER mosta_ddl_command_end IS
	'Writes a mostajs.ddl logical message with the new shape of each user table a DDL command creates or alters';
CREATE EVENT TRIGGER mosta_ddl_table_rewrite ON table_rewrite
	EXECUTE FUNCTION mosta._ddl_table_rewrite();
COMMENT ON EVENT TRIGGER mosta_ddl_table_rewrite IS
	'Records the tables a command rewrites, for the mostajs.ddl message its ddl_command_end writes';

COMMENT ON FUNCTION mosta_validate_rule(text) IS
	'Returns the compatibility report of a rule: what its SQLite, MongoDB and SQL dump targets cannot hold faithfully';
