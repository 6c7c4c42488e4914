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
COMMENT ON FUNCTION mosta_sum_by(regclass, text, text[]) IS
	'Returns, per group of group_cols values, the row count and the exact (numeric) sum of an integer or numeric column';
GRANT EXECUTE ON FUNCTION mosta_sum_by(regclass, text, text[]) TO PUBLIC;
