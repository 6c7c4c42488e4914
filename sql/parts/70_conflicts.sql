/*
 * sql/parts/70_conflicts.sql
 *	  Conflicts of bidirectional replication (docs/sql-api.md, "Conflicts";
 *	  docs/bidirectional.md): the record of each one the sidecar's sinks detect.
 *
 * A sink that finds a change from one side not fitting the row the other side
 * holds asks the rule's conflict handler, which calls mosta._record_conflict()
 * on the source master (its own autocommit connection, as mosta_sidecar) and
 * then applies the rule's conflict_resolution. Recording is idempotent: a
 * transaction the sidecar replays after a restart or a failed apply finds its
 * conflicts already there (keyed by rule, replica, side, LSN and change index)
 * and records nothing twice, nor counts them twice in mosta.rule_stats.conflicts.
 * A conflict first recorded with decision 'error' (policy error: the target
 * stops and retries) takes the decision of the retry that resolved it once the
 * operator changed the policy.
 *
 * mosta.conflicts keeps at most 10000 rows per rule (_record_conflict), the
 * oldest deleted first; the counter counts every conflict ever recorded.
 *
 * Security: the rows hold values of user tables (the key, both row images).
 * They are data, not credentials, and are not masked: only mosta_admin (and
 * superusers) read them, through mosta_conflicts(); PUBLIC sees only the count
 * (mosta_rules(), mosta_topology()). mosta_sidecar writes them only through
 * mosta._record_conflict(), which keeps the counter and the bound (it has no
 * privilege on the table itself). Like the status tables, the conflicts are
 * not part of the catalog pg_dump keeps.
 */

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
