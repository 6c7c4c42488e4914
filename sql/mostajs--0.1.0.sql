/*
 * mostajs--0.1.0.sql
 *	  The mostajs catalog (schema mosta) and the SQL API a DBA declares
 *	  projects, replicas, rules and read routing with.
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
 * This file is released: never edit it; changes go to an upgrade script.
 */

\echo Use "CREATE EXTENSION mostajs" to load this file. \quit

-- The role members of which administer replication. Roles are cluster-wide
-- and outlive the extension, so an existing one is reused.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mosta_admin') THEN
		CREATE ROLE mosta_admin NOLOGIN;
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
BEGIN
	PERFORM mosta._check_name(name, 'name');
	PERFORM mosta._require_project(source, 'source');
	PERFORM mosta._require_project(target, 'target');
	PERFORM mosta._check_choice(mode, 'mode', ARRAY['snapshot', 'cdc', 'bidirectional']);
	PERFORM mosta._add_rule(name, source, target, mode, mosta._resolve_collections(collections),
	                        conflict_resolution, enabled);
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
				                            'changesApplied', u.changes_applied, 'lastAppliedAt', u.last_applied_at,
				                            'lastError', u.last_error)
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
