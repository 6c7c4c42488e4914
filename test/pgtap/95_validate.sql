-- 95_validate.sql: mosta_validate_rule (the compatibility report for SQLite, MongoDB and SQL dump targets) and the NOTICE
-- mosta_add_rule raises with its counts (mosta._validation_summary).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(65);

\ir support/helpers.psql

-- issue_of returns the issue text of the one report row of rule for (target, severity, collection, column), or
-- NULL when there is none; column NULL matches table-level rows.
CREATE FUNCTION pg_temp.issue_of(rule text, tgt text, sev text, coll text, col text) RETURNS text
	LANGUAGE sql AS $$
	SELECT string_agg(r.issue, ' | ') FROM mosta_validate_rule(rule) r
	 WHERE r.target = tgt AND r.severity = sev AND r.collection = coll AND r."column" IS NOT DISTINCT FROM col
$$;

-- rows_of returns how many report rows rule has for target.
CREATE FUNCTION pg_temp.rows_of(rule text, tgt text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM mosta_validate_rule(rule) r WHERE r.target = tgt
$$;

SET LOCAL client_min_messages = warning;
SELECT mosta_add_replica('app', 'pg', 'master', 'postgres', 'postgresql://db1/app');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', 'mongodb://h/app');
SELECT mosta_add_replica('wh', 'pgw', 'master', 'postgres', 'postgresql://db2/wh');

CREATE SCHEMA v;
CREATE TABLE v.types (
	id int PRIMARY KEY, big numeric(40,2), small numeric(10,2), n numeric, ts timestamptz, ts3 timestamptz(3),
	lts timestamp, u uuid, j jsonb, nums numeric(40,2)[], tags text[], r real, d date, b boolean, label text,
	raw bytea, i8 bigint, twice int GENERATED ALWAYS AS (id * 2) STORED);
CREATE TABLE v.names (id int PRIMARY KEY, "a.b" int, "$x" int, "X" int, x int, _id int);
CREATE TABLE v.keyless (a int, b text);
ALTER TABLE v.keyless REPLICA IDENTITY FULL;
CREATE TABLE v.shadow (rowid int, "_ROWID_" int, oid int);
ALTER TABLE v.shadow REPLICA IDENTITY FULL;
CREATE TABLE v.comp (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE v.own_id (_id int PRIMARY KEY, x int);
CREATE TABLE v."Case" (id int PRIMARY KEY);
CREATE TABLE v."case" (id int PRIMARY KEY);
CREATE TABLE v.nokey (id int);
CREATE SCHEMA sqlite_s;
CREATE TABLE sqlite_s.t (id int PRIMARY KEY);
CREATE TABLE v.doomed (id int PRIMARY KEY);
CREATE TABLE v.t (id int PRIMARY KEY);
CREATE TABLE public."v.t" (id int PRIMARY KEY);
CREATE TABLE public."system.x" (id int PRIMARY KEY);
CREATE TABLE v."a$b" (id int PRIMARY KEY);
CREATE TABLE v.parted (id int, r text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE v.parted_a PARTITION OF v.parted FOR VALUES IN ('a');

SELECT lives_ok($$SELECT mosta_add_rule('types', 'app', 'app', 'cdc', ARRAY['v.types'])$$,
                'mosta_add_rule succeeds for a rule with issues (it only raises a NOTICE)');
SELECT mosta_add_rule('names', 'app', 'app', 'cdc', ARRAY['v.names']);
SELECT mosta_add_rule('keyless', 'app', 'app', 'cdc', ARRAY['v.keyless', 'v.shadow']);
SELECT mosta_add_rule('comp', 'app', 'app', 'cdc', ARRAY['v.comp', 'v.own_id']);
SELECT mosta_add_rule('cases', 'app', 'app', 'cdc', ARRAY['v."Case"', 'v.case']);
SELECT mosta_add_rule('reserved', 'app', 'app', 'cdc', ARRAY['sqlite_s.t']);
SELECT mosta_add_rule('mcoll', 'app', 'app', 'cdc', ARRAY['v.t', 'public."v.t"', 'public."system.x"', 'v."a$b"']);
SELECT mosta_add_rule('star', 'app', 'app', 'cdc', ARRAY['*']);
SELECT mosta_add_rule('topg', 'app', 'wh', 'cdc', ARRAY['v.types']);
SELECT mosta_add_rule('doomed', 'app', 'app', 'cdc', ARRAY['v.doomed']);
SELECT mosta_add_rule('parted', 'app', 'app', 'cdc', ARRAY['v.parted', 'v.parted_a']);
DROP TABLE v.doomed;
RESET client_min_messages;

------------------------------------------------------------------------------
-- the function
------------------------------------------------------------------------------
SELECT function_returns('public', 'mosta_validate_rule', ARRAY['text'], 'setof record',
                        'mosta_validate_rule(text) returns a set of rows');
SELECT is((SELECT array_agg(a ORDER BY n) FROM pg_proc p, unnest(p.proargnames) WITH ORDINALITY x(a, n)
            WHERE p.oid = 'mosta_validate_rule(text)'::regprocedure),
          ARRAY['rule', 'target', 'severity', 'collection', 'column', 'issue']::text[],
          'its output columns are target, severity, collection, column, issue');

------------------------------------------------------------------------------
-- MongoDB
------------------------------------------------------------------------------
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'big'), '%numeric(40,2)%34 significant digits%strings',
            'numeric(40,2) for MongoDB: a Decimal128 overflow warning');
SELECT is(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'small'), NULL,
          'numeric(10,2) for MongoDB: nothing (it fits Decimal128)');
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'n'), 'numeric without a precision%',
            'unconstrained numeric for MongoDB: a warning');
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'ts'), '%millisecond precision%',
            'timestamptz for MongoDB: a millisecond precision warning');
