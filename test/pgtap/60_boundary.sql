-- 60_boundary.sql: the C++/PostgreSQL error boundary. A C++ PgError becomes
-- an ERROR with its SQLSTATE, message, detail and hint; a PostgreSQL error
-- raised inside C++ through PgCall comes back with its own SQLSTATE and
-- message; and the session keeps working after either.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(38);

\ir support/helpers.psql

-- errors_caught runs sql n times, catching each error, and returns how many calls raised one.
CREATE FUNCTION pg_temp.errors_caught(sql text, n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	caught int := 0;
BEGIN
	FOR i IN 1..n LOOP
		BEGIN
			EXECUTE sql;
		EXCEPTION WHEN OTHERS THEN
			caught := caught + 1;
		END;
	END LOOP;
	RETURN caught;
END
$$;

SELECT is(mosta.round_robin_tick(), 0::bigint, 'the first round-robin tick of a session is 0');
SELECT is(mosta.round_robin_tick(), 1::bigint, 'the second is 1');

CREATE TABLE public.ok_t (id int PRIMARY KEY);
CREATE TABLE public.nothing_t (id int PRIMARY KEY);
ALTER TABLE public.nothing_t REPLICA IDENTITY NOTHING;

------------------------------------------------------------------------------
-- C++ PgError → ERROR
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT mosta.check_uri('postgres', 'mysql://x')$$, '22023',
                 'invalid postgres connection string "mysql://x": unsupported scheme "mysql"',
                 'check_uri: a PgError comes back as 22023 with its message');
SELECT is((pg_temp.error_of($$SELECT mosta.check_uri('postgres', 'mysql://x')$$))[4],
          'Use a URI such as "postgresql://user@host:5432/dbname?sslmode=require" or key=value pairs '
          'such as "host=localhost port=5432 dbname=app user=app".',
          'check_uri: the PgError''s hint comes back');
SELECT is(mosta.resolve_collection('ok_t'), 'public.ok_t', 'the session works after a PgError');
SELECT throws_ok($$SELECT mosta.check_uri('oracle', 'x')$$, '22023', 'invalid dialect "oracle"',
                 'check_uri: an unknown dialect is 22023');
SELECT is((pg_temp.error_of($$SELECT mosta.check_uri('oracle', 'x')$$))[4],
          'Valid dialects are: postgres, sqlite, mongodb, sqldump, jsonl.', 'check_uri: the dialect hint comes back');
SELECT throws_ok($$SELECT mosta.check_uri(NULL, 'x')$$, '22004', 'argument "dialect" must not be null',
                 'check_uri: a NULL dialect is 22004');
SELECT throws_ok($$SELECT mosta.check_uri('postgres', NULL)$$, '22004', 'argument "uri" must not be null',
                 'check_uri: a NULL uri is 22004');
SELECT lives_ok($$SELECT mosta.check_uri('postgres', 'postgresql://u@h:5432/d?sslmode=require')$$,
                'check_uri accepts a good postgres URI');
SELECT lives_ok($$SELECT mosta.check_uri('mongodb', 'mongodb+srv://u:p@cluster0.example.com/app')$$,
                'check_uri accepts a good mongodb+srv URI');
SELECT is(pg_temp.error_of($$SELECT mosta.resolve_collection('nothing_t')$$),
          ARRAY['55000', 'table "public.nothing_t" has REPLICA IDENTITY NOTHING',
                'Changes are applied on targets by key, so updates and deletes of this table could not be replicated.',
                'Add a primary key (ALTER TABLE public.nothing_t ADD PRIMARY KEY (...)), '
                'or run ALTER TABLE public.nothing_t REPLICA IDENTITY FULL.'],
          'resolve_collection: a PgError carries SQLSTATE, message, detail and hint');
SELECT is(pg_temp.error_of($$SELECT mosta.resolve_collection('missing_t')$$),
          ARRAY['42P01', 'relation "missing_t" does not exist', '',
                'Create the table first, or schema-qualify its name: '
                'collections are resolved with the current search_path.'],
          'resolve_collection: a missing table is 42P01 with a hint and no detail');
SELECT throws_ok($$SELECT mosta.resolve_collection(NULL)$$, '22004', 'collection name must not be null',
                 'resolve_collection: NULL is 22004');
SELECT throws_ok($$SELECT mosta.resolve_collection('')$$, '22023', 'collection name must not be empty',
                 'resolve_collection: an empty name is 22023');
