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

------------------------------------------------------------------------------
-- What a rule covers
------------------------------------------------------------------------------

-- _validate_targets returns the sqlite, mongodb and sqldump replicas a rule from source
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
	   AND r.dialect IN ('sqlite', 'mongodb', 'sqldump')
$$;

-- _validate_tables returns the tables a rule's collections cover: for {*},
-- the sidecar's list (ordinary permanent tables outside the system schemas
-- and mosta, with a primary key or REPLICA IDENTITY FULL, partitioned tables
-- as their top-most root only: kTablesOfStarSql in
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
	 ORDER BY (c.relreplident = 'i' AND i.indisreplident) DESC
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
-- lost their key, partitioned tables (replicated as their root) and
-- partitions named on their own (refused), generated columns.
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
-- SQL dump (sidecar/src/sink/sql_dump_types.cpp: the user types it creates)
------------------------------------------------------------------------------

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
	'Returns the compatibility report of a rule: what its SQLite, MongoDB and SQL dump targets cannot hold faithfully';

-- _validation_summary returns the NOTICE text mosta_add_rule() raises for a
-- rule: its issue counts, or NULL when it has no SQLite, MongoDB or SQL dump target.
-- Only errors and warnings are issues; info rows are counted as notes.
CREATE FUNCTION mosta._validation_summary(rule text) RETURNS text
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
	mosta._validate_dump_types(oid),
	mosta._sqldump_issues(oid),
	mosta._validation_issues(text, text, text[]),
	mosta._validation_summary(text),
	mosta_validate_rule(text)
	FROM PUBLIC;
-- mosta_add_rule runs as its caller and raises the summary as a NOTICE
GRANT EXECUTE ON FUNCTION mosta_validate_rule(text), mosta._validation_summary(text) TO mosta_admin;