SELECT is(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'ts3'), NULL,
          'timestamptz(3) for MongoDB: no precision warning');
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'lts'), '%millisecond%stored as UTC%',
            'timestamp for MongoDB: precision and UTC in one warning');
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'nums'), 'array of numeric(40,2)%',
            'an array of numeric(40,2) for MongoDB: the element warning');
SELECT is(pg_temp.issue_of('types', 'mongo', 'info', 'v.types', 'u'), 'uuid stored as binary subtype 4 (UUID)',
          'uuid for MongoDB: info');
SELECT is(pg_temp.issue_of('types', 'mongo', 'info', 'v.types', 'r'), 'real (4-byte float) widened to a double',
          'real for MongoDB: info');
SELECT is((SELECT count(*) FROM mosta_validate_rule('types') r
            WHERE r.target = 'mongo' AND r."column" IN ('id', 'tags', 'b', 'label', 'raw', 'i8')), 0::bigint,
          'int, text[], boolean, text, bytea and bigint for MongoDB: nothing');
SELECT alike(pg_temp.issue_of('types', 'mongo', 'warning', 'v.types', 'j'), 'jsonb stored as embedded documents%double%',
             'jsonb for MongoDB: a warning (its numbers become doubles)');
SELECT is(pg_temp.issue_of('types', 'mongo', 'info', 'v.types', 'twice'),
          'generated column: left out of change documents, so not replicated', 'a generated column: info');
SELECT is(pg_temp.issue_of('names', 'mongo', 'warning', 'v.names', 'a.b'),
          'field name contains ".": stored as "a' || U&'\FF0E' || 'b" (each "." becomes U+FF0E)',
            'a field named "a.b" for MongoDB: a warning');
SELECT alike(pg_temp.issue_of('names', 'mongo', 'warning', 'v.names', '$x'), 'field name starts with "$":%',
            'a field named "$x" for MongoDB: a warning');
SELECT alike(pg_temp.issue_of('names', 'mongo', 'error', 'v.names', '_id'), '%not the one key column%',
             'a non-key column named _id for MongoDB: an error (the sink refuses it)');
SELECT is(pg_temp.rows_of('comp', 'mongo'), 1::bigint, 'a key named _id for MongoDB: nothing');
SELECT is(pg_temp.issue_of('comp', 'mongo', 'info', 'v.comp', NULL),
          'composite key (a, b): _id is an embedded document {a, b}', 'a composite key for MongoDB: info');
