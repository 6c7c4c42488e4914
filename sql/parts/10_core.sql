/*
 * sql/parts/10_core.sql
 *	  The mostajs catalog (schema mosta) and the SQL API a DBA declares
 *	  projects, replicas, rules and read routing with; change capture helpers.
 *
 * The install script mostajs--<version>.sql (mostajs.control's default_version)
 * is made by "make": the files of sql/parts
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
 * Released scripts are frozen (sql/mostajs--0.1.0.sql): a change to these
 * parts goes into the upgrade script from the last release too
 * (sql/mostajs--0.1.0--0.2.0.sql while 0.2.0 is not released), and
 * test/integration/upgrade.sh fails, showing the difference, until it does
 * (docs/upgrading.md).
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
		CHECK (conflict_resolution IN ('source-wins', 'target-wins', 'last-write-wins', 'error')),
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
	-- a PostgreSQL standby: its state in the master's pg_stat_replication (NULL when not found there)
	sync_state   text CHECK (sync_state IN ('async', 'potential', 'sync', 'quorum')),
	PRIMARY KEY (project, replica),
	FOREIGN KEY (project, replica) REFERENCES mosta.replicas (project, name) ON DELETE CASCADE
);
COMMENT ON TABLE mosta.replica_status IS 'Live replica status, reported by mosta-sidecar';

-- Written by the sidecar; one row per rule it runs.
CREATE TABLE mosta.rule_stats (
	rule              mosta.object_name PRIMARY KEY REFERENCES mosta.rules (name) ON DELETE CASCADE,
	status            text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'stopped', 'error')),
	snapshot_rows     bigint NOT NULL DEFAULT 0,
	changes_applied   bigint NOT NULL DEFAULT 0,
	transactions      bigint NOT NULL DEFAULT 0,
	confirmed_lsn     pg_lsn,
	retained_bytes    bigint,
	last_applied_at   timestamptz,
	last_error        text,
	updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
	-- conflicts of a bidirectional rule ever recorded in mosta.conflicts (mosta._record_conflict counts each once;
	-- a purge or the per-rule bound of mosta.conflicts does not lower it); the sidecar's status upserts leave it
	conflicts         bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE mosta.rule_stats IS 'Per-rule counters, reported by mosta-sidecar';

-- Written by the sidecar; one row per (rule, target replica). A rule's targets share the rule's replication slot,
-- which confirms the position of the target furthest behind: retained_bytes is the WAL that slot makes PostgreSQL
-- keep (the same for every target of the rule).
CREATE TABLE mosta.target_status (
	rule              mosta.object_name NOT NULL REFERENCES mosta.rules (name) ON DELETE CASCADE,
	project           mosta.object_name NOT NULL,
	replica           mosta.object_name NOT NULL,
	slot              name NOT NULL,
	status            text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'snapshot', 'streaming', 'done', 'paused', 'stopped', 'error')),
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
-- a canonical name resolves the same under any search_path. So that nothing
-- planted earlier in that search_path runs as the caller, every operator and
-- function here is schema-qualified (test/pgtap/98_search_path.sql).
CREATE FUNCTION mosta._resolve_collections(collections text[]) RETURNS text[]
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

-- mosta_add_rule resolves the collections with the caller's search_path and
-- privileges (the caller must be able to see the tables), then stores the rule
-- through _add_rule, which checks everything again as the owner. The checks
-- here only put the errors in argument order.
-- Like _resolve_collections, it qualifies every operator and function it uses.
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

CREATE FUNCTION mosta._within_tolerance(status text, lag_ms bigint, last_seen timestamptz, tolerance_ms bigint)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT coalesce($1 = 'up' AND $2 <= $4 AND $3 IS NOT NULL AND NOT mosta._status_is_stale($3), false)
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
	applied_lsn pg_lsn, tables integer, last_seen timestamptz, last_error text, sync_state text
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
COMMENT ON FUNCTION mosta_replica_status(text) IS
	'Returns each replica with its reported status and lag; URIs masked';

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
CREATE FUNCTION mosta_topology() RETURNS jsonb
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
GRANT EXECUTE ON FUNCTION mosta._require_relation(regclass, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION mosta._check_key_length(text, text) TO mosta_admin;
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

------------------------------------------------------------------------------
-- DDL messages and heartbeats in the change stream (docs/capture.md)
------------------------------------------------------------------------------

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
COMMENT ON FUNCTION mosta_capture_table(regclass) IS
	'Installs the capture triggers on a table: its changes are appended to mosta.change_log';

CREATE FUNCTION mosta_uncapture_table(tbl regclass, if_exists boolean DEFAULT false) RETURNS boolean
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
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'ALTER TYPE', 'ALTER DOMAIN')
	EXECUTE FUNCTION mosta._ddl_command_end();
COMMENT ON EVENT TRIGGER mosta_ddl_command_end IS
	'Writes a mostajs.ddl logical message with the new shape of each user table a DDL command creates or alters';
CREATE EVENT TRIGGER mosta_ddl_sql_drop ON sql_drop
	EXECUTE FUNCTION mosta._ddl_sql_drop();
CREATE EVENT TRIGGER mosta_ddl_table_rewrite ON table_rewrite
	EXECUTE FUNCTION mosta._ddl_table_rewrite();
COMMENT ON EVENT TRIGGER mosta_ddl_table_rewrite IS
	'Records the tables a command rewrites, for the mostajs.ddl message its ddl_command_end writes';
COMMENT ON EVENT TRIGGER mosta_ddl_sql_drop IS
	'Writes a mostajs.ddl logical message for each user table dropped, or changed by a cascading drop';

------------------------------------------------------------------------------
-- Privileges of the change stream and trigger capture
------------------------------------------------------------------------------

REVOKE ALL ON mosta.change_log, mosta.captured_tables, mosta.change_log_seq FROM PUBLIC;
GRANT SELECT ON mosta.change_log, mosta.captured_tables TO mosta_admin;
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

-- mosta-sidecar's catalog access (docs/sidecar.md, "The sidecar's role")
GRANT SELECT ON mosta.projects, mosta.replicas, mosta.rules, mosta.routing TO mosta_sidecar;
GRANT SELECT, INSERT, UPDATE ON mosta.rule_stats, mosta.target_status, mosta.replica_status TO mosta_sidecar;
GRANT INSERT ON mosta.activity TO mosta_sidecar;
GRANT USAGE ON SEQUENCE mosta.activity_id_seq TO mosta_sidecar;
