/*
 * sql/parts/10_core.sql
 *	  The mostajs catalog (schema mosta) and the SQL API a DBA declares
 *	  projects, replicas, rules and read routing with; change capture helpers.
 *
 * The install script mostajs--0.1.0.sql is made by "make": the files of sql/parts
 * concatenated in name order, this part first (it holds the \echo guard and
 * creates the schema and roles). Each later part grants and revokes on its own
 * objects: the "REVOKE ALL ... FROM PUBLIC" below covers only what exists here.
 *
 * Security model:
 *  - Tables live in schema mosta and are owned by the extension owner.
 *    Replica URIs (with credentials) are readable only by mosta_admin;
 *    PUBLIC reads the masked views and the read-only functions.
 *  - The mutating functions are SECURITY DEFINER with a pinned search_path,
 *    and executable only by mosta_admin (and superusers).
 *  - Every identifier that reaches dynamic SQL is quoted (format %I) or
 *    passed through regclass; user values only ever travel as parameters.
 *
 * Version 0.1.0 is not released yet; once it is, its parts are frozen and
 * changes go to an upgrade script.
 */

\echo Use "CREATE EXTENSION mostajs" to load this file. \quit

-- mosta_admin: the role members of which administer replication.
-- mosta_sidecar: what mosta-sidecar needs from the catalog (read it, URIs
-- included; write the status tables); grant it to the sidecar's login role,
-- which also needs REPLICATION and SELECT on the replicated tables.
-- Roles are cluster-wide and outlive the extension, so existing ones are reused.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mosta_admin') THEN
		CREATE ROLE mosta_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mosta_sidecar') THEN
		CREATE ROLE mosta_sidecar NOLOGIN;
	END IF;
END
$$;

CREATE SCHEMA mosta;
COMMENT ON SCHEMA mosta IS 'mostajs catalog: projects, replicas, rules, routing, status and activity';
GRANT USAGE ON SCHEMA mosta TO PUBLIC;

------------------------------------------------------------------------------
-- Catalog tables
------------------------------------------------------------------------------

-- Names of projects, replicas and rules: short, printable, safe in file names
-- and in the topology file. The same rule is checked with a hint by
-- mosta._check_name() before a row gets here.
CREATE DOMAIN mosta.object_name AS text
	CHECK (VALUE ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$');

CREATE TABLE mosta.projects (
	name        mosta.object_name PRIMARY KEY,
	created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mosta.projects IS 'A named group of replicas: one master and its slaves';

CREATE TABLE mosta.replicas (
	project           mosta.object_name NOT NULL REFERENCES mosta.projects (name) ON DELETE CASCADE,
	name              mosta.object_name NOT NULL,
	role              text NOT NULL CHECK (role IN ('master', 'slave')),
	dialect           text NOT NULL CHECK (dialect IN ('postgres', 'sqlite', 'mongodb', 'sqldump', 'jsonl')),
	uri               text NOT NULL,
	lag_tolerance_ms  bigint NOT NULL DEFAULT 5000 CHECK (lag_tolerance_ms >= 0),
	pool_min          integer NOT NULL DEFAULT 1 CHECK (pool_min >= 0),
	pool_max          integer NOT NULL DEFAULT 10 CHECK (pool_max >= 1 AND pool_max >= pool_min),
	created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project, name)
);
CREATE UNIQUE INDEX replicas_one_master ON mosta.replicas (project) WHERE role = 'master';
COMMENT ON TABLE mosta.replicas IS 'Replicas of each project; uri holds credentials and is readable by mosta_admin only';

CREATE TABLE mosta.rules (
	name                 mosta.object_name PRIMARY KEY,
	source_project       mosta.object_name NOT NULL REFERENCES mosta.projects (name),
	target_project       mosta.object_name NOT NULL REFERENCES mosta.projects (name),
	mode                 text NOT NULL CHECK (mode IN ('snapshot', 'cdc', 'bidirectional')),
	collections          text[] NOT NULL CHECK (pg_catalog.cardinality(collections) > 0),
	conflict_resolution  text NOT NULL DEFAULT 'source-wins'
		CHECK (conflict_resolution IN ('source-wins', 'target-wins', 'last-write-wins')),
	enabled              boolean NOT NULL DEFAULT true,
	created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mosta.rules IS 'Replication rules; collections are canonical qualified table names, or {*}';
COMMENT ON COLUMN mosta.rules.collections IS
	'Schema-qualified table names as quote_qualified_identifier writes them, or the single element * for every table with a key';

CREATE TABLE mosta.routing (
	project   mosta.object_name PRIMARY KEY REFERENCES mosta.projects (name) ON DELETE CASCADE,
	strategy  text NOT NULL CHECK (strategy IN ('least-lag', 'round-robin', 'random'))
);
COMMENT ON TABLE mosta.routing IS 'Read routing strategy per project; a project without a row uses least-lag';

-- Written by the sidecar; one row per replica it watches.
CREATE TABLE mosta.replica_status (
	project      mosta.object_name NOT NULL,
	replica      mosta.object_name NOT NULL,
	status       text NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'up', 'catching-up', 'down', 'error')),
	lag_ms       bigint CHECK (lag_ms >= 0),
	lag_bytes    bigint CHECK (lag_bytes >= 0),
	applied_lsn  pg_lsn,
	tables       integer CHECK (tables >= 0),
	last_error   text,
	last_seen    timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (project, replica),
	FOREIGN KEY (project, replica) REFERENCES mosta.replicas (project, name) ON DELETE CASCADE
);
COMMENT ON TABLE mosta.replica_status IS 'Live replica status, reported by mosta-sidecar';

-- Written by the sidecar; one row per rule it runs.
CREATE TABLE mosta.rule_stats (
	rule              mosta.object_name PRIMARY KEY REFERENCES mosta.rules (name) ON DELETE CASCADE,
	status            text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'error')),
	snapshot_rows     bigint NOT NULL DEFAULT 0,
	changes_applied   bigint NOT NULL DEFAULT 0,
	transactions      bigint NOT NULL DEFAULT 0,
	confirmed_lsn     pg_lsn,
	retained_bytes    bigint,
	last_applied_at   timestamptz,
	last_error        text,
	updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mosta.rule_stats IS 'Per-rule counters, reported by mosta-sidecar';

-- Written by the sidecar; one row per (rule, target replica). Each target has its own replication slot, so a
-- failing target holds back only its own slot: retained_bytes is the WAL that slot makes PostgreSQL keep.
CREATE TABLE mosta.target_status (
	rule              mosta.object_name NOT NULL REFERENCES mosta.rules (name) ON DELETE CASCADE,
	project           mosta.object_name NOT NULL,
	replica           mosta.object_name NOT NULL,
	slot              name NOT NULL,
	status            text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'error')),
	snapshot_rows     bigint NOT NULL DEFAULT 0,
	changes_applied   bigint NOT NULL DEFAULT 0,
	transactions      bigint NOT NULL DEFAULT 0,
	applied_lsn       pg_lsn,
	retained_bytes    bigint,
	wal_status        text,
	last_error        text,
	warning           text,
	resnapshots       integer NOT NULL DEFAULT 0,
	updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (rule, project, replica),
	FOREIGN KEY (project, replica) REFERENCES mosta.replicas (project, name) ON DELETE CASCADE
);
COMMENT ON TABLE mosta.target_status IS 'Per-rule, per-target progress and slot health, reported by mosta-sidecar';

