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
