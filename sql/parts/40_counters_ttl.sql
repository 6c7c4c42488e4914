/*
 * sql/parts/40_counters_ttl.sql
 *	  Counters and TTL of the migration toolkit (docs/sql-api.md 14.3).
 *
 * Counters: mosta_next_value(scope, key) hands out 1, 2, 3, ... per (scope,
 * key), the derivation index Mongo code computed with find-max-then-insert.
 * The counter's row stays locked until the caller's transaction ends, so the
 * values of committed transactions have no gaps and no duplicates; a rolled
 * back caller's value is handed out again to the next one.
 * mosta_seed_counter(scope, key, value) raises a counter to the highest value
 * a legacy store handed out (mosta-migrate backfill), never lowering it.
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
	PERFORM mosta._check_key_length(mosta._require(scope, 'scope'), 'scope');
	PERFORM mosta._check_key_length(mosta._require(key, 'key'), 'key');
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
	mosta_seed_counter(text, text, bigint),
	mosta._ttl_key(regclass),
	mosta_add_ttl(regclass, text, interval),
	mosta_remove_ttl(regclass, boolean),
	mosta_ttl_expire(regclass, integer)
	FROM PUBLIC;
-- applications get mosta_next_value() with GRANT EXECUTE (docs/sql-api.md 14.3)
GRANT EXECUTE ON FUNCTION
	mosta_next_value(text, text),
	mosta_seed_counter(text, text, bigint),
	mosta._ttl_key(regclass),
	mosta_add_ttl(regclass, text, interval),
	mosta_remove_ttl(regclass, boolean),
	mosta_ttl_expire(regclass, integer)
	TO mosta_admin;
GRANT EXECUTE ON FUNCTION mosta._ttl_key(regclass), mosta_ttl_expire(regclass, integer) TO mosta_sidecar;