CREATE TABLE mosta.activity (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	actor       name NOT NULL DEFAULT session_user,
	action      text NOT NULL,
	project     text,
	object      text,
	detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX activity_at ON mosta.activity (at);
COMMENT ON TABLE mosta.activity IS 'What was changed, when and by whom; credentials are masked before they get here';

-- The catalog travels with pg_dump (configuration tables), the live status does not.
SELECT pg_catalog.pg_extension_config_dump('mosta.projects', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.replicas', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.rules', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.routing', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.activity', '');
-- the log's sequence goes with its rows, or a restored log would reuse ids
SELECT pg_catalog.pg_extension_config_dump('mosta.activity_id_seq', '');

------------------------------------------------------------------------------
-- C++ helpers (mostajs library)
------------------------------------------------------------------------------

CREATE FUNCTION mosta.mask_uri(uri text) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_mask_uri'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.mask_uri(text) IS 'Returns the URI with every password replaced by ***';

CREATE FUNCTION mosta.mask_text(text text) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_mask_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.mask_text(text) IS
	'Returns free text (an error message) with the credentials of every URI and secret key=value in it masked';

CREATE FUNCTION mosta.check_uri(dialect text, uri text) RETURNS void
	AS 'MODULE_PATHNAME', 'mostajs_check_uri'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mosta.check_uri(text, text) IS 'Raises 22023 when the URI is malformed for the dialect';

CREATE FUNCTION mosta.resolve_collection(name text) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_resolve_collection'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mosta.resolve_collection(text) IS
	'Returns the canonical qualified name of a table that has a key to replicate by, or raises why not';

CREATE FUNCTION mosta.round_robin_tick() RETURNS bigint
	AS 'MODULE_PATHNAME', 'mostajs_round_robin_tick'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mosta.round_robin_tick() IS 'Returns this session''s next round-robin position';

CREATE FUNCTION mosta.status_max_age_ms() RETURNS integer
	AS 'MODULE_PATHNAME', 'mostajs_status_max_age_ms'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.status_max_age_ms() IS 'Returns the mostajs.status_max_age setting in milliseconds';

------------------------------------------------------------------------------
-- Argument checks shared by the API functions
------------------------------------------------------------------------------

-- _require raises 22004 when a required argument is NULL.
CREATE FUNCTION mosta._require(value anyelement, argument text) RETURNS anyelement
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null', argument
			USING ERRCODE = 'null_value_not_allowed',
			      HINT = format('Pass a value for %s.', argument);
	END IF;
	RETURN value;
END
$$;

-- _check_choice raises 22023 with the valid choices when value is not one of them.
CREATE FUNCTION mosta._check_choice(value text, argument text, choices text[]) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(value, argument);
	IF NOT value = ANY (choices) THEN
		RAISE EXCEPTION 'invalid % "%"', argument, value
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = format('Valid values for %s are: %s.', argument, array_to_string(choices, ', '));
	END IF;
	RETURN value;
END
$$;

-- _check_name raises 22023 when a project, replica or rule name is not usable.
CREATE FUNCTION mosta._check_name(value text, argument text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(value, argument);
	IF value !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid % "%"', argument, value
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'Names are used in file names, metrics and the topology file.',
			      HINT = 'Use 1 to 63 letters, digits, "_", "." or "-", starting with a letter or digit.';
	END IF;
	RETURN value;
END
$$;

-- _require_project raises 42704, listing the known projects, when project does not exist.
CREATE FUNCTION mosta._require_project(project text, argument text) RETURNS text
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require(project, argument);
	IF NOT EXISTS (SELECT 1 FROM mosta.projects p WHERE p.name = project) THEN
		RAISE EXCEPTION 'project "%" does not exist', project
			USING ERRCODE = 'undefined_object',
			      HINT = coalesce('Known projects: ' || (SELECT string_agg(p.name, ', ' ORDER BY p.name)
			                                             FROM mosta.projects p) || '. ', '')
			             || 'A project is created by adding its first replica with mosta_add_replica().';
	END IF;
	RETURN project;
END
$$;

-- _log appends one line to the activity log.
CREATE FUNCTION mosta._log(action text, project text, object text, detail jsonb DEFAULT '{}') RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	INSERT INTO mosta.activity (action, project, object, detail) VALUES ($1, $2, $3, coalesce($4, '{}'));
$$;

-- _drop_empty_projects removes the projects no replica and no rule names any more.
CREATE FUNCTION mosta._drop_empty_projects() RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	DELETE FROM mosta.projects p
	 WHERE NOT EXISTS (SELECT 1 FROM mosta.replicas r WHERE r.project = p.name)
	   AND NOT EXISTS (SELECT 1 FROM mosta.rules u WHERE p.name IN (u.source_project, u.target_project));
$$;

-- _resolve_collections returns the canonical form of a rule's collections:
-- {*} alone, or distinct qualified table names that each have a key. It runs
-- with the caller's search_path and privileges (SECURITY INVOKER, no SET):
-- a canonical name resolves the same under any search_path.
CREATE FUNCTION mosta._resolve_collections(collections text[]) RETURNS text[]
	LANGUAGE plpgsql STABLE
	AS $$
DECLARE
	resolved text[] := '{}';
	item text;
BEGIN
	PERFORM mosta._require(collections, 'collections');
	IF pg_catalog.cardinality(collections) = 0 THEN
		RAISE EXCEPTION 'collections must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'List table names, or use ARRAY[''*''] for every table with a key.';
	END IF;
	IF '*' OPERATOR(pg_catalog.=) ANY (collections) THEN
		IF pg_catalog.cardinality(collections) > 1 THEN
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

------------------------------------------------------------------------------
-- Replicas
------------------------------------------------------------------------------

CREATE FUNCTION mosta_add_replica(
	project text,
	name text,
	role text,
	dialect text,
	uri text,
	lag_tolerance_ms bigint DEFAULT 5000,
	pool_min integer DEFAULT 1,
	pool_max integer DEFAULT 10
) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	current_master text;
BEGIN
	PERFORM mosta._check_name(project, 'project');
	PERFORM mosta._check_name(name, 'name');
	PERFORM mosta._check_choice(role, 'role', ARRAY['master', 'slave']);
	PERFORM mosta._check_choice(dialect, 'dialect', ARRAY['postgres', 'sqlite', 'mongodb', 'sqldump', 'jsonl']);
	IF role = 'master' AND dialect IN ('sqldump', 'jsonl') THEN
		RAISE EXCEPTION 'a % replica cannot be a master', dialect
			USING ERRCODE = 'invalid_parameter_value',
			      DETAIL = 'SQL dumps and JSON archives are written, never read: writes cannot go there.',
			      HINT = 'Add it with role ''slave''; masters are postgres, sqlite or mongodb.';
	END IF;
	PERFORM mosta._require(uri, 'uri');
	PERFORM mosta.check_uri(dialect, uri);
	PERFORM mosta._require(lag_tolerance_ms, 'lag_tolerance_ms');
	PERFORM mosta._require(pool_min, 'pool_min');
	PERFORM mosta._require(pool_max, 'pool_max');
	IF lag_tolerance_ms < 0 THEN
		RAISE EXCEPTION 'lag_tolerance_ms must not be negative'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use 0 for "fully caught up or refuse", or the lag in milliseconds to tolerate.';
	END IF;
	IF pool_min < 0 OR pool_max < 1 OR pool_max < pool_min THEN
		RAISE EXCEPTION 'invalid pool size: pool_min % and pool_max %', pool_min, pool_max
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use 0 <= pool_min <= pool_max, with pool_max >= 1.';
	END IF;

	INSERT INTO mosta.projects (name) VALUES (project) ON CONFLICT DO NOTHING;
	BEGIN
		INSERT INTO mosta.replicas (project, name, role, dialect, uri, lag_tolerance_ms, pool_min, pool_max)
		VALUES (project, name, role, dialect, uri, lag_tolerance_ms, pool_min, pool_max);
	EXCEPTION WHEN unique_violation THEN
		SELECT r.name INTO current_master FROM mosta.replicas r
		 WHERE r.project = mosta_add_replica.project AND r.role = 'master';
		IF role = 'master' AND current_master IS NOT NULL AND current_master <> name THEN
			RAISE EXCEPTION 'project "%" already has a master "%"', project, current_master
				USING ERRCODE = 'unique_violation',
				      DETAIL = 'A project has exactly one master: writes go there.',
				      HINT = 'Add this replica with role ''slave'', or remove the current master first.';
		END IF;
		RAISE EXCEPTION 'replica "%" already exists in project "%"', name, project
			USING ERRCODE = 'unique_violation',
			      HINT = 'Choose another name, or remove the replica first with mosta_remove_replica().';
	END;

	PERFORM mosta._log('add_replica', project, name,
		jsonb_build_object('role', role, 'dialect', dialect, 'uri', mosta.mask_uri(uri),
		                   'lag_tolerance_ms', lag_tolerance_ms, 'pool_min', pool_min, 'pool_max', pool_max));
END
$$;
COMMENT ON FUNCTION mosta_add_replica(text, text, text, text, text, bigint, integer, integer) IS
	'Declares a replica of a project (creating the project with its first replica)';

CREATE FUNCTION mosta_remove_replica(project text, name text, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	removed_role text;
BEGIN
	PERFORM mosta._require(project, 'project');
	PERFORM mosta._require(name, 'name');
	PERFORM mosta._require(if_exists, 'if_exists');
	IF NOT if_exists THEN
		PERFORM mosta._require_project(project, 'project');
	END IF;
	DELETE FROM mosta.replicas r
	 WHERE r.project = mosta_remove_replica.project AND r.name = mosta_remove_replica.name
	RETURNING r.role INTO removed_role;
	IF removed_role IS NULL THEN
		IF if_exists THEN
			RETURN false;
		END IF;
		RAISE EXCEPTION 'replica "%" does not exist in project "%"', name, project
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_replica_status(); pass if_exists => true to ignore this.';
	END IF;
	-- a project lives as long as replicas or rules name it
	PERFORM mosta._drop_empty_projects();
	PERFORM mosta._log('remove_replica', project, name, jsonb_build_object('role', removed_role));
	RETURN true;
END
$$;
COMMENT ON FUNCTION mosta_remove_replica(text, text, boolean) IS
	'Removes a replica; returns false instead of failing when it does not exist and if_exists is true';

------------------------------------------------------------------------------
-- Rules
------------------------------------------------------------------------------

-- _add_rule stores a rule whose collections the caller has already resolved.
CREATE FUNCTION mosta._add_rule(
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
	                            ARRAY['source-wins', 'target-wins', 'last-write-wins']);
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

-- mosta_add_rule resolves the collections with the caller's search_path and
-- privileges (the caller must be able to see the tables), then stores the rule
-- through _add_rule, which checks everything again as the owner. The checks
-- here only put the errors in argument order.
CREATE FUNCTION mosta_add_rule(
	name text,
	source text,
	target text,
	mode text,
	collections text[],
	conflict_resolution text DEFAULT 'source-wins',
	enabled boolean DEFAULT true
) RETURNS void
	LANGUAGE plpgsql VOLATILE
	AS $$
DECLARE
	summary text;
BEGIN
	PERFORM mosta._check_name(name, 'name');
	PERFORM mosta._require_project(source, 'source');
	PERFORM mosta._require_project(target, 'target');
	PERFORM mosta._check_choice(mode, 'mode', ARRAY['snapshot', 'cdc', 'bidirectional']);
	PERFORM mosta._add_rule(name, source, target, mode, mosta._resolve_collections(collections),
	                        conflict_resolution, enabled);
	-- the compatibility report's counts, when the rule has SQLite or MongoDB targets (sql/parts/60_validate.sql)
	summary := mosta._validation_summary(name);
	IF summary IS NOT NULL THEN
		RAISE NOTICE '%', summary
			USING HINT = pg_catalog.format('See SELECT * FROM mosta_validate_rule(%L).', name);
	END IF;
END
$$;
COMMENT ON FUNCTION mosta_add_rule(text, text, text, text, text[], text, boolean) IS
	'Declares a replication rule from a source project to a target project';

CREATE FUNCTION mosta_remove_rule(name text, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	removed mosta.rules;
BEGIN
	PERFORM mosta._require(name, 'name');
	PERFORM mosta._require(if_exists, 'if_exists');
	DELETE FROM mosta.rules r WHERE r.name = mosta_remove_rule.name RETURNING r.* INTO removed;
	IF removed.name IS NULL THEN
		IF if_exists THEN
			RETURN false;
		END IF;
		RAISE EXCEPTION 'rule "%" does not exist', name
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_rules(); pass if_exists => true to ignore this.';
	END IF;
	PERFORM mosta._drop_empty_projects();
	PERFORM mosta._log('remove_rule', removed.source_project, name,
		jsonb_build_object('target', removed.target_project, 'mode', removed.mode));
	RETURN true;
END
$$;
COMMENT ON FUNCTION mosta_remove_rule(text, boolean) IS
	'Removes a rule; returns false instead of failing when it does not exist and if_exists is true';

-- _set_rule_enabled switches a rule on or off, logging only real changes.
CREATE FUNCTION mosta._set_rule_enabled(rule text, wanted boolean) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	previous boolean;
	source text;
BEGIN
	PERFORM mosta._require(rule, 'name');
	SELECT r.enabled, r.source_project INTO previous, source FROM mosta.rules r WHERE r.name = rule FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rule "%" does not exist', rule
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_rules() for the declared rules.';
	END IF;
	IF previous IS DISTINCT FROM wanted THEN
		UPDATE mosta.rules r SET enabled = wanted, updated_at = now() WHERE r.name = rule;
		PERFORM mosta._log(CASE WHEN wanted THEN 'enable_rule' ELSE 'disable_rule' END, source, rule);
	END IF;
END
$$;

CREATE FUNCTION mosta_enable_rule(name text) RETURNS void
	LANGUAGE sql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT mosta._set_rule_enabled($1, true); $$;
COMMENT ON FUNCTION mosta_enable_rule(text) IS 'Enables a rule: the sidecar starts running it';

CREATE FUNCTION mosta_disable_rule(name text) RETURNS void
	LANGUAGE sql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT mosta._set_rule_enabled($1, false); $$;
COMMENT ON FUNCTION mosta_disable_rule(text) IS 'Disables a rule: the sidecar stops running it and keeps its position';

------------------------------------------------------------------------------
-- Read routing
------------------------------------------------------------------------------

CREATE FUNCTION mosta_set_read_routing(project text, strategy text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._require_project(project, 'project');
	PERFORM mosta._check_choice(strategy, 'strategy', ARRAY['least-lag', 'round-robin', 'random']);
	INSERT INTO mosta.routing AS r (project, strategy) VALUES (project, strategy)
	ON CONFLICT ON CONSTRAINT routing_pkey DO UPDATE SET strategy = excluded.strategy
	 WHERE r.strategy IS DISTINCT FROM excluded.strategy;
	IF FOUND THEN
		PERFORM mosta._log('set_read_routing', project, NULL, jsonb_build_object('strategy', strategy));
	END IF;
END
$$;
COMMENT ON FUNCTION mosta_set_read_routing(text, text) IS
	'Sets how mosta_read_replica() picks a slave: least-lag, round-robin or random';

-- _within_tolerance tells whether a replica's reported state is trustworthy
-- and close enough to the master: reported up, within mostajs.status_max_age
-- (0: no limit), and lagging by no more than its tolerance.
CREATE FUNCTION mosta._within_tolerance(status text, lag_ms bigint, last_seen timestamptz, tolerance_ms bigint)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce($1 = 'up' AND $2 <= $4
	                AND (mosta.status_max_age_ms() = 0
	                     OR $3 >= now() - make_interval(secs => mosta.status_max_age_ms() / 1000.0)),
	                false)
$$;

-- _eligible_slaves lists the slaves reads may go to now: reported up, fresh,
-- within their lag tolerance, and of a dialect that can answer queries.
CREATE FUNCTION mosta._eligible_slaves(project text)
	RETURNS TABLE (replica text, lag_ms bigint)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.name::text, s.lag_ms
	  FROM mosta.replicas r
	  JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
	 WHERE r.project = $1
	   AND r.role = 'slave'
	   AND r.dialect IN ('postgres', 'sqlite', 'mongodb')
	   AND mosta._within_tolerance(s.status, s.lag_ms, s.last_seen, r.lag_tolerance_ms)
$$;

CREATE FUNCTION mosta_read_replica(project text) RETURNS text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	chosen_strategy text;
	by_lag text[];
	by_name text[];
	chosen text;
BEGIN
	PERFORM mosta._require_project(project, 'project');
	SELECT coalesce((SELECT r.strategy FROM mosta.routing r WHERE r.project = mosta_read_replica.project),
	                'least-lag')
	  INTO chosen_strategy;
	-- one read of the status, so the choice is made on a consistent list
	SELECT array_agg(e.replica ORDER BY e.lag_ms, e.replica), array_agg(e.replica ORDER BY e.replica)
	  INTO by_lag, by_name
	  FROM mosta._eligible_slaves(project) e;
	IF by_lag IS NOT NULL THEN
		RETURN CASE chosen_strategy
			WHEN 'least-lag' THEN by_lag[1]
			WHEN 'round-robin' THEN by_name[1 + mosta.round_robin_tick() % cardinality(by_name)]
			ELSE by_name[1 + floor(random() * cardinality(by_name))::integer]
		END;
	END IF;
	SELECT r.name INTO chosen FROM mosta.replicas r WHERE r.project = mosta_read_replica.project AND r.role = 'master';
	IF chosen IS NULL THEN
		RAISE EXCEPTION 'project "%" has no master and no slave eligible for reads', project
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'A slave is eligible when the sidecar reports it up within mostajs.status_max_age and within its lag tolerance.',
			      HINT = 'Add a master with mosta_add_replica(role => ''master''), or check SELECT * FROM mosta_replica_status().';
	END IF;
	RETURN chosen;
END
$$;
COMMENT ON FUNCTION mosta_read_replica(text) IS
	'Returns the replica reads should go to: a fresh slave picked by the routing strategy, else the master';

------------------------------------------------------------------------------
-- Status and topology (readable by everyone, credentials masked)
------------------------------------------------------------------------------

CREATE VIEW mosta.replicas_masked AS
	SELECT r.project, r.name, r.role, r.dialect, mosta.mask_uri(r.uri) AS uri,
	       r.lag_tolerance_ms, r.pool_min, r.pool_max, r.created_at
	  FROM mosta.replicas r;
COMMENT ON VIEW mosta.replicas_masked IS 'mosta.replicas with every password masked as ***';

CREATE TYPE mosta.replica_status_row AS (
	project text, replica text, role text, dialect text, uri text,
	status text, lag_ms bigint, lag_bytes bigint, lag_tolerance_ms bigint, within_tolerance boolean,
	applied_lsn pg_lsn, tables integer, last_seen timestamptz, last_error text
);

CREATE FUNCTION mosta_replica_status(project text DEFAULT NULL)
	RETURNS SETOF mosta.replica_status_row
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF project IS NOT NULL THEN
		PERFORM mosta._require_project(project, 'project');
	END IF;
	RETURN QUERY
	SELECT r.project::text, r.name::text, r.role, r.dialect, r.uri,
	       coalesce(s.status, 'unknown'), s.lag_ms, s.lag_bytes, r.lag_tolerance_ms,
	       mosta._within_tolerance(s.status, s.lag_ms, s.last_seen, r.lag_tolerance_ms),
	       s.applied_lsn, s.tables, s.last_seen, mosta.mask_text(s.last_error)
	  FROM mosta.replicas_masked r
	  LEFT JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
	 WHERE mosta_replica_status.project IS NULL OR r.project = mosta_replica_status.project
	 ORDER BY r.project, r.role, r.name;
END
$$;
COMMENT ON FUNCTION mosta_replica_status(text) IS
	'Returns each replica with its reported status and lag; URIs masked';

CREATE FUNCTION mosta_rules()
	RETURNS TABLE (
		name text, source text, target text, mode text, collections text[], conflict_resolution text,
		enabled boolean, status text, snapshot_rows bigint, changes_applied bigint, transactions bigint,
		confirmed_lsn pg_lsn, retained_bytes bigint, last_applied_at timestamptz, last_error text
	)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.name, r.source_project, r.target_project, r.mode, r.collections, r.conflict_resolution,
	       r.enabled,
	       CASE WHEN NOT r.enabled THEN 'disabled' ELSE coalesce(s.status, 'pending') END,
	       coalesce(s.snapshot_rows, 0), coalesce(s.changes_applied, 0), coalesce(s.transactions, 0),
	       s.confirmed_lsn, s.retained_bytes, s.last_applied_at, mosta.mask_text(s.last_error)
	  FROM mosta.rules r
	  LEFT JOIN mosta.rule_stats s ON s.rule = r.name
	 ORDER BY r.name
$$;
COMMENT ON FUNCTION mosta_rules() IS 'Returns each rule with the counters the sidecar reports';

CREATE FUNCTION mosta_rule_targets(rule_name text DEFAULT NULL)
	RETURNS TABLE (
		rule text, project text, replica text, dialect text, slot name, status text, snapshot_rows bigint,
		changes_applied bigint, transactions bigint, applied_lsn pg_lsn, retained_bytes bigint, wal_status text,
		resnapshots integer, last_error text, warning text, updated_at timestamptz
	)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF mosta_rule_targets.rule_name IS NOT NULL THEN
		IF NOT EXISTS (SELECT 1 FROM mosta.rules u WHERE u.name = mosta_rule_targets.rule_name) THEN
			RAISE EXCEPTION 'rule "%" does not exist', mosta_rule_targets.rule_name
				USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM mosta_rules().';
		END IF;
	END IF;
	RETURN QUERY
	SELECT t.rule::text, t.project::text, t.replica::text, r.dialect, t.slot, t.status, t.snapshot_rows,
	       t.changes_applied, t.transactions, t.applied_lsn, t.retained_bytes, t.wal_status, t.resnapshots,
	       mosta.mask_text(t.last_error), mosta.mask_text(t.warning), t.updated_at
	  FROM mosta.target_status t
	  JOIN mosta.replicas r ON r.project = t.project AND r.name = t.replica
	 WHERE mosta_rule_targets.rule_name IS NULL OR t.rule = mosta_rule_targets.rule_name
	 ORDER BY t.rule, t.project, t.replica;
END
$$;
COMMENT ON FUNCTION mosta_rule_targets(text) IS
	'Returns each target of each rule the sidecar runs: its slot, progress, retained WAL and errors';

CREATE FUNCTION mosta_topology() RETURNS jsonb
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT jsonb_build_object(
		'version', 1,
		'generatedAt', now(),
		'projects', coalesce((
			SELECT jsonb_object_agg(p.name, jsonb_build_object(
				'readRouting', coalesce((SELECT g.strategy FROM mosta.routing g WHERE g.project = p.name), 'least-lag'),
				'replicas', coalesce((
					SELECT jsonb_agg(jsonb_build_object(
						'name', r.name, 'role', r.role, 'dialect', r.dialect, 'uri', r.uri,
						'lagTolerance', r.lag_tolerance_ms,
						'pool', jsonb_build_object('min', r.pool_min, 'max', r.pool_max),
						'status', jsonb_build_object(
							'status', coalesce(s.status, 'unknown'), 'lagMs', s.lag_ms, 'lagBytes', s.lag_bytes,
							'appliedLsn', s.applied_lsn, 'tables', s.tables, 'lastSeen', s.last_seen,
							'withinTolerance', mosta._within_tolerance(s.status, s.lag_ms, s.last_seen, r.lag_tolerance_ms),
							'lastError', mosta.mask_text(s.last_error))
					) ORDER BY r.role, r.name)
					  FROM mosta.replicas_masked r
					  LEFT JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
					 WHERE r.project = p.name), '[]')))
			  FROM mosta.projects p), '{}'),
		'rules', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'name', u.name, 'source', u.source, 'target', u.target, 'mode', u.mode,
				'collections', to_jsonb(u.collections), 'conflictResolution', u.conflict_resolution,
				'enabled', u.enabled,
				'stats', jsonb_build_object('status', u.status, 'snapshotRows', u.snapshot_rows,
				                            'changesApplied', u.changes_applied, 'transactions', u.transactions,
				                            'confirmedLsn', u.confirmed_lsn, 'retainedBytes', u.retained_bytes,
				                            'lastAppliedAt', u.last_applied_at, 'lastError', u.last_error),
				'targets', coalesce((
					SELECT jsonb_agg(jsonb_build_object(
						'project', g.project, 'replica', g.replica, 'slot', g.slot, 'status', g.status,
						'appliedLsn', g.applied_lsn, 'retainedBytes', g.retained_bytes, 'walStatus', g.wal_status,
						'resnapshots', g.resnapshots, 'lastError', g.last_error, 'warning', g.warning,
						'updatedAt', g.updated_at
					) ORDER BY g.project, g.replica)
					  FROM @extschema@.mosta_rule_targets(u.name) g), '[]')
			) ORDER BY u.name)
			  FROM @extschema@.mosta_rules() u), '[]'))
$$;
COMMENT ON FUNCTION mosta_topology() IS
	'Returns the whole topology (projects, replicas, routing, rules, status) as jsonb, passwords masked';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA mosta FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mosta FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA mosta TO mosta_admin;
GRANT SELECT ON mosta.replicas_masked TO PUBLIC;

-- internal helpers the public read functions and views need
GRANT EXECUTE ON FUNCTION mosta.mask_uri(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mosta.mask_text(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mosta.check_uri(text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mosta._require(anyelement, text) TO PUBLIC;
-- mosta_add_rule runs as its caller: admins need its helpers
GRANT EXECUTE ON FUNCTION mosta._resolve_collections(text[]) TO mosta_admin;
GRANT EXECUTE ON FUNCTION mosta.resolve_collection(text) TO mosta_admin;
GRANT EXECUTE ON FUNCTION mosta._add_rule(text, text, text, text, text[], text, boolean) TO mosta_admin;
GRANT EXECUTE ON FUNCTION mosta._check_name(text, text), mosta._check_choice(text, text, text[]),
	mosta._require_project(text, text) TO mosta_admin;

REVOKE ALL ON FUNCTION
	mosta_add_replica(text, text, text, text, text, bigint, integer, integer),
	mosta_remove_replica(text, text, boolean),
	mosta_add_rule(text, text, text, text, text[], text, boolean),
	mosta_remove_rule(text, boolean),
	mosta_enable_rule(text),
	mosta_disable_rule(text),
	mosta_set_read_routing(text, text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mosta_add_replica(text, text, text, text, text, bigint, integer, integer),
	mosta_remove_replica(text, text, boolean),
	mosta_add_rule(text, text, text, text, text[], text, boolean),
	mosta_remove_rule(text, boolean),
	mosta_enable_rule(text),
	mosta_disable_rule(text),
	mosta_set_read_routing(text, text)
	TO mosta_admin;

------------------------------------------------------------------------------
-- DDL messages and heartbeats in the change stream (docs/capture.md)
------------------------------------------------------------------------------

-- _ddl_user_table tells whether DDL on a relation is announced in the stream:
-- ordinary and partitioned tables that are not temporary, outside the system
-- schemas and mosta. Every such table is announced, captured or not: the
-- extension cannot know which tables a slot's consumer follows, so sinks filter.
CREATE FUNCTION mosta._ddl_user_table(relid oid) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT EXISTS (
		SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = $1 AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
		   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'mosta'))
$$;

-- _ddl_table_json returns the one-line JSON document announcing a table's new
-- shape after command: its live columns in attnum order (generated columns
-- are left out, as they are from change documents), its key (the primary key,
-- else the REPLICA IDENTITY USING INDEX index: the "key" of change documents)
-- and its replica identity. Every name goes through to_json, so no character
-- in a name can break the document; the pinned search_path makes types and
-- defaults come out schema-qualified whatever the DDL's search_path was.
CREATE FUNCTION mosta._ddl_table_json(command text, relid oid) RETURNS text
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
	                             || '}', ',' ORDER BY a.attnum)
	             FROM pg_attribute a
	             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), '')
	    || '],"key":[' || coalesce((
	           SELECT string_agg(to_json(a.attname::text)::text, ',' ORDER BY a.attnum)
	             FROM (SELECT i.indkey FROM pg_index i
	                    WHERE i.indrelid = c.oid AND i.indisvalid AND i.indimmediate
	                      AND (i.indisprimary OR (c.relreplident = 'i' AND i.indisreplident))
	                    ORDER BY i.indisprimary DESC LIMIT 1) k
	             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (k.indkey)), '')
	    || '],"replica_identity":'
	    || CASE c.relreplident WHEN 'd' THEN '"default"' WHEN 'f' THEN '"full"' WHEN 'i' THEN '"index"'
	                           ELSE '"nothing"' END
	    || '}'
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = $2
$$;

-- _ddl_emit writes a DDL document into WAL as a transactional logical message,
-- so a decoder delivers it inside its transaction, between the data changes
-- made before and after the command. (The event triggers write nothing unless
-- wal_level = logical: nothing could decode it.)
CREATE FUNCTION mosta._ddl_emit(document text) RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT pg_logical_emit_message(true, 'mostajs.ddl', $1) WHERE $1 IS NOT NULL
$$;

-- _ddl_command_end announces the new shape of every user table a CREATE TABLE
-- (AS), SELECT INTO, ALTER TABLE or ALTER TYPE command created or altered.
-- ALTER TABLE on a parent also changes its partitions and inheritance
-- children, which pg_event_trigger_ddl_commands() does not list: they are
-- announced after it. ALTER TYPE ... CASCADE changes typed tables.
-- It runs as the extension owner, so that DDL of any user can call the
-- helpers above, which are not granted to PUBLIC; it only reads catalogs.
CREATE FUNCTION mosta._ddl_command_end() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target record;
BEGIN
	IF current_setting('wal_level') <> 'logical' THEN
		RETURN;
	END IF;
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
END
$$;

-- _ddl_sql_drop announces dropped user tables (by DROP TABLE, or cascading
-- from DROP SCHEMA, DROP OWNED, ...), with no columns and "dropped": true. It
-- also announces the new shape of tables that stay but lost columns or
-- defaults to a DROP ... CASCADE of a type, domain, sequence or function, and
-- of tables whose REPLICA IDENTITY USING INDEX index a DROP INDEX removed
-- (they have no key any more). ALTER TABLE is announced at ddl_command_end.
CREATE FUNCTION mosta._ddl_sql_drop() RETURNS event_trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target record;
BEGIN
	IF current_setting('wal_level') <> 'logical' THEN
		RETURN;
	END IF;
	FOR target IN
		SELECT d.schema_name, d.object_name, d.object_identity
		  FROM pg_event_trigger_dropped_objects() WITH ORDINALITY d
		 WHERE d.object_type = 'table' AND NOT d.is_temporary
		   AND d.schema_name NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'mosta')
		 ORDER BY d.ordinality
	LOOP
		PERFORM mosta._ddl_emit('{"command":' || to_json(tg_tag)::text
		                        || ',"schema":' || to_json(target.schema_name)::text
		                        || ',"table":' || to_json(target.object_name)::text
		                        || ',"object_identity":' || to_json(target.object_identity)::text
		                        || ',"dropped":true}');
	END LOOP;
	IF tg_tag = 'ALTER TABLE' THEN
		RETURN;
	END IF;
	FOR target IN
		SELECT c.oid AS relid
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE mosta._ddl_user_table(c.oid)
		   AND (EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
		                 WHERE (d.object_type = 'table column' AND d.objid = c.oid)
		                    OR (d.object_type = 'default value'
		                        AND d.address_names[1] = n.nspname AND d.address_names[2] = c.relname))
		        OR (tg_tag = 'DROP INDEX' AND c.relreplident = 'i'
		            AND EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
		                         WHERE d.object_type = 'index' AND d.schema_name = n.nspname)
		            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
		 ORDER BY c.oid
	LOOP
		PERFORM mosta._ddl_emit(mosta._ddl_table_json(tg_tag, target.relid));
	END LOOP;