SELECT alike(pg_temp.issue_of('keyless', 'mongo', 'error', 'v.keyless', NULL),
             'no primary key (REPLICA IDENTITY FULL only): its documents have no natural _id%',
             'a keyless table for MongoDB: an error (the sink refuses it)');
SELECT is(pg_temp.issue_of('mcoll', 'mongo', 'error', 'v.t', NULL),
          'tables v.t and public."v.t" both go to the MongoDB collection "v.t"',
          'two tables named alike as MongoDB collections: an error');
SELECT is(pg_temp.issue_of('mcoll', 'mongo', 'error', 'public."system.x"', NULL),
          'MongoDB reserves collection names starting with "system.": "system.x"', 'a system. collection: an error');
SELECT is(pg_temp.issue_of('mcoll', 'mongo', 'error', 'v."a$b"', NULL),
          'MongoDB rejects "$" in collection names: "v.a$b"', 'a collection name with "$": an error');
SELECT is(pg_temp.rows_of('mcoll', 'lite'), 0::bigint, 'those names are fine for SQLite');

------------------------------------------------------------------------------
-- SQLite
------------------------------------------------------------------------------
SELECT alike(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'small'), 'numeric stored as TEXT (exact)%',
            'numeric for SQLite: stored as TEXT, info');
SELECT alike(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'ts'),
            'timestamp with time zone stored as TEXT%sorted as text%', 'timestamptz for SQLite: text sorting, info');
SELECT is(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'u'),
          'uuid stored as TEXT (36 characters), not as a 16-byte BLOB', 'uuid for SQLite: info');
SELECT is(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'j'), 'jsonb stored as TEXT holding the JSON text',
          'jsonb for SQLite: info');
SELECT is(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'tags'), 'array stored as TEXT holding a JSON array',
          'an array for SQLite: info');
SELECT alike(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'r'), 'real (4-byte float) widened to REAL%',
            'real for SQLite: widened, info');
SELECT is(pg_temp.issue_of('types', 'lite', 'info', 'v.types', 'b'), 'boolean stored as INTEGER 0/1',
          'boolean for SQLite: info');
SELECT is((SELECT count(*) FROM mosta_validate_rule('types') r
            WHERE r.target = 'lite' AND r."column" IN ('id', 'label', 'raw', 'i8')), 0::bigint,
          'int, text, bytea and bigint for SQLite: nothing');
SELECT is((SELECT count(*) FROM mosta_validate_rule('types') r WHERE r.target = 'lite' AND r.severity <> 'info'),
          0::bigint, 'type mapping notes for SQLite are all info');
SELECT alike(pg_temp.issue_of('names', 'lite', 'error', 'v.names', 'x'),
            'column "X" and column "x" differ only by case%', 'columns that differ by case for SQLite: an error');
SELECT is(pg_temp.rows_of('names', 'lite'), 1::bigint, 'names with "." or "$" are fine for SQLite');
SELECT alike(pg_temp.issue_of('cases', 'lite', 'error', 'v."Case"', NULL),
            'SQLite tables "v.Case" and "v.case" differ only by case%', 'tables that differ by case for SQLite: an error');
SELECT is(pg_temp.rows_of('cases', 'lite'), 2::bigint, 'the collision is reported on both tables');
SELECT is(pg_temp.rows_of('cases', 'mongo'), 0::bigint, 'tables that differ by case are fine for MongoDB');
SELECT alike(pg_temp.issue_of('reserved', 'lite', 'error', 'sqlite_s.t', NULL),
            'SQLite reserves names starting with "sqlite_": table "sqlite_s.t" cannot be created',
            'a schema named sqlite_...: an error for SQLite');
SELECT alike(pg_temp.issue_of('keyless', 'lite', 'warning', 'v.keyless', NULL),
            'no primary key (REPLICA IDENTITY FULL)%checkpoint skip%', 'a keyless table for SQLite: a warning');