SELECT throws_ok($$SELECT mosta.resolve_collection('"ünïcødé"')$$, '42P01',
                 'relation ""ünïcødé"" does not exist',
                 'resolve_collection: a non-ASCII name comes back intact in the message');
SELECT is(mosta.resolve_collection('ok_t'), 'public.ok_t', 'the session works after those PgErrors');

------------------------------------------------------------------------------
-- PostgreSQL error inside C++ (PgCall) → the same ERROR
------------------------------------------------------------------------------
SELECT is(pg_temp.error_of($$SELECT mosta.resolve_collection('"unterminated')$$),
          ARRAY['42602', 'invalid collection name ""unterminated"', 'invalid name syntax',
                'Write names as in SQL: schema.table, with double quotes around names that are not lower-case identifiers, e.g. ARRAY[''"Mixed Case"''].'],
          'a PostgreSQL error in PgCall reaches C++ as a PgError: SQLSTATE 42602 kept, its message as detail');
SELECT is(mosta.resolve_collection('public.ok_t'), 'public.ok_t', 'the session works after a PgCall error');
SELECT is((pg_temp.error_of($$SELECT mosta.resolve_collection('a.b.c.d')$$))[1:3],
          ARRAY['42601', 'invalid collection name "a.b.c.d"', 'improper relation name (too many dotted names): a.b.c.d'],
          'an improper qualified name keeps PostgreSQL''s 42601, its message as detail');
SELECT is(mosta.resolve_collection('ok_t'), 'public.ok_t', 'the session works after the 42601');
SELECT throws_ok($$SELECT mosta.resolve_collection('otherdb.public.ok_t')$$, '0A000',
                 'cross-database references are not implemented: "otherdb.public.ok_t"',
                 'a cross-database name keeps PostgreSQL''s 0A000 and message');
SELECT is(mosta.resolve_collection(current_database() || '.public.ok_t'), 'public.ok_t',
          'a name qualified with the current database resolves');
SELECT is(pg_temp.errors_caught($$SELECT mosta.resolve_collection('a.b.c.d')$$, 500), 500,
          '500 PgCall errors in a row are each caught');
SELECT is(pg_temp.errors_caught($$SELECT mosta.check_uri('postgres', 'mysql://x')$$, 500), 500,
          '500 PgErrors in a row are each caught');
SELECT is(pg_temp.errors_caught($$SELECT mosta.resolve_collection('ok_t')$$, 100), 0,
          'after them, 100 good calls raise nothing');
SELECT is(mosta.resolve_collection('ok_t'), 'public.ok_t', 'and a good call still returns the right value');
SELECT mosta_add_replica('p', 'm', 'master', 'sqlite', 'p.db');
SELECT throws_ok($$SELECT mosta_add_rule('r', 'p', 'p', 'cdc', ARRAY['a.b.c.d'])$$, '42601',
                 'invalid collection name "a.b.c.d"',
                 'the PgCall error comes back through the SQL API with its SQLSTATE');

------------------------------------------------------------------------------
-- the other C++ helpers
------------------------------------------------------------------------------
SELECT is(mosta.mask_uri(NULL), NULL, 'mosta.mask_uri(NULL) is NULL');
SELECT is(mosta.mask_uri(''), '', 'mosta.mask_uri('''') is empty');
SELECT is(mosta.mask_uri('postgresql://u:p@h/d'), 'postgresql://u:***@h/d', 'mosta.mask_uri masks a password');
SELECT is(mosta.mask_uri('/var/export/app.jsonl'), '/var/export/app.jsonl', 'mosta.mask_uri leaves a path alone');
SELECT is(mosta.round_robin_tick() + 1, mosta.round_robin_tick(), 'round_robin_tick counts up by one per call');
SET LOCAL mostajs.status_max_age = '1min';
SELECT is(mosta.status_max_age_ms(), 60000, 'status_max_age_ms reads mostajs.status_max_age in ms (1min)');
SET LOCAL mostajs.status_max_age = 250;
SELECT is(mosta.status_max_age_ms(), 250, 'a unitless mostajs.status_max_age is in ms');
SELECT throws_ok($$SET LOCAL mostajs.status_max_age = -1$$, '22023', NULL,
                 'a negative mostajs.status_max_age is refused');
SELECT is(mosta.status_max_age_ms(), 250, 'the refused setting left the previous value');
SELECT throws_ok($$SET LOCAL mostajs.no_such_setting = 1$$, '42602',
                 'invalid configuration parameter name "mostajs.no_such_setting"',
                 'the mostajs. prefix is reserved');

SELECT * FROM finish();
ROLLBACK;