END
$$;

-- mosta_heartbeat flushes its message at once: pg_logical_emit_message(false,
-- ...) does not on PostgreSQL 15, and a walsender sends only flushed WAL.
CREATE FUNCTION mosta_heartbeat() RETURNS pg_lsn
	AS 'MODULE_PATHNAME', 'mostajs_heartbeat'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mosta_heartbeat() IS
	'Writes and flushes a non-transactional mostajs.heartbeat logical message, so a slot on a quiet database can advance; returns its LSN';

------------------------------------------------------------------------------
-- Trigger capture: mosta.change_log (docs/capture.md)
------------------------------------------------------------------------------

-- CACHE 1 (the default, stated because it matters): values are handed out in
-- the order nextval() is called, which is what makes seq order consistent
-- with commit order for conflicting writes (docs/capture.md, "Ordering").
CREATE SEQUENCE mosta.change_log_seq CACHE 1;

CREATE TABLE mosta.change_log (
	seq          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('mosta.change_log_seq'),
	xid          xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
	captured_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	relid        oid NOT NULL,
	change       json NOT NULL
);
ALTER SEQUENCE mosta.change_log_seq OWNED BY mosta.change_log.seq;
-- reads find the rows of transactions that committed late by xid range; the
-- primary key serves reads in seq order and purges
CREATE INDEX change_log_xid ON mosta.change_log (xid);
COMMENT ON TABLE mosta.change_log IS
	'Changes of the tables captured by triggers, one JSON change document per row; read with mosta_change_log_read()';
COMMENT ON COLUMN mosta.change_log.relid IS
	'OID of the table the change was made to (a partition, for partitioned tables); the document names it';