SELECT alike(pg_temp.issue_of('keyless', 'lite', 'error', 'v.shadow', NULL), '%shadow rowid, _rowid_ and oid%',
            'a keyless table whose columns shadow every rowid alias: an error for SQLite');

------------------------------------------------------------------------------
-- order, coverage, targets
------------------------------------------------------------------------------
SELECT results_eq($$SELECT target, severity, collection, "column" FROM mosta_validate_rule('names')$$,
                  $$VALUES ('lite', 'error', 'v.names', 'x'),
                           ('mongo', 'warning', 'v.names', '$x'), ('mongo', 'error', 'v.names', '_id'),
                           ('mongo', 'warning', 'v.names', 'a.b')$$,
                  'rows are ordered by target, collection, column (table rows first), severity, issue');
SELECT ok(EXISTS (SELECT 1 FROM mosta_validate_rule('star') r WHERE r.collection = 'v.keyless')
          AND NOT EXISTS (SELECT 1 FROM mosta_validate_rule('star') r WHERE r.collection = 'v.nokey'),
          'a * rule checks the tables * covers (a key or REPLICA IDENTITY FULL)');
SELECT is((SELECT count(*) FROM mosta_validate_rule('star')),
          (SELECT sum(pg_temp.rows_of(x, t))
             FROM unnest(ARRAY['types', 'names', 'keyless', 'comp', 'reserved', 'cases', 'mcoll']) x,
                  unnest(ARRAY['lite', 'mongo']) t)::bigint
          + (SELECT count(*) FROM mosta_validate_rule('parted') r WHERE r.collection = 'v.parted'),
          'a * rule reports what the rules naming each table report');
SELECT is(pg_temp.issue_of('doomed', 'lite', 'error', 'v.doomed', NULL), 'table does not exist any more',
          'a named table dropped since: an error');
SELECT is_empty($$SELECT * FROM mosta_validate_rule('topg')$$, 'a rule whose targets are postgres reports nothing');

------------------------------------------------------------------------------
-- the NOTICE of mosta_add_rule
------------------------------------------------------------------------------
SELECT is(mosta._validation_summary('types'),
          format('rule "types": %s compatibility issues found (0 errors, %s warnings), %s notes',
                 (SELECT count(*) FROM mosta_validate_rule('types') WHERE severity <> 'info'),
                 (SELECT count(*) FROM mosta_validate_rule('types') WHERE severity = 'warning'),
                 (SELECT count(*) FROM mosta_validate_rule('types') WHERE severity = 'info')),
          'the NOTICE text counts warnings and errors as issues, info rows as notes');
SELECT is(mosta._validation_summary('reserved'),
          'rule "reserved": 1 compatibility issue found (1 error, 0 warnings)', 'the NOTICE text, singular');
SELECT is(mosta._validation_summary('topg'), NULL, 'no NOTICE for a rule without SQLite or MongoDB targets');
SELECT mosta_add_replica('wh', 'docs', 'slave', 'mongodb', 'mongodb://h/wh');
SELECT alike(mosta._validation_summary('topg'), 'rule "topg": %',
            'once the target project has a MongoDB replica, the rule gets a report');

------------------------------------------------------------------------------
-- partitioned tables: replicated as their root
------------------------------------------------------------------------------
SELECT alike((SELECT string_agg(r.issue, '; ') FROM mosta_validate_rule('parted') r
               WHERE r.collection = 'v.parted' AND r.severity = 'info'),
            '%partitioned table: replicated as its root, one target table%',
            'a partitioned table named in a rule: info, replicated as its root');
SELECT alike((SELECT string_agg(r.issue, '; ') FROM mosta_validate_rule('parted') r
               WHERE r.collection = 'v.parted_a' AND r.severity = 'error'),
            'partition of v.parted: %name v.parted instead',
            'a partition named on its own: an error naming its root');
SELECT ok(EXISTS (SELECT 1 FROM mosta_validate_rule('star') r WHERE r.collection = 'v.parted')
          AND NOT EXISTS (SELECT 1 FROM mosta_validate_rule('star') r WHERE r.collection = 'v.parted_a'),
          'a ''*'' rule covers the partitioned root, not its partitions (as the sidecar copies it)');