CREATE TABLE mosta.captured_tables (
	relid           oid PRIMARY KEY,
	captured_since  timestamptz NOT NULL DEFAULT pg_catalog.now(),
	captured_by     name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE mosta.captured_tables IS
	'When each table was captured; the capture triggers themselves say which tables are captured';

CREATE FUNCTION mosta.capture_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'mostajs_capture_trigger'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mosta.capture_trigger() IS
	'Trigger of captured tables: appends each row change and TRUNCATE to mosta.change_log as a change document';

-- _capture_state returns 'table' when tbl carries the capture trigger itself,
-- 'partition' when it has a clone of its partitioned table's, else NULL.
CREATE FUNCTION mosta._capture_state(tbl regclass) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN t.tgparentid = 0 THEN 'table' ELSE 'partition' END
	  FROM pg_trigger t
	 WHERE t.tgrelid = $1 AND t.tgname = 'mosta_capture' AND t.tgfoid = 'mosta.capture_trigger()'::regprocedure
$$;

CREATE FUNCTION mosta_capture_table(tbl regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	name text;
	state text;
	captured_partition regclass;
BEGIN
	PERFORM mosta._require(tbl, 'tbl');
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
COMMENT ON FUNCTION mosta_capture_table(regclass) IS
	'Installs the capture triggers on a table: its changes are appended to mosta.change_log';

CREATE FUNCTION mosta_uncapture_table(tbl regclass, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	state text;
BEGIN
	PERFORM mosta._require(tbl, 'tbl');
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
COMMENT ON FUNCTION mosta_uncapture_table(regclass, boolean) IS
	'Removes the capture triggers of a table (its changes already logged stay in mosta.change_log); '
	'returns false instead of failing when it is not captured and if_exists is true';

CREATE FUNCTION mosta_capture_status()
	RETURNS TABLE ("table" regclass, schema text, table_name text, captured_since timestamptz,
	               pending_changes bigint, oldest_pending timestamptz)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH captured AS (
		SELECT t.tgrelid AS relid FROM pg_trigger t
		 WHERE t.tgname = 'mosta_capture' AND t.tgfoid = 'mosta.capture_trigger()'::regprocedure
		   AND t.tgparentid = 0
	), pending AS (
		SELECT l.relid, count(*) AS changes, min(l.captured_at) AS oldest
		  FROM mosta.change_log l GROUP BY l.relid
	)
	SELECT c.relid::regclass, n.nspname::text, k.relname::text, s.captured_since,
	       coalesce(q.changes, 0), q.oldest
	  FROM captured c
	  JOIN pg_class k ON k.oid = c.relid
	  JOIN pg_namespace n ON n.oid = k.relnamespace
	  LEFT JOIN mosta.captured_tables s ON s.relid = c.relid
	  LEFT JOIN LATERAL (
		SELECT sum(p.changes)::bigint AS changes, min(p.oldest) AS oldest FROM pending p
		 WHERE p.relid = c.relid OR p.relid IN (SELECT r.relid FROM pg_partition_tree(c.relid) r)) q ON true
	 ORDER BY n.nspname, k.relname
$$;
COMMENT ON FUNCTION mosta_capture_status() IS
	'Returns each captured table with the number of its changes still in mosta.change_log and the oldest one''s time';

-- _change_log_window returns the batch after position (after, after_seq) as
-- seen in snapshot current (docs/capture.md, "Reading the log"). A position
-- (S, L) means: every row whose xid is visible in S and whose seq <= L has
-- been consumed, and no other. The batch is, in seq order:
--  - "late" rows, seq <= L, of transactions that were not visible in S but
--    are in current (they were in flight at S): all of them, whatever
--    max_rows, since the position cannot record a part of them;
--  - then the rows with seq > L visible in current, at most max_rows.
-- The next position is (current, greatest(L, the batch's last seq)): every
-- row visible in current with a seq up to that was either consumed before
-- or is in the batch.
CREATE FUNCTION mosta._change_log_window(after pg_snapshot, after_seq bigint, current pg_snapshot, max_rows integer)
	RETURNS TABLE (seq bigint, xid xid8, change json, next_snapshot pg_snapshot, next_seq bigint)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH late AS (
		SELECT l.seq, l.xid, l.change FROM mosta.change_log l
		 WHERE l.seq <= $2
		   AND l.xid >= pg_snapshot_xmin($1) AND l.xid < pg_snapshot_xmax($3)
		   AND pg_visible_in_snapshot(l.xid, $3) AND NOT pg_visible_in_snapshot(l.xid, $1)
	), fresh AS (
		SELECT l.seq, l.xid, l.change FROM mosta.change_log l
		 WHERE l.seq > $2 AND l.xid < pg_snapshot_xmax($3) AND pg_visible_in_snapshot(l.xid, $3)
		 ORDER BY l.seq
		 LIMIT $4
	), batch AS (
		SELECT * FROM late UNION ALL SELECT * FROM fresh
	)
	SELECT b.seq, b.xid, b.change, $3, greatest($2, max(b.seq) OVER ())
	  FROM batch b
	 ORDER BY b.seq
$$;

CREATE FUNCTION mosta_change_log_read(after pg_snapshot, after_seq bigint, max_rows integer DEFAULT 10000)
	RETURNS TABLE (seq bigint, xid xid8, change json, next_snapshot pg_snapshot, next_seq bigint)
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	-- taken before the rows are read: the read's own snapshot is the same or
	-- newer, so it sees every row of a transaction visible in this one
	current_snapshot pg_snapshot := pg_current_snapshot();
	own_xid xid8 := pg_current_xact_id_if_assigned();
BEGIN
	IF after IS NULL THEN
		IF coalesce(after_seq, 0) <> 0 THEN
			RAISE EXCEPTION 'after_seq % without a snapshot', after_seq
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Pass the next_snapshot and next_seq of the previous read together, '
				             'or NULL and NULL to read from the start.';
		END IF;
		-- the start: nothing consumed (seq values are positive)
		after_seq := 0;
	ELSE
		PERFORM mosta._require(after_seq, 'after_seq');
		PERFORM mosta._check_snapshot(after, 'after');
	END IF;
	IF max_rows IS NOT NULL AND max_rows < 1 THEN
		RAISE EXCEPTION 'max_rows must be at least 1'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass NULL to read every change up to now in one batch.';
	END IF;
	IF own_xid IS NOT NULL AND EXISTS (SELECT 1 FROM mosta.change_log l WHERE l.xid = own_xid) THEN
		RAISE EXCEPTION 'cannot read the change log in a transaction that wrote to it'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'This transaction changed captured tables; its own changes are not committed yet, '
			               'so no position after them could be recorded.',
			      HINT = 'Read the change log in a transaction of its own.';
	END IF;
	RETURN QUERY SELECT * FROM mosta._change_log_window(after, after_seq, current_snapshot, max_rows);
END
$$;
COMMENT ON FUNCTION mosta_change_log_read(pg_snapshot, bigint, integer) IS
	'Returns the changes committed after position (after, after_seq) in seq order, with the next position on each row';

-- _check_snapshot raises 22023 when a position's snapshot is from the future
-- (another server, or forged): rows committed after it would count as consumed.
CREATE FUNCTION mosta._check_snapshot(snapshot pg_snapshot, argument text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF pg_snapshot_xmax(snapshot) > pg_snapshot_xmax(pg_current_snapshot()) THEN
		RAISE EXCEPTION 'snapshot % in "%" is newer than the current snapshot', snapshot, argument
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass the next_snapshot of a previous mosta_change_log_read() of this database.';
	END IF;
END
$$;

CREATE FUNCTION mosta_change_log_purge(upto pg_snapshot, upto_seq bigint) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	purged bigint;
BEGIN
	PERFORM mosta._require(upto, 'upto');
	PERFORM mosta._require(upto_seq, 'upto_seq');
	PERFORM mosta._check_snapshot(upto, 'upto');
	DELETE FROM mosta.change_log l
	 WHERE l.seq <= upto_seq AND l.xid < pg_snapshot_xmax(upto) AND pg_visible_in_snapshot(l.xid, upto);
	GET DIAGNOSTICS purged = ROW_COUNT;
	RETURN purged;
END
$$;
COMMENT ON FUNCTION mosta_change_log_purge(pg_snapshot, bigint) IS
	'Deletes the changes every consumer has consumed: those at or before position (upto, upto_seq); returns how many';

-- The event triggers come last, so that this script's own DDL does not fire them.
-- Only the commands that can change a table's columns or key fire it.
CREATE EVENT TRIGGER mosta_ddl_command_end ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'ALTER TYPE')
	EXECUTE FUNCTION mosta._ddl_command_end();
COMMENT ON EVENT TRIGGER mosta_ddl_command_end IS
	'Writes a mostajs.ddl logical message with the new shape of each user table a DDL command creates or alters';
CREATE EVENT TRIGGER mosta_ddl_sql_drop ON sql_drop
	EXECUTE FUNCTION mosta._ddl_sql_drop();
COMMENT ON EVENT TRIGGER mosta_ddl_sql_drop IS
	'Writes a mostajs.ddl logical message for each user table dropped, or changed by a cascading drop';

------------------------------------------------------------------------------
-- Privileges of the change stream and trigger capture
------------------------------------------------------------------------------

REVOKE ALL ON mosta.change_log, mosta.captured_tables, mosta.change_log_seq FROM PUBLIC;
GRANT SELECT ON mosta.change_log, mosta.captured_tables TO mosta_admin;
REVOKE ALL ON FUNCTION
	mosta._ddl_user_table(oid),
	mosta._ddl_table_json(text, oid),
	mosta._ddl_emit(text),
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
GRANT EXECUTE ON FUNCTION mosta_heartbeat() TO mosta_sidecar;
GRANT EXECUTE ON FUNCTION
	mosta_heartbeat(),
	mosta_capture_table(regclass),
	mosta_uncapture_table(regclass, boolean),
	mosta_capture_status(),
	mosta_change_log_read(pg_snapshot, bigint, integer),
	mosta_change_log_purge(pg_snapshot, bigint)
	TO mosta_admin;

------------------------------------------------------------------------------
-- Initial copy
------------------------------------------------------------------------------

CREATE FUNCTION mosta.snapshot_documents(tbl regclass, include_types boolean DEFAULT true) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'mostajs_snapshot_documents'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mosta.snapshot_documents(regclass, boolean) IS
	'Returns every row of a table, as of the snapshot, as an insert document of the change stream (the initial copy)';
REVOKE ALL ON FUNCTION mosta.snapshot_documents(regclass, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mosta.snapshot_documents(regclass, boolean) TO mosta_admin, mosta_sidecar;

-- mosta-sidecar's catalog access (docs/sidecar.md, "The sidecar's role")
GRANT SELECT ON mosta.projects, mosta.replicas, mosta.rules, mosta.routing TO mosta_sidecar;
GRANT SELECT, INSERT, UPDATE ON mosta.rule_stats, mosta.target_status, mosta.replica_status TO mosta_sidecar;
GRANT INSERT ON mosta.activity TO mosta_sidecar;
GRANT USAGE ON SEQUENCE mosta.activity_id_seq TO mosta_sidecar;

/*
 * sql/parts/20_idmap.sql
 *	  id_map: legacy ids (MongoDB ObjectIds or any text) mapped once and for
 *	  ever to uuids, per collection, under a per-collection id policy
 *	  (docs/sql-api.md, section 14.1).
 *
 * Policies: random (v4, gen_random_uuid), time-ordered (v7, mosta.uuid_v7),
 * deterministic (v5 of collection || U+0000 || legacy id in the mostajs
 * namespace, mosta.uuid_from_legacy_id) and objectid (v7 whose time is the
 * ObjectId's and whose other 74 bits come from SHA-256 of collection ||
 * 0x00 || lowercase legacy id, mosta.uuid_from_objectid). The generators
 * are C++ (extension/src/migration/uuid_functions.cpp).
 *
 * Concurrency: a mapping is INSERT ... ON CONFLICT DO NOTHING, then a read
 * in a new statement (READ COMMITTED sees what a concurrent caller
 * committed while the insert waited for it). The conflict has no target, so
 * a clash on new_id (a hash collision) is not an error of the INSERT: the
 * read then finds no row for the legacy id and the collision is reported.
 * Bulk inserts are sorted, so concurrent bulk callers lock keys in one order.
 *
 * Privileges: every function is for mosta_admin (legacy ids are business
 * data); the writing ones and the lookups are SECURITY DEFINER with a pinned
 * search_path. The uuid generators are executable by PUBLIC.
 */

------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------

CREATE TABLE mosta.id_policies (
	collection        text PRIMARY KEY CHECK (collection <> ''),
	policy            text NOT NULL DEFAULT 'random'
		CHECK (policy IN ('random', 'time-ordered', 'deterministic', 'objectid')),
	require_objectid  boolean NOT NULL DEFAULT false,
	updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mosta.id_policies IS
	'Id policy per collection; a collection without a row uses policy random without ObjectId check';

CREATE TABLE mosta.id_map (
	collection  text NOT NULL CHECK (collection <> ''),
	legacy_id   text NOT NULL CHECK (legacy_id <> ''),
	new_id      uuid NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT id_map_pkey PRIMARY KEY (collection, legacy_id),
	CONSTRAINT id_map_new_id_key UNIQUE (new_id)
);
COMMENT ON TABLE mosta.id_map IS
	'Legacy id -> uuid, allocated once per (collection, legacy_id); ObjectIds are stored lowercase';

-- id_map is migration data: it travels with pg_dump, as does the policy of each collection.
SELECT pg_catalog.pg_extension_config_dump('mosta.id_policies', '');
SELECT pg_catalog.pg_extension_config_dump('mosta.id_map', '');

------------------------------------------------------------------------------
-- uuid generators (C++)
------------------------------------------------------------------------------

CREATE FUNCTION mosta.uuid_v7() RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_v7'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mosta.uuid_v7() IS
	'Returns a new time-ordered uuid (RFC 9562 version 7), strictly increasing within a session';

CREATE FUNCTION mosta.uuid_v5(namespace uuid, name text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_v5'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_v5(uuid, text) IS
	'Returns the name-based uuid (RFC 9562 version 5, SHA-1) of name in namespace';

CREATE FUNCTION mosta.uuid_from_legacy_id(collection text, legacy_id text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_from_legacy_id'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_from_legacy_id(text, text) IS
	'Returns the deterministic-policy uuid: version 5 of collection || U+0000 || legacy_id in namespace '
	'58874ca3-e567-5807-ad1d-4ba187db26ba';

CREATE FUNCTION mosta.uuid_from_objectid(collection text, legacy_id text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'mostajs_uuid_from_objectid'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.uuid_from_objectid(text, text) IS
	'Returns the objectid-policy uuid: version 7 with the ObjectId''s time, 74 bits of '
	'SHA-256(collection || 0x00 || lowercase legacy_id); raises 22023 when legacy_id is not 24 hex digits';

------------------------------------------------------------------------------
-- Internal helpers
------------------------------------------------------------------------------

-- _id_policy returns the policy of a collection and whether its legacy ids must be ObjectIds
-- (policy objectid, or require_objectid); a collection without a row is (random, false).
CREATE FUNCTION mosta._id_policy(collection text, OUT policy text, OUT objectids boolean)
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce(max(p.policy), 'random'), coalesce(bool_or(p.policy = 'objectid' OR p.require_objectid), false)
	  FROM mosta.id_policies p WHERE p.collection = $1
$$;

-- _check_legacy_id raises 22023 when a legacy id is empty, or is not an ObjectId where one is required.
CREATE FUNCTION mosta._check_legacy_id(collection text, legacy_id text, objectids boolean) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF legacy_id = '' THEN
		RAISE EXCEPTION 'legacy id of collection "%" must not be empty', collection
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass the legacy id as text, e.g. an ObjectId''s 24 hex digits.';
	END IF;
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
CREATE FUNCTION mosta._check_collection(collection text) RETURNS text
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
	RETURN collection;
END
$$;

-- _new_id returns a new uuid for a legacy id under policy.
CREATE FUNCTION mosta._new_id(policy text, collection text, legacy_id text) RETURNS uuid
	LANGUAGE sql VOLATILE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE $1
	       WHEN 'time-ordered' THEN mosta.uuid_v7()
	       WHEN 'deterministic' THEN mosta.uuid_from_legacy_id($2, $3)
	       WHEN 'objectid' THEN mosta.uuid_from_objectid($2, $3)
	       ELSE gen_random_uuid() END
$$;

-- _raise_collision reports that the uuid derived for a legacy id already belongs to another one.
CREATE FUNCTION mosta._raise_collision(policy text, collection text, legacy_id text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	candidate uuid;
	holder record;
BEGIN
	IF policy IN ('deterministic', 'objectid') THEN
		candidate := mosta._new_id(policy, collection, legacy_id);
		SELECT m.collection, m.legacy_id INTO holder FROM mosta.id_map m WHERE m.new_id = candidate;
	END IF;
	RAISE EXCEPTION 'uuid collision mapping legacy id "%" of collection "%"', legacy_id, collection
		USING ERRCODE = 'unique_violation',
		      DETAIL = CASE WHEN holder.legacy_id IS NOT NULL
		                    THEN format('Its uuid %s already maps legacy id "%s" of collection "%s".',
		                                candidate, holder.legacy_id, holder.collection)
		                    ELSE 'Its new uuid is already in mosta.id_map.' END,
		      HINT = 'Two legacy ids derived the same uuid, which only a hash collision explains: report it, '
		             'and map the collection under another id policy.';
END
$$;

------------------------------------------------------------------------------
-- API
------------------------------------------------------------------------------

CREATE FUNCTION mosta_set_id_policy(collection text, policy text, require_objectid boolean DEFAULT false)
	RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	old_policy text;
	old_require boolean;
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._check_choice(policy, 'policy', ARRAY['random', 'time-ordered', 'deterministic', 'objectid']);
	PERFORM mosta._require(require_objectid, 'require_objectid');
	-- waits for mappings in flight, so the check below sees every committed id of the collection
	LOCK TABLE mosta.id_map IN SHARE MODE;
	SELECT coalesce(max(p.policy), 'random'), coalesce(bool_or(p.require_objectid), false)
	  INTO old_policy, old_require
	  FROM mosta.id_policies p WHERE p.collection = mosta_set_id_policy.collection;
	IF (old_policy, old_require) IS DISTINCT FROM (policy, require_objectid)
	   AND EXISTS (SELECT 1 FROM mosta.id_map m WHERE m.collection = mosta_set_id_policy.collection) THEN
		RAISE EXCEPTION 'collection "%" already maps legacy ids under id policy "%"', collection, old_policy
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = format('Its policy is %s with require_objectid %s. A policy holds from a collection''s '
			                      'first id on, so that every id of it follows one rule.', old_policy, old_require::text),
			      HINT = 'Set the policy before the collection''s first mosta_map_id or mosta_map_ids call.';
	END IF;
	INSERT INTO mosta.id_policies AS p (collection, policy, require_objectid)
	VALUES (collection, policy, require_objectid)
	ON CONFLICT ON CONSTRAINT id_policies_pkey DO UPDATE
		SET policy = excluded.policy, require_objectid = excluded.require_objectid, updated_at = now();
	PERFORM mosta._log('set_id_policy', NULL, collection,
		jsonb_build_object('policy', policy, 'require_objectid', require_objectid));
END
$$;
COMMENT ON FUNCTION mosta_set_id_policy(text, text, boolean) IS
	'Sets how a collection''s legacy ids get their uuids: random, time-ordered, deterministic or objectid';

CREATE FUNCTION mosta_map_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	setting record;
	canonical text;
	mapped uuid;
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_id, 'legacy_id');
	SELECT * INTO setting FROM mosta._id_policy(collection);
	PERFORM mosta._check_legacy_id(collection, legacy_id, setting.objectids);
	canonical := CASE WHEN setting.objectids THEN lower(legacy_id) ELSE legacy_id END;

	SELECT m.new_id INTO mapped FROM mosta.id_map m
	 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
	IF FOUND THEN
		RETURN mapped;
	END IF;
	INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
	VALUES (collection, canonical, mosta._new_id(setting.policy, collection, canonical))
	ON CONFLICT DO NOTHING
	RETURNING m.new_id INTO mapped;
	IF mapped IS NULL THEN
		-- a concurrent caller mapped it first (a new statement sees its row), or the new uuid collided
		SELECT m.new_id INTO mapped FROM mosta.id_map m
		 WHERE m.collection = mosta_map_id.collection AND m.legacy_id = canonical;
		IF mapped IS NULL THEN
			PERFORM mosta._raise_collision(setting.policy, collection, canonical);
		END IF;
	END IF;
	RETURN mapped;
END
$$;
COMMENT ON FUNCTION mosta_map_id(text, text) IS
	'Returns the uuid of a legacy id, allocating it under the collection''s id policy on first use';

CREATE FUNCTION mosta_map_ids(collection text, legacy_ids text[]) RETURNS uuid[]
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	setting record;
	null_at integer;
	bad text;
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
	SELECT * INTO setting FROM mosta._id_policy(collection);
	SELECT u INTO bad FROM unnest(legacy_ids) u
	 WHERE u = '' OR (setting.objectids AND u !~ '^[0-9A-Fa-f]{24}$') LIMIT 1;
	IF FOUND THEN
		PERFORM mosta._check_legacy_id(collection, bad, setting.objectids);
	END IF;

	-- one statement: the ids already mapped, plus the missing ones inserted in sorted order
	WITH input AS (
		SELECT u.ord, CASE WHEN setting.objectids THEN lower(u.lid) ELSE u.lid END AS lid
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
	), known AS (
		SELECT i.ord, i.lid, m.new_id
		  FROM input i
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection AND m.legacy_id = i.lid
	), added AS (
		INSERT INTO mosta.id_map AS m (collection, legacy_id, new_id)
		SELECT mosta_map_ids.collection, d.lid,
		       CASE setting.policy
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
		-- concurrent callers mapped some first (this new statement sees their rows), or a uuid collided
		SELECT array_agg(m.new_id ORDER BY u.ord) INTO mapped
		  FROM unnest(legacy_ids) WITH ORDINALITY AS u(lid, ord)
		  LEFT JOIN mosta.id_map m ON m.collection = mosta_map_ids.collection
		       AND m.legacy_id = CASE WHEN setting.objectids THEN lower(u.lid) ELSE u.lid END;
		null_at := array_position(mapped, NULL);
		IF null_at IS NOT NULL THEN
			PERFORM mosta._raise_collision(setting.policy, collection,
				CASE WHEN setting.objectids THEN lower(legacy_ids[null_at]) ELSE legacy_ids[null_at] END);
		END IF;
	END IF;
	RETURN coalesce(mapped, '{}');
END
$$;
COMMENT ON FUNCTION mosta_map_ids(text, text[]) IS
	'Returns the uuids of legacy ids in input order, allocating the missing ones in one statement';

CREATE FUNCTION mosta_lookup_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(legacy_id, 'legacy_id');
	RETURN (SELECT m.new_id FROM mosta.id_map m
	         WHERE m.collection = mosta_lookup_id.collection
	           AND m.legacy_id = CASE WHEN (mosta._id_policy(mosta_lookup_id.collection)).objectids
	                                  THEN lower(mosta_lookup_id.legacy_id) ELSE mosta_lookup_id.legacy_id END);
END
$$;
COMMENT ON FUNCTION mosta_lookup_id(text, text) IS 'Returns the uuid of a legacy id, or NULL when it is not mapped';

CREATE FUNCTION mosta_require_id(collection text, legacy_id text) RETURNS uuid
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	mapped uuid;
BEGIN
	mapped := @extschema@.mosta_lookup_id(collection, legacy_id);
	IF mapped IS NULL THEN
		RAISE EXCEPTION 'legacy id "%" of collection "%" is not mapped', legacy_id, collection
			USING ERRCODE = 'foreign_key_violation',
			      DETAIL = format('A row that refers to %s "%s" cannot be migrated before it.', collection, legacy_id),
			      HINT = format('Backfill collection "%s" first (parents before children), then retry.', collection);
	END IF;
	RETURN mapped;
END
$$;
COMMENT ON FUNCTION mosta_require_id(text, text) IS
	'Returns the uuid of a legacy id, or raises 23503 naming the collection and the id when it is not mapped';

CREATE FUNCTION mosta_legacy_id(collection text, new_id uuid) RETURNS text
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._check_collection(collection);
	PERFORM mosta._require(new_id, 'new_id');
	RETURN (SELECT m.legacy_id FROM mosta.id_map m
	         WHERE m.new_id = mosta_legacy_id.new_id AND m.collection = mosta_legacy_id.collection);
END
$$;
COMMENT ON FUNCTION mosta_legacy_id(text, uuid) IS
	'Returns the legacy id a uuid was allocated for in a collection, or NULL';

------------------------------------------------------------------------------
-- Privileges of id_map
------------------------------------------------------------------------------

REVOKE ALL ON mosta.id_map, mosta.id_policies FROM PUBLIC;
GRANT SELECT ON mosta.id_map, mosta.id_policies TO mosta_admin;
-- the MongoDB sink gives rows migrated from MongoDB their legacy ObjectId back as _id (docs/mongodb.md)
GRANT SELECT ON mosta.id_map TO mosta_sidecar;
REVOKE ALL ON FUNCTION
	mosta._id_policy(text),
	mosta._check_legacy_id(text, text, boolean),
	mosta._check_collection(text),
	mosta._new_id(text, text, text),
	mosta._raise_collision(text, text, text),
	mosta_set_id_policy(text, text, boolean),
	mosta_map_id(text, text),
	mosta_map_ids(text, text[]),
	mosta_lookup_id(text, text),
	mosta_require_id(text, text),
	mosta_legacy_id(text, uuid)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	mosta_set_id_policy(text, text, boolean),
	mosta_map_id(text, text),
	mosta_map_ids(text, text[]),
	mosta_lookup_id(text, text),
	mosta_require_id(text, text),
	mosta_legacy_id(text, uuid)
	TO mosta_admin;
-- pure generators, useful as column defaults (DEFAULT mosta.uuid_v7()): everyone
GRANT EXECUTE ON FUNCTION mosta.uuid_v7(), mosta.uuid_v5(uuid, text), mosta.uuid_from_legacy_id(text, text),
	mosta.uuid_from_objectid(text, text) TO PUBLIC;
/*
 * sql/parts/30_invariants.sql
 *	  Invariant helpers of the migration toolkit (docs/sql-api.md 14.2): the
 *	  constraints MongoDB applications kept by convention, declared on user
 *	  tables after checking the data already there. Sparse unique keys, at most
 *	  one flagged row per owner (one primary address per user), and Mixed
 *	  polymorphic references (Payment.purchaseRequestId: a row of a table, or a
 *	  template's external id). The catalog mosta.invariants lists what was
 *	  declared; mosta_check_invariants() reports rows that break it.
 *
 * Security: the DDL helpers are SECURITY INVOKER, so PostgreSQL itself checks
 * that the caller owns the table (CREATE INDEX, ALTER TABLE); they also say so
 * first, with a hint. The catalog is written under row level security: a
 * member of mosta_admin can only add rows for tables it owns, whatever path
 * it takes. The activity log is written by mosta._log_catalog(), which only
 * accepts lines that agree with the catalog.
 */

------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------

CREATE TABLE mosta.invariants (
	tbl          regclass NOT NULL,
	name         name NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('sparse_unique', 'one_per', 'polymorphic_ref')),
	columns      text[] NOT NULL,
	flag_column  text CHECK ((kind = 'one_per') = (flag_column IS NOT NULL)),
	target       regclass CHECK ((kind = 'polymorphic_ref') = (target IS NOT NULL)),
	definition   text NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_by   name NOT NULL DEFAULT current_user,
	PRIMARY KEY (tbl, name)
);
COMMENT ON TABLE mosta.invariants IS
	'Invariants declared on user tables: the index (sparse_unique, one_per) or CHECK constraint (polymorphic_ref) '
	'named name enforces each';
COMMENT ON COLUMN mosta.invariants.columns IS
	'sparse_unique: the unique columns; one_per: the owner columns; polymorphic_ref: the reference name';
SELECT pg_catalog.pg_extension_config_dump('mosta.invariants', '');

------------------------------------------------------------------------------
-- Helpers shared with the counters and TTL part
------------------------------------------------------------------------------

-- _owns tells whether the current user owns relation tbl (is a member of its owner).
CREATE FUNCTION mosta._owns(tbl oid) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = $1 AND pg_has_role(current_user, c.relowner, 'USAGE'))
$$;

-- _user_table raises unless tbl is an ordinary or partitioned table of the
-- caller's, outside schema mosta: 22004, 42809 or 42501.
CREATE FUNCTION mosta._user_table(tbl regclass) RETURNS regclass
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	c pg_class;
BEGIN
	PERFORM mosta._require(tbl, 'tbl');
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

-- _column_type returns the type of column col of tbl; 42703, listing the columns, when there is none.
CREATE FUNCTION mosta._column_type(tbl regclass, col text, argument text) RETURNS regtype
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col_type regtype;
BEGIN
	PERFORM mosta._require(col, argument);
	SELECT a.atttypid INTO col_type FROM pg_attribute a
	 WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF col_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl::text
			USING ERRCODE = 'undefined_column',
			      HINT = 'Columns of the table: ' || coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
			                                                  FROM pg_attribute a
			                                                 WHERE a.attrelid = tbl AND a.attnum > 0
			                                                   AND NOT a.attisdropped), '(none)') || '.';
	END IF;
	RETURN col_type;
END
$$;

-- _check_columns raises 22023 unless cols is a non-empty list of distinct columns of tbl (42703 for a missing one).
CREATE FUNCTION mosta._check_columns(tbl regclass, cols text[], argument text) RETURNS text[]
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col text;
BEGIN
	PERFORM mosta._require(cols, argument);
	IF cardinality(cols) = 0 OR cardinality(cols) <> (SELECT count(DISTINCT c) FROM unnest(cols) c) THEN
		RAISE EXCEPTION '% must list distinct columns', argument
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = format('Pass at least one column name, each once, as in ARRAY[''user_id''] for %s.', argument);
	END IF;
	FOREACH col IN ARRAY cols LOOP
		PERFORM mosta._column_type(tbl, col, argument);
	END LOOP;
	RETURN cols;
END
$$;

-- _row_key returns an SQL expression giving, for a row of tbl aliased alias,
-- its key as jsonb: the primary key columns, or the ctid when there is none.
CREATE FUNCTION mosta._row_key(tbl regclass, alias text) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce(
		'jsonb_build_object(' || string_agg(format('%L, %I.%I', a.attname, $2, a.attname), ', ' ORDER BY k.ord) || ')',
		format('jsonb_build_object(''ctid'', %I.ctid::text)', $2))
	  FROM pg_index i
	 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
	  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
	 WHERE i.indrelid = $1 AND i.indisprimary
$$;

-- _object_name returns an index or constraint name for tbl: table, parts and
-- suffix joined with "_", shortened with a hash when over 63 bytes.
CREATE FUNCTION mosta._object_name(tbl regclass, parts text[], suffix text) RETURNS name
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN octet_length(full_name) <= 63 THEN full_name
	            ELSE left(full_name, 63 - 10 - octet_length($3)) || '_' || left(md5(full_name), 8) || '_' || $3 END::name
	  FROM (SELECT concat_ws('_', c.relname, array_to_string($2, '_'), $3) AS full_name
	          FROM pg_class c WHERE c.oid = $1) n
$$;

-- _invariant_present tells whether the index or constraint enforcing invariant (tbl, name) exists.
CREATE FUNCTION mosta._invariant_present(tbl regclass, name name, kind text) RETURNS boolean
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN $3 = 'polymorphic_ref'
	            THEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = $1 AND k.conname = $2)
	            ELSE EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	                          WHERE i.indrelid = $1 AND c.relname = $2) END
$$;

-- _duplicates returns the groups of rows of tbl, among those matching filter
-- (an SQL condition on alias t), that share the values of cols: the values,
-- how many rows, and the keys of at most per_group of them (NULL: all).
CREATE FUNCTION mosta._duplicates(tbl regclass, cols text[], filter text, max_groups integer, per_group integer)
	RETURNS TABLE (duplicate jsonb, rows bigint, row_keys jsonb)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT jsonb_build_object(%s), count(*), '
		'       jsonb_path_query_array(jsonb_agg(%s ORDER BY %s), %L) '
		'  FROM %s t WHERE %s GROUP BY %s HAVING count(*) > 1 ORDER BY count(*) DESC, 1 LIMIT %s',
		(SELECT string_agg(format('%L, t.%I', c, c), ', ') FROM unnest(cols) c),
		mosta._row_key(tbl, 't'), mosta._row_key(tbl, 't')::text || '::text',
		CASE WHEN per_group IS NULL THEN '$[*]' ELSE format('$[0 to %s]', per_group - 1) END,
		tbl, filter,
		(SELECT string_agg(format('t.%I', c), ', ') FROM unnest(cols) c),
		coalesce(max_groups::text, 'ALL'));
END
$$;

-- _raise_duplicates raises 23505 when tbl has rows that invariant name would
-- reject, listing up to 10 groups with up to 10 row keys each.
CREATE FUNCTION mosta._raise_duplicates(tbl regclass, name text, cols text[], filter text, fix text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	detail text;
	groups bigint;
BEGIN
	SELECT string_agg(format('%s in %s rows: %s', d.duplicate, d.rows,
	                         (SELECT string_agg(k::text, ', ') FROM jsonb_array_elements(d.row_keys) k)), E';\n'),
	       count(*)
	  INTO detail, groups
	  FROM mosta._duplicates(tbl, cols, filter, 10, 10) d;
	IF groups > 0 THEN
		RAISE EXCEPTION 'table % has rows that break invariant "%"', tbl::text, name
			USING ERRCODE = 'unique_violation',
			      DETAIL = 'Duplicated values and the keys of their rows (at most 10 shown): ' || E'\n' || detail,
			      HINT = fix || ' Then declare the invariant again; SELECT * FROM mosta_check_invariants() lists '
			             'the rows of declared invariants.';
	END IF;
END
$$;

-- _unique_filter returns the condition (on columns prefixed with prefix, "t." or "") of the rows a
-- sparse_unique or one_per invariant's partial index covers.
CREATE FUNCTION mosta._unique_filter(kind text, cols text[], flag_column text, prefix text) RETURNS text
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN $1 = 'one_per' THEN $4 || quote_ident($3)
	            ELSE (SELECT string_agg($4 || quote_ident(c) || ' IS NOT NULL', ' AND ') FROM unnest($2) c) END
$$;

-- _declared returns the catalog row of invariant (tbl, kind, columns, flag_column), if any.
CREATE FUNCTION mosta._declared(tbl regclass, kind text, columns text[], flag_column text)
	RETURNS SETOF mosta.invariants
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT * FROM mosta.invariants i
	 WHERE i.tbl = $1 AND i.kind = $2 AND i.columns = $3 AND i.flag_column IS NOT DISTINCT FROM $4
$$;

-- _name_free raises 42P07 when relation or constraint name is taken in tbl's schema or on tbl.
CREATE FUNCTION mosta._name_free(tbl regclass, name name) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_class c, pg_class t
	            WHERE t.oid = tbl AND c.relnamespace = t.relnamespace AND c.relname = name)
	   OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = tbl AND k.conname = name) THEN
		RAISE EXCEPTION 'relation or constraint "%" already exists', name
			USING ERRCODE = 'duplicate_object',
			      DETAIL = format('The invariant would be enforced by "%s" on %s, a name already in use.', name, tbl::text),
			      HINT = 'Drop or rename the existing object if it is a leftover, or keep it if it already does the job.';
	END IF;
END
$$;

------------------------------------------------------------------------------
-- Unique-ish invariants: sparse unique keys and one flagged row per owner
------------------------------------------------------------------------------

-- _add_unique_index declares an invariant enforced by a partial unique index
-- on cols of tbl (mosta._unique_filter says which rows it covers).
CREATE FUNCTION mosta._add_unique_index(tbl regclass, kind text, cols text[], flag_column text, name name,
                                        definition text, fix text) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	declared mosta.invariants;
BEGIN
	-- no write may slip in between the data check and the index
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	SELECT * INTO declared FROM mosta._declared(tbl, kind, cols, flag_column);
	IF FOUND AND mosta._invariant_present(tbl, declared.name, kind) THEN
		RAISE NOTICE 'invariant "%" is already declared on %', declared.name, tbl::text;
		RETURN declared.name;
	END IF;
	name := coalesce(declared.name, name);
	PERFORM mosta._name_free(tbl, name);
	PERFORM mosta._raise_duplicates(tbl, name, cols, mosta._unique_filter(kind, cols, flag_column, 't.'), fix);
	EXECUTE format('CREATE UNIQUE INDEX %I ON %s (%s) WHERE %s', name, tbl,
	               (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c),
	               mosta._unique_filter(kind, cols, flag_column, ''));
	IF declared.name IS NULL THEN
		INSERT INTO mosta.invariants (tbl, name, kind, columns, flag_column, definition)
		VALUES (tbl, name, kind, cols, flag_column, definition);
		PERFORM mosta._log_catalog('add_invariant', tbl, jsonb_build_object(
			'name', name, 'kind', kind, 'columns', cols, 'flag_column', flag_column, 'definition', definition));
	ELSE
		RAISE NOTICE 'invariant "%" on % was declared but its index was missing: created again', name, tbl::text;
	END IF;
	RETURN name;
END
$$;

CREATE FUNCTION mosta_add_sparse_unique(tbl regclass, cols text[]) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._user_table(tbl);
	PERFORM mosta._check_columns(tbl, cols, 'cols');
	RETURN mosta._add_unique_index(
		tbl, 'sparse_unique', cols, NULL, mosta._object_name(tbl, cols, 'sparse_key'),
		format('UNIQUE (%s) among the rows where they are all set',
		       (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) c)),
		'Make the values unique (or set them to NULL on the rows that should not have one).');
END
$$;
COMMENT ON FUNCTION mosta_add_sparse_unique(regclass, text[]) IS
	'Declares cols unique among the rows where they are all set (a partial unique index); '
	'raises 23505 listing the duplicates already there; returns the index name';

CREATE FUNCTION mosta_add_one_per(tbl regclass, flag_col text, per_cols text[]) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	flag_type regtype;
BEGIN
	PERFORM mosta._user_table(tbl);
	flag_type := mosta._column_type(tbl, flag_col, 'flag_col');
	IF flag_type <> 'boolean'::regtype THEN
		RAISE EXCEPTION 'column "%" of table % is of type %, not boolean', flag_col, tbl::text, flag_type::text
			USING ERRCODE = 'datatype_mismatch',
			      HINT = 'The flag column says which row is the one (is_primary, is_default): make it boolean.';
	END IF;
	PERFORM mosta._check_columns(tbl, per_cols, 'per_cols');
	IF flag_col = ANY (per_cols) THEN
		RAISE EXCEPTION 'flag column "%" cannot be one of per_cols', flag_col
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'per_cols names the owner (user_id); flag_col the boolean that marks its one row.';
	END IF;
	RETURN mosta._add_unique_index(
		tbl, 'one_per', per_cols, flag_col, mosta._object_name(tbl, per_cols || ('one_' || flag_col), 'key'),
		format('at most one row WHERE %I per (%s)', flag_col,
		       (SELECT string_agg(quote_ident(c), ', ') FROM unnest(per_cols) c)),
		format('Set %I to false on all but one row of each owner listed.', flag_col));
END
$$;
COMMENT ON FUNCTION mosta_add_one_per(regclass, text, text[]) IS
	'Declares that at most one row per per_cols has flag_col true (a partial unique index); '
	'raises 23505 listing the owners with several already; returns the index name';

------------------------------------------------------------------------------
-- Polymorphic references
------------------------------------------------------------------------------

-- _ref_check returns the CHECK expression of a polymorphic reference: exactly the column its kind names is set.
CREATE FUNCTION mosta._ref_check(ref text) RETURNS text
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT format('(%1$I IS NOT DISTINCT FROM ''entity'' AND %2$I IS NOT NULL AND %3$I IS NULL) OR '
	              '(%1$I IS NOT DISTINCT FROM ''template'' AND %3$I IS NOT NULL AND %2$I IS NULL) OR '
	              '(%1$I IS NULL AND %2$I IS NULL AND %3$I IS NULL)',
	              $1 || '_ref_kind', $1 || '_id', $1 || '_external_ref')
$$;

-- _raise_rows raises sqlstate when query (returning one jsonb row key per row) returns rows, listing up to 10.
CREATE FUNCTION mosta._raise_rows(query text, sqlstate text, message text, what text, fix text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	keys text;
	total bigint;
BEGIN
	EXECUTE format('SELECT string_agg(k::text, '', '') FILTER (WHERE n <= 10), count(*) '
	               '  FROM (SELECT k, row_number() OVER () AS n FROM (%s) q(k)) r', query)
	   INTO keys, total;
	IF total > 0 THEN
		RAISE EXCEPTION '%', message
			USING ERRCODE = sqlstate,
			      DETAIL = format('%s rows %s; their keys (at most 10 shown): %s', total, what, keys),
			      HINT = fix;
	END IF;
END
$$;

CREATE FUNCTION mosta_add_polymorphic_ref(tbl regclass, ref text, target_tbl regclass) RETURNS text
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
	PERFORM mosta._require(target_tbl, 'target_tbl');
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
COMMENT ON FUNCTION mosta_add_polymorphic_ref(regclass, text, regclass) IS
	'Adds <ref>_ref_kind (entity|template), <ref>_id (references target_tbl) and <ref>_external_ref to tbl, with the '
	'CHECK that exactly the column the kind names is set; returns the CHECK constraint''s name';

------------------------------------------------------------------------------
-- Listing and checking
------------------------------------------------------------------------------

CREATE FUNCTION mosta_invariants(tbl regclass DEFAULT NULL)
	RETURNS TABLE ("table" regclass, name text, kind text, columns text[], flag_column text, target regclass,
	               definition text, present boolean, created_at timestamptz, created_by name)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT i.tbl, i.name::text, i.kind, i.columns, i.flag_column, i.target, i.definition,
	       mosta._invariant_present(i.tbl, i.name, i.kind), i.created_at, i.created_by
	  FROM mosta.invariants i
	 WHERE $1 IS NULL OR i.tbl = $1
	 ORDER BY i.tbl::text, i.name
$$;
COMMENT ON FUNCTION mosta_invariants(regclass) IS
	'Returns the invariants declared on tbl (every table when NULL), and whether what enforces each is present';

CREATE FUNCTION mosta_check_invariants(tbl regclass DEFAULT NULL)
	RETURNS TABLE ("table" regclass, invariant text, kind text, violation text, row_key jsonb)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	i mosta.invariants;
	pk_col text;
BEGIN
	FOR i IN SELECT * FROM mosta.invariants v WHERE $1 IS NULL OR v.tbl = $1 ORDER BY v.tbl::text, v.name LOOP
		IF NOT mosta._invariant_present(i.tbl, i.name, i.kind) THEN
			RETURN QUERY SELECT i.tbl, i.name::text, i.kind,
				format('%s "%s" is missing: declare the invariant again to recreate it',
				       CASE WHEN i.kind = 'polymorphic_ref' THEN 'constraint' ELSE 'index' END, i.name), NULL::jsonb;
		END IF;
		IF i.kind IN ('sparse_unique', 'one_per') THEN
			RETURN QUERY SELECT i.tbl, i.name::text, i.kind, format('%s in %s rows', d.duplicate, d.rows), k
			  FROM mosta._duplicates(i.tbl, i.columns, mosta._unique_filter(i.kind, i.columns, i.flag_column, 't.'),
			                         NULL, NULL) d
			 CROSS JOIN LATERAL jsonb_array_elements(d.row_keys) k;
		ELSE
			RETURN QUERY EXECUTE format(
				'SELECT $1, $2, $3, %L, %s FROM %s t WHERE NOT (%s)',
				format('exactly the column %I names must be set', i.columns[1] || '_ref_kind'),
				mosta._row_key(i.tbl, 't'), i.tbl, mosta._ref_check(i.columns[1]))
			  USING i.tbl, i.name::text, i.kind;
			SELECT a.attname INTO pk_col
			  FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
			 WHERE x.indrelid = i.target AND x.indisprimary;
			RETURN QUERY EXECUTE format(
				'SELECT $1, $2, $3, %L, %s FROM %s t WHERE t.%I IS NOT NULL '
				'   AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.%I = t.%I)',
				format('%I is not in %s', i.columns[1] || '_id', i.target::text),
				mosta._row_key(i.tbl, 't'), i.tbl, i.columns[1] || '_id', i.target, pk_col, i.columns[1] || '_id')
			  USING i.tbl, i.name::text, i.kind;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mosta_check_invariants(regclass) IS
	'Returns one row per row of tbl (every table when NULL) that breaks a declared invariant, with its key, '
	'and one per invariant whose index or constraint is missing';

------------------------------------------------------------------------------
-- Activity log and dropped tables
------------------------------------------------------------------------------

-- _log_catalog appends an activity line for a change of mosta.invariants or
-- mosta.ttl made by the API (which runs as its caller, who may not write the
-- log). The line must agree with the catalog: only an invariant or TTL that
-- exists can be logged as added, only a TTL that is gone as removed. (Not a
-- trigger on the catalog: restoring a dump re-inserts its rows, and must not
-- log them again.)
CREATE FUNCTION mosta._log_catalog(action text, tbl regclass, detail jsonb) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	agrees boolean := CASE action
		WHEN 'add_invariant' THEN EXISTS (SELECT 1 FROM mosta.invariants i WHERE i.tbl = $2 AND i.name = $3->>'name')
		WHEN 'add_ttl' THEN EXISTS (SELECT 1 FROM mosta.ttl t WHERE t.tbl = $2)
		WHEN 'remove_ttl' THEN NOT EXISTS (SELECT 1 FROM mosta.ttl t WHERE t.tbl = $2)
		ELSE false END;
BEGIN
	IF NOT agrees THEN
		RAISE EXCEPTION 'activity "%" on % does not match the catalog', action, tbl::text
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'The invariant and TTL functions log their own changes.';
	END IF;
	PERFORM mosta._log(action, NULL, tbl::text, detail);
END
$$;

-- _forget_dropped_tables removes (and logs) the catalog rows of dropped
-- tables, before their OIDs can be reused, and the TTLs whose timestamp
-- column was dropped.
CREATE FUNCTION mosta._forget_dropped_tables() RETURNS event_trigger
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	dropped record;
	gone record;
BEGIN
	FOR dropped IN SELECT d.objid, d.object_identity FROM pg_event_trigger_dropped_objects() d
	                WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
	                  AND d.object_type IN ('table', 'partitioned table') LOOP
		FOR gone IN DELETE FROM mosta.invariants i WHERE i.tbl::oid = dropped.objid RETURNING i.name LOOP
			PERFORM mosta._log('remove_invariant', NULL, dropped.object_identity,
			                   jsonb_build_object('name', gone.name, 'reason', 'table dropped'));
		END LOOP;
		IF to_regclass('mosta.ttl') IS NOT NULL THEN
			FOR gone IN DELETE FROM mosta.ttl t WHERE t.tbl::oid = dropped.objid RETURNING t.ts_column LOOP
				PERFORM mosta._log('remove_ttl', NULL, dropped.object_identity,
				                   jsonb_build_object('ts_column', gone.ts_column, 'reason', 'table dropped'));
			END LOOP;
		END IF;
	END LOOP;
	IF to_regclass('mosta.ttl') IS NOT NULL THEN
		FOR gone IN DELETE FROM mosta.ttl t
		             WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
		                                WHERE a.attrelid = t.tbl AND a.attname = t.ts_column AND NOT a.attisdropped)
		             RETURNING t.tbl::text AS name, t.ts_column LOOP
			PERFORM mosta._log('remove_ttl', NULL, gone.name,
			                   jsonb_build_object('ts_column', gone.ts_column, 'reason', 'column dropped'));
		END LOOP;
	END IF;
END
$$;

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

-- A member of mosta_admin reads every row and adds rows only for tables it
-- owns; the extension's owner (who runs the event trigger) is not subject to it.
ALTER TABLE mosta.invariants ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON mosta.invariants FOR SELECT USING (true);
CREATE POLICY owner_adds ON mosta.invariants FOR INSERT TO mosta_admin WITH CHECK (mosta._owns(tbl));
REVOKE ALL ON mosta.invariants FROM PUBLIC;
GRANT SELECT, INSERT ON mosta.invariants TO mosta_admin;

REVOKE ALL ON FUNCTION
	mosta._owns(oid),
	mosta._user_table(regclass),
	mosta._column_type(regclass, text, text),
	mosta._check_columns(regclass, text[], text),
	mosta._row_key(regclass, text),
	mosta._object_name(regclass, text[], text),
	mosta._invariant_present(regclass, name, text),
	mosta._duplicates(regclass, text[], text, integer, integer),
	mosta._raise_duplicates(regclass, text, text[], text, text),
	mosta._declared(regclass, text, text[], text),
	mosta._name_free(regclass, name),
	mosta._unique_filter(text, text[], text, text),
	mosta._add_unique_index(regclass, text, text[], text, name, text, text),
	mosta._ref_check(text),
	mosta._raise_rows(text, text, text, text, text),
	mosta._log_catalog(text, regclass, jsonb),
	mosta._forget_dropped_tables(),
	mosta_add_sparse_unique(regclass, text[]),
	mosta_add_one_per(regclass, text, text[]),
	mosta_add_polymorphic_ref(regclass, text, regclass),
	mosta_invariants(regclass),
	mosta_check_invariants(regclass)
	FROM PUBLIC;
-- the API runs as its caller, so the helpers it calls must be executable by the caller too
GRANT EXECUTE ON FUNCTION
	mosta._owns(oid),
	mosta._user_table(regclass),
	mosta._column_type(regclass, text, text),
	mosta._check_columns(regclass, text[], text),
	mosta._row_key(regclass, text),
	mosta._object_name(regclass, text[], text),
	mosta._invariant_present(regclass, name, text),
	mosta._duplicates(regclass, text[], text, integer, integer),
	mosta._raise_duplicates(regclass, text, text[], text, text),
	mosta._declared(regclass, text, text[], text),
	mosta._name_free(regclass, name),
	mosta._unique_filter(text, text[], text, text),
	mosta._add_unique_index(regclass, text, text[], text, name, text, text),
	mosta._ref_check(text),
	mosta._raise_rows(text, text, text, text, text),
	mosta._log_catalog(text, regclass, jsonb),
	mosta_add_sparse_unique(regclass, text[]),
	mosta_add_one_per(regclass, text, text[]),
	mosta_add_polymorphic_ref(regclass, text, regclass),
	mosta_invariants(regclass),
	mosta_check_invariants(regclass)
	TO mosta_admin;

-- Last, so that this script's own DDL does not fire it.
CREATE EVENT TRIGGER mosta_forget_dropped_tables ON sql_drop
	EXECUTE FUNCTION mosta._forget_dropped_tables();
COMMENT ON EVENT TRIGGER mosta_forget_dropped_tables IS
	'Removes the invariants and TTLs of dropped tables (and TTLs of dropped columns) from the mosta catalog';
/*
 * sql/parts/40_counters_ttl.sql
 *	  Counters and TTL of the migration toolkit (docs/sql-api.md 14.3).
 *
 * Counters: mosta_next_value(scope, key) hands out 1, 2, 3, ... per (scope,
 * key), the derivation index Mongo code computed with find-max-then-insert.
 * The counter's row stays locked until the caller's transaction ends, so the
 * values of committed transactions have no gaps and no duplicates; a rolled
 * back caller's value is handed out again to the next one.
 *
 * TTL: mosta_add_ttl(tbl, ts_col, ttl) declares that rows whose ts_col is
 * older than ttl expire. mosta-sidecar calls mosta_ttl_expire() at each
 * catalog poll, which deletes a bounded batch: plain DELETEs, so capture
 * triggers, logical decoding and the rules' targets see them like any other.
 * mosta_ttl_expire() runs as its caller: the sidecar's role needs SELECT and
 * DELETE on the table (a table owner's triggers never run as a superuser).
 */

------------------------------------------------------------------------------
-- Counters
------------------------------------------------------------------------------

CREATE TABLE mosta.counters (
	scope       text NOT NULL,
	key         text NOT NULL,
	value       bigint NOT NULL CHECK (value >= 1),
	updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (scope, key)
);
COMMENT ON TABLE mosta.counters IS 'The last value mosta_next_value() handed out per (scope, key)';
SELECT pg_catalog.pg_extension_config_dump('mosta.counters', '');

CREATE FUNCTION mosta_next_value(scope text, key text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	given bigint;
BEGIN
	PERFORM mosta._require(scope, 'scope');
	PERFORM mosta._require(key, 'key');
	-- the first caller inserts 1; the others wait for its row lock, then add one to what it committed
	INSERT INTO mosta.counters AS c (scope, key, value) VALUES ($1, $2, 1)
	ON CONFLICT ON CONSTRAINT counters_pkey DO UPDATE SET value = c.value + 1, updated_at = pg_catalog.now()
	RETURNING c.value INTO given;
	RETURN given;
END
$$;
COMMENT ON FUNCTION mosta_next_value(text, text) IS
	'Returns the next value (1, 2, ...) of counter (scope, key): no gaps or duplicates among committed transactions; '
	'the counter stays locked until the caller commits or rolls back';

------------------------------------------------------------------------------
-- TTL
------------------------------------------------------------------------------

CREATE TABLE mosta.ttl (
	tbl         regclass PRIMARY KEY,
	ts_column   name NOT NULL,
	ttl         interval NOT NULL CHECK (ttl > interval '0'),
	created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_by  name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE mosta.ttl IS 'Tables whose rows expire ttl after their ts_column; mosta-sidecar deletes them';
SELECT pg_catalog.pg_extension_config_dump('mosta.ttl', '');

-- _ttl_key returns the columns mosta_ttl_expire() finds rows of tbl by: the
-- primary key's, or ctid (REPLICA IDENTITY FULL, not partitioned); NULL if none fits.
CREATE FUNCTION mosta._ttl_key(tbl regclass) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce(
		(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
		   FROM pg_index i
		  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
		   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		  WHERE i.indrelid = $1 AND i.indisprimary),
		(SELECT 'ctid' FROM pg_class c WHERE c.oid = $1 AND c.relreplident = 'f' AND c.relkind = 'r'))
$$;

CREATE FUNCTION mosta_add_ttl(tbl regclass, ts_col text, ttl interval) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	ts_type regtype;
	declared mosta.ttl;
BEGIN
	PERFORM mosta._user_table(tbl);
	PERFORM mosta._require(ttl, 'ttl');
	ts_type := mosta._column_type(tbl, ts_col, 'ts_col');
	IF ts_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
		RAISE EXCEPTION 'column "%" of table % is of type %, not a timestamp', ts_col, tbl::text, ts_type::text
			USING ERRCODE = 'datatype_mismatch',
			      HINT = 'The TTL column must be timestamptz, timestamp or date.';
	END IF;
	IF ttl <= interval '0' THEN
		RAISE EXCEPTION 'ttl must be positive, not %', ttl
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass how long rows live, as in interval ''30 days''.';
	END IF;
	IF mosta._ttl_key(tbl) IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', tbl::text
			USING ERRCODE = 'object_not_in_prerequisite_state',
			      DETAIL = 'Expired rows are deleted by key, and their deletes are replicated by key.',
			      HINT = 'Add a primary key (or, for a table that is not partitioned, ALTER TABLE ... REPLICA IDENTITY FULL).';
	END IF;
	SELECT * INTO declared FROM mosta.ttl t WHERE t.tbl = $1 FOR UPDATE;
	IF FOUND AND declared.ts_column = ts_col AND declared.ttl = $3 THEN
		RAISE NOTICE 'table % already has this TTL', tbl::text;
		RETURN;
	ELSIF FOUND THEN
		RAISE EXCEPTION 'table % already has a TTL: rows expire % after %', tbl::text, declared.ttl, declared.ts_column
			USING ERRCODE = 'duplicate_object',
			      HINT = format('Run SELECT mosta_remove_ttl(%L) first to change it.', tbl::text);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	                WHERE i.indrelid = tbl AND a.attname = ts_col) THEN
		RAISE NOTICE 'no index of table % starts with column %', tbl::text, quote_ident(ts_col)
			USING HINT = format('Each expiry pass looks for expired rows: CREATE INDEX ON %s (%I) keeps that cheap.',
			                    tbl::text, ts_col);
	END IF;
	IF NOT has_table_privilege('mosta_sidecar', tbl, 'SELECT, DELETE') THEN
		RAISE NOTICE 'role mosta_sidecar cannot delete from table %', tbl::text
			USING HINT = format('mosta-sidecar deletes expired rows as its own role: GRANT SELECT, DELETE ON %s TO '
			                    'mosta_sidecar (or to the sidecar''s login role).', tbl::text);
	END IF;
	INSERT INTO mosta.ttl (tbl, ts_column, ttl) VALUES (tbl, ts_col, $3);
	PERFORM mosta._log_catalog('add_ttl', tbl, jsonb_build_object('ts_column', ts_col, 'ttl', $3));
END
$$;
COMMENT ON FUNCTION mosta_add_ttl(regclass, text, interval) IS
	'Declares that rows of tbl expire ttl after ts_col; mosta-sidecar deletes them in batches';

CREATE FUNCTION mosta_remove_ttl(tbl regclass, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM mosta._user_table(tbl);
	PERFORM mosta._require(if_exists, 'if_exists');
	DELETE FROM mosta.ttl t WHERE t.tbl = $1;
	IF FOUND THEN
		PERFORM mosta._log_catalog('remove_ttl', tbl, '{}');
		RETURN true;
	ELSIF if_exists THEN
		RETURN false;
	END IF;
	RAISE EXCEPTION 'table % has no TTL', tbl::text
		USING ERRCODE = 'undefined_object',
		      HINT = 'See SELECT * FROM mosta.ttl; pass if_exists => true to ignore this.';
END
$$;
COMMENT ON FUNCTION mosta_remove_ttl(regclass, boolean) IS
	'Removes the TTL of tbl; returns false instead of failing when it has none and if_exists is true';

-- mosta_ttl_expire waits at most lock_timeout for a row another transaction
-- holds (SKIP LOCKED would need UPDATE on the table); on timeout the batch
-- fails and the next pass tries again.
CREATE FUNCTION mosta_ttl_expire(tbl regclass, max_rows integer DEFAULT 1000) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET lock_timeout = '1s'
	AS $$
DECLARE
	entry mosta.ttl;
	key text;
	deleted bigint;
BEGIN
	PERFORM mosta._require(tbl, 'tbl');
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
COMMENT ON FUNCTION mosta_ttl_expire(regclass, integer) IS
	'Deletes at most max_rows expired rows of tbl (as the caller) and returns how many; mosta-sidecar calls it';

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

-- mosta.ttl: a member of mosta_admin adds and removes rows only for tables it owns.
ALTER TABLE mosta.ttl ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON mosta.ttl FOR SELECT USING (true);
CREATE POLICY owner_adds ON mosta.ttl FOR INSERT TO mosta_admin WITH CHECK (mosta._owns(tbl));
CREATE POLICY owner_removes ON mosta.ttl FOR DELETE TO mosta_admin USING (mosta._owns(tbl));
REVOKE ALL ON mosta.ttl, mosta.counters FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON mosta.ttl TO mosta_admin;
GRANT SELECT ON mosta.ttl TO mosta_sidecar;
GRANT SELECT ON mosta.counters TO mosta_admin;

REVOKE ALL ON FUNCTION
	mosta_next_value(text, text),
	mosta._ttl_key(regclass),
	mosta_add_ttl(regclass, text, interval),
	mosta_remove_ttl(regclass, boolean),
	mosta_ttl_expire(regclass, integer)
	FROM PUBLIC;
-- applications get mosta_next_value() with GRANT EXECUTE (docs/sql-api.md 14.3)
GRANT EXECUTE ON FUNCTION
	mosta_next_value(text, text),
	mosta._ttl_key(regclass),
	mosta_add_ttl(regclass, text, interval),
	mosta_remove_ttl(regclass, boolean),
	mosta_ttl_expire(regclass, integer)
	TO mosta_admin;
GRANT EXECUTE ON FUNCTION mosta._ttl_key(regclass), mosta_ttl_expire(regclass, integer) TO mosta_sidecar;
/*
 * sql/parts/50_verify.sql
 *	  Verification (docs/verification.md, docs/sql-api.md 14.4): the canonical
 *	  row hash and checksum a source table and its copies are compared with,
 *	  and exact grouped sums.
 *
 * Everything here is SECURITY INVOKER: it reads the caller's tables with the
 * caller's privileges. Identifiers reach dynamic SQL only through format %I
 * or regclass; the search_path is pinned so that no caller object shadows
 * count(), sum() or the helpers.
 */

------------------------------------------------------------------------------
-- Canonical encoding (C, extension/src/migration/checksum.cpp)
------------------------------------------------------------------------------

CREATE FUNCTION mosta.canonical_text(anyelement) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_canonical_text'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.canonical_text(anyelement) IS
	'Returns a value''s canonical text (docs/verification.md): as the output plugin writes it, a JSON string as its content';

CREATE FUNCTION mosta.canonical_row_hash(record) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_canonical_row_hash'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mosta.canonical_row_hash(record) IS
	'Returns the 128-bit canonical hash of a row (its columns by name), as 32 hex digits';

CREATE FUNCTION mosta._checksum_transition(bytea, record) RETURNS bytea
	AS 'MODULE_PATHNAME', 'mostajs_checksum_transition'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION mosta._checksum_combine(bytea, bytea) RETURNS bytea
	AS 'MODULE_PATHNAME', 'mostajs_checksum_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION mosta._checksum_final(bytea) RETURNS text
	AS 'MODULE_PATHNAME', 'mostajs_checksum_final'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mosta._checksum_transition(bytea, record) IS 'Transition function of mosta.canonical_checksum';
COMMENT ON FUNCTION mosta._checksum_combine(bytea, bytea) IS 'Combine function of mosta.canonical_checksum';
COMMENT ON FUNCTION mosta._checksum_final(bytea) IS 'Final function of mosta.canonical_checksum';

CREATE AGGREGATE mosta.canonical_checksum(record) (
	SFUNC = mosta._checksum_transition,
	STYPE = bytea,
	COMBINEFUNC = mosta._checksum_combine,
	FINALFUNC = mosta._checksum_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE mosta.canonical_checksum(record) IS
	'Returns the order-independent checksum (64 hex digits) of the rows aggregated';

------------------------------------------------------------------------------
-- Column selection
------------------------------------------------------------------------------

-- mosta._verify_columns returns the columns to hash of tbl, in attnum order:
-- all of them when cols is NULL, else cols checked (each must exist, once).
CREATE FUNCTION mosta._verify_columns(tbl regclass, cols text[]) RETURNS text[]
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	all_cols text[];
	col text;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'argument "tbl" must not be null' USING ERRCODE = '22004';
	END IF;
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
	FOREACH col IN ARRAY cols LOOP
		IF col IS NULL OR NOT col = ANY (all_cols) THEN
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
COMMENT ON FUNCTION mosta._verify_columns(regclass, text[]) IS
	'Returns the columns of a table a checksum covers (all when cols is NULL), checked';

-- mosta._select_list returns "t.a, t.b" for cols, each quoted.
CREATE FUNCTION mosta._select_list(alias text, cols text[]) RETURNS text
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	RETURN (SELECT string_agg(format('%I.%I', alias, c), ', ' ORDER BY n) FROM unnest(cols) WITH ORDINALITY x(c, n));
COMMENT ON FUNCTION mosta._select_list(text, text[]) IS 'Returns a quoted select list of columns';

------------------------------------------------------------------------------
-- Public API
------------------------------------------------------------------------------

CREATE FUNCTION mosta_checksum(tbl regclass, cols text[] DEFAULT NULL,
                               OUT row_count bigint, OUT checksum text)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	selected text[] := mosta._verify_columns(tbl, cols);
BEGIN
	IF cardinality(selected) = 0 THEN
		EXECUTE format('SELECT count(*), mosta.canonical_checksum(ROW()) FROM %s', tbl) INTO row_count, checksum;
		-- a table without columns: every row encodes to nothing
		RETURN;
	END IF;
	EXECUTE format('SELECT count(*), mosta.canonical_checksum(r.*) FROM (SELECT %s FROM %s t) r',
	               mosta._select_list('t', selected), tbl)
	   INTO row_count, checksum;
END;
$$;
COMMENT ON FUNCTION mosta_checksum(regclass, text[]) IS
	'Returns the row count and the order-independent canonical checksum of a table (docs/verification.md)';
GRANT EXECUTE ON FUNCTION mosta_checksum(regclass, text[]) TO PUBLIC;

CREATE FUNCTION mosta.row_hashes(tbl regclass, cols text[] DEFAULT NULL)
	RETURNS TABLE (key text, row_hash text)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	selected text[] := mosta._verify_columns(tbl, cols);
	key_cols text[];
	key_expr text;
BEGIN
	SELECT array_agg(a.attname::text ORDER BY k.n) INTO key_cols
	  FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)
	  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
	 WHERE i.indrelid = tbl AND i.indisprimary;
	IF key_cols IS NULL THEN
		RAISE EXCEPTION '"%" has no primary key', tbl USING ERRCODE = '55000',
			HINT = 'Row hashes are listed by primary key; compare such tables with mosta_checksum().';
	END IF;
	SELECT string_agg(format($f$coalesce(replace(replace(mosta.canonical_text(t.%I), '\', '\\'), ',', '\,'), '\N')$f$, c),
	                  $f$ || ',' || $f$ ORDER BY n)
	  INTO key_expr FROM unnest(key_cols) WITH ORDINALITY x(c, n);
	RETURN QUERY EXECUTE format(
		'SELECT * FROM (SELECT %s AS key, mosta.canonical_row_hash(r.*) AS row_hash'
		'  FROM %s t CROSS JOIN LATERAL (SELECT %s) r) x ORDER BY x.key COLLATE "C"',
		key_expr, tbl, mosta._select_list('t', selected));
END;
$$;
COMMENT ON FUNCTION mosta.row_hashes(regclass, text[]) IS
	'Returns each row''s canonical key text and row hash, by primary key (what mosta-sidecar verify compares)';

CREATE FUNCTION mosta_sum_by(tbl regclass, amount_col text, group_cols text[] DEFAULT '{}')
	RETURNS TABLE (group_key jsonb, row_count bigint, total numeric)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	amount_type regtype;
	group_expr text := '''{}''::jsonb';
BEGIN
	IF amount_col IS NULL THEN
		RAISE EXCEPTION 'argument "amount_col" must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM mosta._verify_columns(tbl, ARRAY[amount_col] || coalesce(group_cols, '{}'));
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
COMMENT ON FUNCTION mosta_sum_by(regclass, text, text[]) IS
	'Returns, per group of group_cols values, the row count and the exact (numeric) sum of an integer or numeric column';
GRANT EXECUTE ON FUNCTION mosta_sum_by(regclass, text, text[]) TO PUBLIC;
/*
 * sql/parts/60_validate.sql
 *	  The compatibility report (docs/sql-api.md section 15): what a rule's
 *	  SQLite and MongoDB targets cannot hold faithfully, computed from the
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

------------------------------------------------------------------------------
-- What a rule covers
------------------------------------------------------------------------------

-- _validate_targets returns the sqlite and mongodb replicas a rule from source
-- to target writes to, as the sidecar resolves targets (docs/sidecar.md, "Rules
-- and their targets"): the non-postgres slaves of a project streaming into
-- itself, else every replica of the target project.
CREATE FUNCTION mosta._validate_targets(source text, target text)
	RETURNS TABLE (replica text, dialect text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT r.name::text, r.dialect
	  FROM mosta.replicas r
	 WHERE r.project = $2
	   AND ($1 <> $2 OR (r.role = 'slave' AND r.dialect <> 'postgres'))
	   AND r.dialect IN ('sqlite', 'mongodb')
$$;

-- _validate_tables returns the tables a rule's collections cover: for {*},
-- the sidecar's list (ordinary permanent tables outside the system schemas
-- and mosta, with a primary key or REPLICA IDENTITY FULL: kTablesOfStarSql in
-- sidecar/src/app/catalog.hpp); else each named table, relid NULL when it no
-- longer exists.
CREATE FUNCTION mosta._validate_tables(collections text[])
	RETURNS TABLE (collection text, relid oid)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT format('%I.%I', n.nspname, c.relname), c.oid
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE $1 = ARRAY['*']
	   AND c.relkind = 'r' AND c.relpersistence = 'p'
	   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mosta', 'pg_toast')
	   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
	   AND (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
	UNION ALL
	SELECT x.name, to_regclass(x.name)::oid
	  FROM unnest($1) x(name)
	 WHERE $1 <> ARRAY['*']
$$;

-- _validate_key returns a table's key columns in key order, as change
-- documents carry it (mosta._ddl_table_json): the primary key, else the
-- REPLICA IDENTITY USING INDEX index; NULL for a keyless table.
CREATE FUNCTION mosta._validate_key(tbl oid) RETURNS text[]
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT (SELECT array_agg(a.attname::text ORDER BY k.n)
	          FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
	          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	 WHERE i.indrelid = $1 AND i.indisvalid AND i.indimmediate
	   AND (i.indisprimary OR (c.relreplident = 'i' AND i.indisreplident))
	 ORDER BY i.indisprimary DESC
	 LIMIT 1
$$;

-- _validate_columns returns a table's live columns in attnum order: the type
-- as format_type writes it, the type of its values (an array's element type,
-- with the column's typmod), and whether it is generated (generated columns
-- are left out of change documents).
CREATE FUNCTION mosta._validate_columns(tbl oid)
	RETURNS TABLE (attnum smallint, name text, type_name text, is_array boolean, value_type oid, typmod integer,
	               generated boolean)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT a.attnum, a.attname::text, format_type(a.atttypid, a.atttypmod),
	       t.typcategory = 'A' AND t.typtype = 'b',
	       CASE WHEN t.typcategory = 'A' AND t.typtype = 'b' THEN t.typelem ELSE t.oid END,
	       a.atttypmod, a.attgenerated <> ''
	  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
	 ORDER BY a.attnum
$$;

-- _validate_table_issues returns the checks both dialects share: tables that
-- lost their key, partitioned tables, generated columns.
CREATE FUNCTION mosta._validate_table_issues(tbl oid)
	RETURNS TABLE (severity text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT 'error', NULL::text,
	       'no primary key and no REPLICA IDENTITY FULL: updates and deletes cannot be applied by key'
	  FROM pg_class c
	 WHERE c.oid = $1 AND mosta._validate_key(c.oid) IS NULL AND c.relreplident <> 'f'
	UNION ALL
	SELECT 'warning', NULL,
	       'partitioned table: the sidecar streams without partition-root, so its changes arrive under the names '
	       'of its partitions (docs/protocol.md section 9), not under this table''s name'
	  FROM pg_class c
	 WHERE c.oid = $1 AND c.relkind = 'p'
	UNION ALL
	SELECT 'info', v.name, 'generated column: left out of change documents, so not replicated'
	  FROM mosta._validate_columns($1) v
	 WHERE v.generated
$$;

------------------------------------------------------------------------------
-- SQLite (sidecar/src/sink/sqlite_table.cpp)
------------------------------------------------------------------------------

-- _sqlite_ascii_lower lowers ASCII letters only: SQLite compares identifiers
-- case-insensitively for ASCII letters, and only for them.
CREATE FUNCTION mosta._sqlite_ascii_lower(name text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

-- _sqlite_table_name returns the SQLite name of a table, as SqliteTableName
-- writes it: the schema with '\' and '.' escaped, a dot, the table.
CREATE FUNCTION mosta._sqlite_table_name(tbl oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT replace(replace(n.nspname::text, '\', '\\'), '.', '\.') || '.' || c.relname::text
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = $1
$$;

-- _sqlite_declared_type returns the SQLite declared type of a PostgreSQL type
-- name, as SqliteDeclaredType does ('' for none).
CREATE FUNCTION mosta._sqlite_declared_type(type_name text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN right($1, 2) = '[]' THEN 'TEXT'
		WHEN split_part($1, '(', 1) IN ('smallint', 'integer', 'bigint', 'oid', 'boolean') THEN 'INTEGER'
		WHEN split_part($1, '(', 1) IN ('real', 'double precision') THEN 'REAL'
		WHEN split_part($1, '(', 1) IN ('numeric', 'json', 'jsonb') THEN 'TEXT'
		WHEN split_part($1, '(', 1) = 'bytea' THEN 'BLOB'
		WHEN $1 ~ '[."]' THEN ''
		ELSE 'TEXT'
	END
$$;

-- _sqlite_column_issue returns what a column of the given type becomes in
-- SQLite when that is worth knowing, else NULL.
CREATE FUNCTION mosta._sqlite_column_issue(type_name text, type_oid oid, is_array boolean) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE
		WHEN is_array THEN
			'array stored as TEXT holding a JSON array'
		WHEN mosta._sqlite_declared_type(type_name) = '' THEN
			format('%s has no SQLite declared type (a user or extension type): each value is stored as sent, '
			       'a number as a number, anything else as TEXT', type_name)
		WHEN type_oid = 'numeric'::regtype THEN
			'numeric stored as TEXT (exact): compared and sorted as text, so ''9.5'' > ''10'' even against a '
			'number literal; SQLite arithmetic on it converts to REAL (about 15 significant digits)'
		WHEN type_oid = 'real'::regtype THEN
			'real (4-byte float) widened to REAL, an 8-byte double; NaN and Infinity are stored as TEXT'
		WHEN type_oid = 'double precision'::regtype THEN
			'NaN and Infinity are stored as TEXT in this REAL column'
		WHEN type_oid = 'boolean'::regtype THEN
			'boolean stored as INTEGER 0/1'
		WHEN type_oid IN ('json'::regtype, 'jsonb'::regtype) THEN
			format('%s stored as TEXT holding the JSON text', type_name)
		WHEN type_oid = 'uuid'::regtype THEN
			'uuid stored as TEXT (36 characters), not as a 16-byte BLOB'
		WHEN type_oid IN ('timestamptz'::regtype, 'timetz'::regtype) THEN
			format('%s stored as TEXT in PostgreSQL''s output format: compared and sorted as text, which follows '
			       'time order only for AD values written with one UTC offset', type_name)
		WHEN type_oid IN ('timestamp'::regtype, 'date'::regtype, 'time'::regtype) THEN
			format('%s stored as TEXT in PostgreSQL''s output format: compared and sorted as text, which follows '
			       'time order only for AD values', type_name)
		WHEN type_oid = 'interval'::regtype THEN
			'interval stored as TEXT (''1 day 02:00:00''): compared and sorted as text, not by length'
		WHEN type_oid = 'money'::regtype THEN
			'money stored as TEXT in the lc_monetary format (''$1,000.00''), not as a number'
		WHEN type_oid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'oid'::regtype,
		                  'bytea'::regtype)
		  OR (SELECT t.typcategory = 'S' FROM pg_type t WHERE t.oid = type_oid) THEN
			NULL
		ELSE
			format('%s stored as TEXT (its output form)', type_name)
	END
$$;

-- _sqlite_issues returns the SQLite checks of one table: keyless tables, names
-- SQLite reserves, columns that collide by case, type mapping notes.
CREATE FUNCTION mosta._sqlite_issues(tbl oid)
	RETURNS TABLE (severity text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT * FROM mosta._validate_table_issues($1)
	UNION ALL
	SELECT 'warning', NULL,
	       'no primary key (REPLICA IDENTITY FULL): the SQLite table has no PRIMARY KEY, inserts are plain, so '
	       'duplicates are avoided only by the checkpoint skip on replay, and updates and deletes change one row '
	       'equal to the old values'
	  FROM pg_class c
	 WHERE c.oid = $1 AND c.relreplident = 'f' AND mosta._validate_key(c.oid) IS NULL
	UNION ALL
	SELECT 'error', NULL,
	       'no primary key, and columns shadow rowid, _rowid_ and oid: the sink cannot find rows to update or delete'
	  FROM pg_class c
	 WHERE c.oid = $1 AND c.relreplident = 'f' AND mosta._validate_key(c.oid) IS NULL
	   AND (SELECT count(DISTINCT mosta._sqlite_ascii_lower(v.name)) FROM mosta._validate_columns($1) v
	         WHERE mosta._sqlite_ascii_lower(v.name) IN ('rowid', '_rowid_', 'oid')) = 3
	UNION ALL
	SELECT 'error', NULL,
	       format('SQLite reserves names starting with "sqlite_": table "%s" cannot be created',
	              mosta._sqlite_table_name($1))
	 WHERE mosta._sqlite_ascii_lower(mosta._sqlite_table_name($1)) LIKE 'sqlite\_%'
	UNION ALL
	SELECT 'error', v.name,
	       format('column "%s" and column "%s" differ only by case: SQLite column names are case-insensitive, so '
	              'the second cannot be added', w.name, v.name)
	  FROM mosta._validate_columns($1) v JOIN mosta._validate_columns($1) w
	    ON mosta._sqlite_ascii_lower(w.name) = mosta._sqlite_ascii_lower(v.name) AND w.attnum < v.attnum
	 WHERE NOT v.generated AND NOT w.generated
	UNION ALL
	SELECT 'info', v.name, mosta._sqlite_column_issue(v.type_name, v.value_type, v.is_array)
	  FROM mosta._validate_columns($1) v
	 WHERE NOT v.generated AND mosta._sqlite_column_issue(v.type_name, v.value_type, v.is_array) IS NOT NULL
$$;

------------------------------------------------------------------------------
-- MongoDB (issue 6 item 2: the MongoDB sink's mapping)
------------------------------------------------------------------------------

-- _mongodb_collection returns the collection of a table, as MongoCollectionName
-- names it: "table" in schema public, else "schema.table".
CREATE FUNCTION mosta._mongodb_collection(tbl oid) RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname::text || '.' END || c.relname::text
	  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = $1
$$;

-- _mongodb_field returns a field name as MongoFieldName escapes it: each '.'
-- becomes U+FF0E, a leading '$' U+FF04.
CREATE FUNCTION mosta._mongodb_field(name text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT regexp_replace(replace($1, '.', U&'\FF0E'), '^\$', U&'\FF04')
$$;

-- _mongodb_value_issue returns how values of a type (an array's element type)
-- change in BSON, with its severity, or NULLs when they map without surprise.
CREATE FUNCTION mosta._mongodb_value_issue(type_oid oid, typmod integer, OUT severity text, OUT issue text)
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
			       'field names are', format_type(type_oid, typmod))
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

-- _mongodb_issues returns the MongoDB checks of one table: the _id, field and
-- collection names MongoDB rejects, and type mapping notes.
CREATE FUNCTION mosta._mongodb_issues(tbl oid)
	RETURNS TABLE (severity text, "column" text, issue text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT * FROM mosta._validate_table_issues($1)
	UNION ALL
	SELECT 'error', NULL,
	       'no primary key (REPLICA IDENTITY FULL only): its documents have no natural _id, and the sink refuses '
	       'keyless tables'
	  FROM pg_class c
	 WHERE c.oid = $1 AND c.relreplident = 'f' AND mosta._validate_key(c.oid) IS NULL
	UNION ALL
	SELECT 'info', NULL,
	       format('composite key (%s): _id is an embedded document {%s}',
	              array_to_string(k.key, ', '), array_to_string(k.key, ', '))
	  FROM (SELECT mosta._validate_key($1) AS key) k
	 WHERE cardinality(k.key) > 1
	UNION ALL
	SELECT 'error', NULL, format('MongoDB rejects "$" in collection names: "%s"', mosta._mongodb_collection($1))
	 WHERE strpos(mosta._mongodb_collection($1), '$') > 0
	UNION ALL
	SELECT 'error', NULL,
	       format('MongoDB reserves collection names starting with "system.": "%s"', mosta._mongodb_collection($1))
	 WHERE left(mosta._mongodb_collection($1), 7) = 'system.'
	UNION ALL
	SELECT 'error', NULL, 'the sink keeps its checkpoints in the collection "_mosta_checkpoints"'
	 WHERE mosta._mongodb_collection($1) = '_mosta_checkpoints'
	UNION ALL
	SELECT 'warning', v.name,
	       format('field name contains ".": stored as "%s" (each "." becomes U+FF0E)', mosta._mongodb_field(v.name))
	  FROM mosta._validate_columns($1) v
	 WHERE NOT v.generated AND strpos(v.name, '.') > 0
	UNION ALL
	SELECT 'warning', v.name,
	       format('field name starts with "$": stored as "%s" (the "$" becomes U+FF04)', mosta._mongodb_field(v.name))
	  FROM mosta._validate_columns($1) v
	 WHERE NOT v.generated AND left(v.name, 1) = '$'
	UNION ALL
	SELECT 'error', v.name,
	       'a column named _id that is not the one key column: the sink refuses it (_id holds the table''s key)'
	  FROM mosta._validate_columns($1) v
	 WHERE NOT v.generated AND v.name = '_id' AND mosta._validate_key($1) IS DISTINCT FROM ARRAY['_id']
	UNION ALL
	SELECT i.severity, v.name, CASE WHEN v.is_array THEN 'array of ' || i.issue ELSE i.issue END
	  FROM mosta._validate_columns($1) v
	 CROSS JOIN LATERAL mosta._mongodb_value_issue(v.value_type, v.typmod) i
	 WHERE NOT v.generated AND i.issue IS NOT NULL
$$;

------------------------------------------------------------------------------
-- The report
------------------------------------------------------------------------------

-- _validation_issues returns the report of a rule from source_project to
-- target_project covering collections, unordered.
CREATE FUNCTION mosta._validation_issues(source_project text, target_project text, collections text[])
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

CREATE FUNCTION mosta_validate_rule(rule text)
	RETURNS TABLE (target text, severity text, collection text, "column" text, issue text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	found_rule mosta.rules;
BEGIN
	PERFORM mosta._require(rule, 'rule');
	SELECT * INTO found_rule FROM mosta.rules u WHERE u.name = mosta_validate_rule.rule;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'rule "%" does not exist', rule
			USING ERRCODE = 'undefined_object',
			      HINT = 'See SELECT * FROM mosta_rules() for the declared rules.';
	END IF;
	RETURN QUERY
	SELECT i.* FROM mosta._validation_issues(found_rule.source_project, found_rule.target_project,
	                                         found_rule.collections) i
	 ORDER BY i.target, i.collection, i."column" NULLS FIRST,
	          array_position(ARRAY['error', 'warning', 'info'], i.severity), i.issue;
END
$$;
COMMENT ON FUNCTION mosta_validate_rule(text) IS
	'Returns the compatibility report of a rule: what its SQLite and MongoDB targets cannot hold faithfully';

-- _validation_summary returns the NOTICE text mosta_add_rule() raises for a
-- rule: its issue counts, or NULL when it has no SQLite or MongoDB target.
CREATE FUNCTION mosta._validation_summary(rule text) RETURNS text
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT format('rule "%s": %s compatibility issue%s found (%s error%s, %s warning%s, %s info)',
	              $1, s.total, CASE WHEN s.total = 1 THEN '' ELSE 's' END,
	              s.errors, CASE WHEN s.errors = 1 THEN '' ELSE 's' END,
	              s.warnings, CASE WHEN s.warnings = 1 THEN '' ELSE 's' END, s.infos)
	  FROM mosta.rules u
	 CROSS JOIN LATERAL (
		SELECT count(*) AS total, count(*) FILTER (WHERE i.severity = 'error') AS errors,
		       count(*) FILTER (WHERE i.severity = 'warning') AS warnings,
		       count(*) FILTER (WHERE i.severity = 'info') AS infos
		  FROM mosta._validation_issues(u.source_project, u.target_project, u.collections) i) s
	 WHERE u.name = $1
	   AND EXISTS (SELECT 1 FROM mosta._validate_targets(u.source_project, u.target_project))
$$;

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------

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
	mosta._validation_issues(text, text, text[]),
	mosta._validation_summary(text),
	mosta_validate_rule(text)
	FROM PUBLIC;
-- mosta_add_rule runs as its caller and raises the summary as a NOTICE
GRANT EXECUTE ON FUNCTION mosta_validate_rule(text), mosta._validation_summary(text) TO mosta_admin;