------------------------------------------------------------------------------
-- SQL dump: the user types it creates, and what it cannot create
------------------------------------------------------------------------------
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
CREATE SCHEMA d;
CREATE TYPE d.mood AS ENUM ('a', 'b');
CREATE DOMAIN d.pos AS int CHECK (VALUE > 0);
ALTER DOMAIN d.pos ADD CONSTRAINT pos_small CHECK (VALUE < 10) NOT VALID;
CREATE TYPE d.pair AS (m d.mood, p d.pos);
CREATE TABLE d.holder (x int);
CREATE TABLE d.typed (id int PRIMARY KEY, m d.mood[], pr d.pair, h d.holder, c public.citext);
SELECT mosta_add_replica('bk', 'dumpfile', 'slave', 'sqldump', 'bk.sql');
SELECT mosta_add_rule('typed', 'app', 'bk', 'cdc', ARRAY['d.typed']);
RESET client_min_messages;
SELECT is((SELECT string_agg(DISTINCT target, ',') FROM mosta_validate_rule('typed')), 'dumpfile',
          'a rule whose target project has a sqldump replica gets a report for it');
SELECT is(pg_temp.issue_of('typed', 'dumpfile', 'info', 'd.typed', NULL),
          'the dump creates composite type d.pair before the table | the dump creates domain type d.pos before the '
          'table | the dump creates enum type d.mood before the table',
          'the types the dump creates, dependencies included (an array''s element, a composite''s attributes): info');
SELECT alike(pg_temp.issue_of('typed', 'dumpfile', 'warning', 'd.typed', NULL),
             '%type public.citext belongs to extension citext: the dump does not create it; run CREATE EXTENSION '
             'citext in the target database before replaying the dump%',
             'an extension''s type: a warning naming the CREATE EXTENSION the target database needs');
SELECT alike(pg_temp.issue_of('typed', 'dumpfile', 'warning', 'd.typed', NULL),
             '%type d.holder cannot be created by the dump (the row type of table d.holder): create it in the '
             'target database before replaying the dump%',
             'a type the dump cannot create: a warning saying why');
SELECT alike(pg_temp.issue_of('typed', 'dumpfile', 'warning', 'd.typed', NULL),
             '%constraint pos_small of domain d.pos is left out of the dump: it is NOT VALID in the source%',
             'a NOT VALID domain constraint the dump leaves out: a warning');
SELECT is((SELECT count(*) FROM mosta_validate_rule('typed') WHERE severity = 'warning'), 3::bigint,
          'nothing else is a warning (the validated CHECK of d.pos is created)');
SELECT alike(mosta._validation_summary('typed'), 'rule "typed": %3 warning%',
             'a rule with only a sqldump target gets the NOTICE too');

------------------------------------------------------------------------------
-- errors and privileges
------------------------------------------------------------------------------
SELECT is(pg_temp.error_of($$SELECT * FROM mosta_validate_rule('nope')$$),
          ARRAY['42704', 'rule "nope" does not exist', '', 'See SELECT * FROM mosta_rules() for the declared rules.'],
          'an unknown rule: 42704 with a hint');
SELECT is((pg_temp.error_of($$SELECT * FROM mosta_validate_rule(NULL)$$))[1], '22004', 'a NULL rule: 22004');
CREATE ROLE mosta_test_v_user;
CREATE ROLE mosta_test_v_admin;
GRANT mosta_admin TO mosta_test_v_admin;
SELECT is(pg_temp.sqlstate_as('mosta_test_v_user', $$SELECT * FROM mosta_validate_rule('types')$$), '42501',
          'PUBLIC cannot run mosta_validate_rule');
SELECT is(pg_temp.value_as('mosta_test_v_admin', $$SELECT count(*) FROM mosta_validate_rule('types')$$),
          (SELECT count(*) FROM mosta_validate_rule('types'))::text,
          'mosta_admin runs mosta_validate_rule, on tables it cannot read');

SELECT * FROM finish();
ROLLBACK;
