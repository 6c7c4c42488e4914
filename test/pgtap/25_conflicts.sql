-- 25_conflicts.sql: conflicts of bidirectional rules (sql/parts/70_conflicts.sql): mosta._record_conflict
-- (the stored row, idempotence, the counter in mosta.rule_stats, the bound per rule, every refused document),
-- mosta_conflicts, mosta_purge_conflicts, the count in mosta_rules() and mosta_topology(), and who may do what.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(129);

\ir support/helpers.psql

-- conflict returns a well-formed conflict document, with the keys of changes replaced.
CREATE FUNCTION pg_temp.conflict(changes jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
	SELECT '{"kind": "update_differs", "incoming_side": "target", "schema": "public", "table": "users",
	         "key": {"id": 1}, "local": {"id": 1, "name": "on source"}, "incoming": {"id": 1, "name": "on target"},
	         "local_time": "2026-12-07T15:00:00.25Z", "incoming_time": "2026-12-07 16:00:01+01",
	         "incoming_lsn": "0/16B3748", "change_index": 3, "decision": "applied"}'::jsonb || changes
$$;
-- without returns the well-formed document without one key
CREATE FUNCTION pg_temp.without(key text) RETURNS jsonb LANGUAGE sql AS $$ SELECT pg_temp.conflict() - key $$;
-- record calls mosta._record_conflict for rule bi and replica lite
CREATE FUNCTION pg_temp.record(doc jsonb, rule text DEFAULT 'bi', replica text DEFAULT 'lite') RETURNS boolean
	LANGUAGE sql AS $$ SELECT mosta._record_conflict(rule, replica, doc) $$;
CREATE FUNCTION pg_temp.counter(rule text) RETURNS bigint LANGUAGE sql AS $$
	SELECT conflicts FROM mosta.rule_stats WHERE rule_stats.rule = counter.rule
$$;

SELECT mosta_add_replica('src', 'primary', 'master', 'postgres', 'postgresql://db1/src');
SELECT mosta_add_replica('dst', 'primary', 'master', 'postgres', 'postgresql://db2/dst');
SELECT mosta_add_replica('dst', 'lite', 'slave', 'sqlite', 'dst.db');
CREATE TABLE public.users (id int PRIMARY KEY, name text);
SELECT mosta_add_rule('bi', 'src', 'dst', 'bidirectional', ARRAY['users'], 'error');
SELECT mosta_add_rule('other', 'src', 'dst', 'bidirectional', ARRAY['users']);

------------------------------------------------------------------------------
-- the table
------------------------------------------------------------------------------
SELECT has_table('mosta', 'conflicts', 'table mosta.conflicts exists');
SELECT col_is_pk('mosta', 'conflicts', 'id', 'mosta.conflicts is keyed by id');
SELECT col_is_unique('mosta', 'conflicts', ARRAY['rule', 'replica', 'incoming_side', 'incoming_lsn', 'change_index'],
                     'a conflict is unique by (rule, replica, incoming_side, incoming_lsn, change_index)');
SELECT fk_ok('mosta', 'conflicts', 'rule', 'mosta', 'rules', 'name', 'mosta.conflicts.rule references mosta.rules');
SELECT col_type_is('mosta', 'conflicts', c, t, format('conflicts.%s is %s', c, t))
  FROM (VALUES ('key', 'jsonb'), ('local_row', 'jsonb'), ('incoming_row', 'jsonb'),
               ('local_time', 'timestamp with time zone'), ('incoming_time', 'timestamp with time zone'),
               ('incoming_lsn', 'pg_lsn'), ('change_index', 'integer'), ('recorded_at', 'timestamp with time zone'))
       AS v(c, t);
SELECT col_type_is('mosta', 'rule_stats', 'conflicts', 'bigint', 'rule_stats.conflicts is bigint');
SELECT col_default_is('mosta', 'rule_stats', 'conflicts', '0', 'rule_stats.conflicts defaults to 0');

------------------------------------------------------------------------------
-- recording
------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM mosta.rule_stats WHERE rule = 'bi'), 0::bigint,
          'rule bi has no mosta.rule_stats row yet');
SELECT is(pg_temp.record(pg_temp.conflict()), true, 'a new conflict is recorded: true');
SELECT row_eq($$SELECT rule::text, replica::text, kind, incoming_side, schema_name, table_name, key, local_row,
                       incoming_row, local_time, incoming_time, incoming_lsn, change_index, decision,
                       recorded_at = now()
                  FROM mosta.conflicts$$,
              ROW('bi'::text, 'lite'::text, 'update_differs'::text, 'target'::text, 'public'::text, 'users'::text,
                  '{"id": 1}'::jsonb, '{"id": 1, "name": "on source"}'::jsonb, '{"id": 1, "name": "on target"}'::jsonb,
                  '2026-12-07 15:00:00.25+00'::timestamptz, '2026-12-07 15:00:01+00'::timestamptz,
                  '0/16B3748'::pg_lsn, 3, 'applied'::text, true),
              'every key of the document lands in its column, times as instants');
SELECT row_eq($$SELECT status, conflicts, snapshot_rows FROM mosta.rule_stats WHERE rule = 'bi'$$,
              ROW('pending'::text, 1::bigint, 0::bigint),
              'the first conflict creates the rule''s mosta.rule_stats row (pending) with conflicts 1');
SELECT is(pg_temp.record(pg_temp.conflict()), false, 'the same conflict again (a replay) returns false');
SELECT is(pg_temp.record(pg_temp.conflict('{"decision": "kept", "local": {"id": 1, "name": "x"}}')), false,
          'a replay is known by rule, replica, side, LSN and change index, whatever else it says');
SELECT is((SELECT count(*) FROM mosta.conflicts), 1::bigint, 'a replay adds no row');
SELECT is((SELECT decision FROM mosta.conflicts), 'applied', 'a replay changes no recorded decision but error');
SELECT is(pg_temp.counter('bi'), 1::bigint, 'a replay is not counted');

SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 4}')), true, 'another change of the transaction is new');
SELECT is(pg_temp.record(pg_temp.conflict('{"incoming_side": "source"}')), true,
          'the same position on the other side is new');
SELECT is(pg_temp.record(pg_temp.conflict('{"incoming_lsn": "0/16B3750"}')), true, 'another transaction is new');
SELECT is(pg_temp.record(pg_temp.conflict(), 'bi', 'primary'), true, 'the same position of another replica is new');
SELECT is(pg_temp.record(pg_temp.conflict(), 'other'), true, 'the same position of another rule is new');
SELECT is(pg_temp.counter('bi'), 5::bigint, 'each new conflict counts once');
SELECT is(pg_temp.counter('other'), 1::bigint, 'each rule has its own counter');

-- the sidecar's status upsert (sidecar/src/app/catalog.cpp, RuleStatsSql) leaves the counter
INSERT INTO mosta.rule_stats AS s (rule, status, snapshot_rows, changes_applied, transactions, updated_at)
VALUES ('bi', 'streaming', 7, 8, 9, now())
ON CONFLICT (rule) DO UPDATE SET status = EXCLUDED.status, snapshot_rows = EXCLUDED.snapshot_rows,
	changes_applied = EXCLUDED.changes_applied, transactions = EXCLUDED.transactions, updated_at = now();
SELECT row_eq($$SELECT status, changes_applied, conflicts FROM mosta.rule_stats WHERE rule = 'bi'$$,
              ROW('streaming'::text, 8::bigint, 5::bigint), 'the sidecar''s status upsert keeps the counter');
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 5}')), true, 'a conflict after the sidecar''s upsert');
SELECT row_eq($$SELECT status, changes_applied, conflicts FROM mosta.rule_stats WHERE rule = 'bi'$$,
              ROW('streaming'::text, 8::bigint, 6::bigint),
              'recording counts in the existing row and leaves the sidecar''s columns');

-- policy error: the target stops and retries; the retry after the policy changed records the final decision
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 9, "decision": "error"}')), true,
          'a conflict that stopped the target (decision error) is recorded');
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 9, "decision": "error"}')), false,
          'its retries under the same policy are replays');
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 9, "decision": "kept"}')), false,
          'the retry under a new policy is a replay too');
SELECT is((SELECT decision FROM mosta.conflicts WHERE change_index = 9), 'kept',
          'and the recorded decision becomes the one that resolved it');
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 9, "decision": "error"}')), false, 'a later replay');
SELECT is((SELECT decision FROM mosta.conflicts WHERE change_index = 9), 'kept',
          'never turns a resolved conflict back into error');
SELECT is(pg_temp.counter('bi'), 7::bigint, 'the conflict counted once through all that');

-- nulls where the document allows them
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 10, "kind": "update_missing", "local": null,
                                            "local_time": null, "incoming_time": null}')), true,
          'update_missing with no local row and unknown times is recorded');
SELECT row_eq($$SELECT kind, local_row, local_time, incoming_time FROM mosta.conflicts WHERE change_index = 10$$,
              ROW('update_missing'::text, NULL::jsonb, NULL::timestamptz, NULL::timestamptz),
              'JSON null becomes SQL NULL for local, local_time and incoming_time');
SELECT is(pg_temp.record(pg_temp.conflict(format('{"change_index": %s, "kind": "%s", "decision": "%s"}',
                                                 10 + n, kind, decision)::jsonb)), true,
          format('kind %s with decision %s is recorded', kind, decision))
  FROM (VALUES (1, 'insert_exists', 'kept'), (2, 'delete_differs', 'error'), (3, 'update_differs', 'applied'))
       AS v(n, kind, decision);
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 2147483647, "incoming_lsn": "FFFFFFFF/FFFFFFFF"}')),
          true, 'the largest change index and LSN are recorded');

------------------------------------------------------------------------------
-- mosta_rules(), mosta_topology(), mosta_conflicts()
------------------------------------------------------------------------------
SELECT results_eq($$SELECT name, conflicts FROM mosta_rules()$$, $$VALUES ('bi', 12::bigint), ('other', 1::bigint)$$,
                  'mosta_rules() shows each rule''s conflicts in its last column');
SELECT is((SELECT (array_agg(a ORDER BY n))[cardinality(array_agg(a))]
             FROM unnest((SELECT proargnames FROM pg_proc WHERE oid = 'mosta_rules()'::regprocedure))
                  WITH ORDINALITY u(a, n)),
          'conflicts', 'conflicts is the last column of mosta_rules()');
SELECT is((SELECT jsonb_object_agg(r->>'name', r #> '{stats,conflicts}')
             FROM jsonb_array_elements(mosta_topology()->'rules') r),
          '{"bi": 12, "other": 1}'::jsonb, 'the topology shows each rule''s stats.conflicts');
SELECT is((SELECT count(*) FROM mosta_conflicts('bi')), 12::bigint, 'mosta_conflicts(rule) lists the rule''s conflicts');
SELECT is((SELECT count(*) FROM mosta_conflicts()), 13::bigint, 'mosta_conflicts() lists every rule''s');
SELECT is((SELECT array_agg(id) FROM mosta_conflicts('bi')),
          (SELECT array_agg(id ORDER BY id DESC) FROM mosta.conflicts WHERE rule = 'bi'),
          'newest first (one transaction: by recording order)');
UPDATE mosta.conflicts SET recorded_at = now() - interval '2 days' WHERE rule = 'bi' AND change_index = 2147483647;
SELECT is((SELECT change_index FROM mosta_conflicts('bi') ORDER BY recorded_at LIMIT 1), 2147483647,
          'the oldest conflict by time');
SELECT is((SELECT id FROM mosta_conflicts('bi') OFFSET 11),
          (SELECT id FROM mosta.conflicts WHERE change_index = 2147483647),
          'is listed last');
SELECT row_eq($$SELECT rule, replica, kind, incoming_side, schema_name, table_name, key, local_row, incoming_row,
                       incoming_lsn, change_index, decision
                  FROM mosta_conflicts('other')$$,
              ROW('other'::text, 'lite'::text, 'update_differs'::text, 'target'::text, 'public'::text, 'users'::text,
                  '{"id": 1}'::jsonb, '{"id": 1, "name": "on source"}'::jsonb, '{"id": 1, "name": "on target"}'::jsonb,
                  '0/16B3748'::pg_lsn, 3, 'applied'::text),
              'mosta_conflicts shows the rows as recorded, values of user tables unmasked');
SELECT is(pg_temp.error_of($$SELECT * FROM mosta_conflicts('nope')$$),
          ARRAY['42704', 'rule "nope" does not exist', '', 'See SELECT * FROM mosta_rules().'],
          'mosta_conflicts() of an unknown rule is 42704');

------------------------------------------------------------------------------
-- the bound: at most 10000 per rule, the oldest deleted
------------------------------------------------------------------------------
SELECT is(mosta._trim_conflicts('bi', 10), 2::bigint, '_trim_conflicts(rule, 10) deletes the 2 beyond the newest 10');
SELECT is((SELECT array_agg(change_index ORDER BY id) FROM mosta.conflicts WHERE rule = 'bi'),
          ARRAY[3, 3, 3, 5, 9, 10, 11, 12, 13, 2147483647],
          'the two oldest went (by recording order), the newest 10 stay');
SELECT is(mosta._trim_conflicts('bi', 10), 0::bigint, 'a rule within the bound loses nothing');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other'), 1::bigint, 'another rule''s rows are not touched');
INSERT INTO mosta.conflicts (rule, replica, kind, incoming_side, schema_name, table_name, key, incoming_row,
                             incoming_lsn, change_index, decision)
SELECT 'other', 'lite', 'update_differs', 'target', 'public', 'users', jsonb_build_object('id', g), '{}',
       ('1/' || to_hex(g))::pg_lsn, 0, 'applied'
  FROM generate_series(1, 9999) g;
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other'), 10000::bigint, 'rule other holds 10000 conflicts');
SELECT is(pg_temp.record(pg_temp.conflict('{"change_index": 1}'), 'other'), true, 'recording the 10001st');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other'), 10000::bigint, 'keeps 10000');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other' AND change_index = 3), 0::bigint,
          'the oldest one was deleted');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other' AND change_index = 1), 1::bigint,
          'the new one is kept');
SELECT is(pg_temp.counter('other'), 2::bigint, 'the counter counts recordings, not rows kept');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'bi'), 10::bigint, 'rule bi kept its 10');

------------------------------------------------------------------------------
-- mosta_purge_conflicts
------------------------------------------------------------------------------
SELECT is(mosta_purge_conflicts('bi', '1 day'), 1::bigint, 'purging older than 1 day deletes the one of 2 days ago');
SELECT is(mosta_purge_conflicts('bi', '1 day'), 0::bigint, 'and nothing more');
SELECT is(mosta_purge_conflicts('bi'), 9::bigint, 'older_than defaults to 0: every conflict of the rule');
SELECT is((SELECT count(*) FROM mosta.conflicts WHERE rule = 'other'), 10000::bigint,
          'purging a rule leaves the others');
SELECT is(pg_temp.counter('bi'), 12::bigint, 'purging leaves the rule''s counter');
SELECT row_eq($$SELECT action, project, object, detail FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('purge_conflicts'::text, 'src'::text, 'bi'::text, '{"deleted": 9, "older_than": "00:00:00"}'::jsonb),
              'a purge is logged with what it deleted');
SELECT is(mosta_purge_conflicts(), 10000::bigint, 'mosta_purge_conflicts() purges every rule');
SELECT row_eq($$SELECT action, project, object FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('purge_conflicts'::text, NULL::text, NULL::text), 'logged without a rule');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'purge_conflicts'), 3::bigint,
          'purges that delete nothing are not logged');
SELECT is(pg_temp.error_of($$SELECT mosta_purge_conflicts('nope')$$),
          ARRAY['42704', 'rule "nope" does not exist', '', 'See SELECT * FROM mosta_rules().'],
          'purging an unknown rule is 42704');
SELECT is(pg_temp.error_of($$SELECT mosta_purge_conflicts('bi', NULL)$$),
          ARRAY['22004', 'argument "older_than" must not be null', '', 'Pass a value for older_than.'],
          'older_than NULL is 22004');
SELECT is(pg_temp.error_of($$SELECT mosta_purge_conflicts(older_than => '-1 day')$$),
          ARRAY['22023', 'older_than must not be negative', '',
                'Use ''0'' to delete every recorded conflict, or e.g. ''30 days'' to keep the last 30 days.'],
          'a negative older_than is 22023');

------------------------------------------------------------------------------
-- refused calls
------------------------------------------------------------------------------
SELECT is(pg_temp.error_of($$SELECT mosta._record_conflict('nope', 'lite', pg_temp.conflict())$$),
          ARRAY['42704', 'rule "nope" does not exist', '', 'See SELECT * FROM mosta_rules().'],
          'an unknown rule is 42704');
SELECT is(pg_temp.error_of($$SELECT mosta._record_conflict('bi', 'gone', pg_temp.conflict())$$),
          ARRAY['42704', 'replica "gone" does not exist in project "dst", the target of rule "bi"', '',
                'A conflict is recorded against a replica of the rule''s target project: '
                'see SELECT * FROM mosta_replica_status(''dst'').'],
          'a replica outside the rule''s target project is 42704');
SELECT is((pg_temp.error_of(format('SELECT mosta._record_conflict(%s)', args)))[1:2],
          ARRAY['22004', format('argument "%s" must not be null', arg)], format('NULL %s is 22004', arg))
  FROM (VALUES ('rule', $$NULL, 'lite', '{}'$$), ('replica', $$'bi', NULL, '{}'$$), ('conflict', $$'bi', 'lite', NULL$$))
       AS v(arg, args);
SELECT is(pg_temp.error_of($$SELECT pg_temp.record(pg_temp.without('kind'))$$),
          ARRAY['22023', 'invalid conflict document: key "kind" is missing',
                'Every key is present; local, local_time and incoming_time are null when unknown.',
                'A conflict has exactly the keys kind, incoming_side, schema, table, key, local, incoming, '
                'local_time, incoming_time, incoming_lsn, change_index and decision (docs/sql-api.md, "Conflicts").'],
          'a missing key is 22023, naming the key, with every key in the hint');
SELECT is((pg_temp.error_of(format('SELECT pg_temp.record(%L::jsonb)', doc)))[1:3],
          ARRAY['22023', 'invalid conflict document: ' || message, detail], what)
  FROM (VALUES
	('a JSON array', '[1]', '[1] is not a JSON object', 'A conflict is a JSON object.'),
	('JSON null', 'null', 'null is not a JSON object', 'A conflict is a JSON object.'),
	('a missing local', pg_temp.without('local')::text, 'key "local" is missing',
	 'Every key is present; local, local_time and incoming_time are null when unknown.'),
	('an unknown key', pg_temp.conflict('{"incomingSide": "target"}')::text, 'unknown key "incomingSide"',
	 'A conflict has no other keys.'),
	('an unknown kind', pg_temp.conflict('{"kind": "update_exists"}')::text, 'key "kind" is "update_exists"',
	 '"kind" must be insert_exists, update_differs, update_missing or delete_differs.'),
	('a null kind', pg_temp.conflict('{"kind": null}')::text, 'key "kind" is null',
	 '"kind" must be insert_exists, update_differs, update_missing or delete_differs.'),
	('an unknown side', pg_temp.conflict('{"incoming_side": "both"}')::text, 'key "incoming_side" is "both"',
	 '"incoming_side" must be "source" or "target".'),
	('an unknown decision', pg_temp.conflict('{"decision": "skipped"}')::text, 'key "decision" is "skipped"',
	 '"decision" must be "applied", "kept" or "error".'),
	('an empty schema', pg_temp.conflict('{"schema": ""}')::text, 'key "schema" is ""',
	 '"schema" must be a non-empty string.'),
	('a table as a number', pg_temp.conflict('{"table": 5}')::text, 'key "table" is 5',
	 '"table" must be a non-empty string.'),
	('a key as an array', pg_temp.conflict('{"key": [1]}')::text, 'key "key" is [1]',
	 '"key" must be a JSON object of column names and values.'),
	('a null incoming row', pg_temp.conflict('{"incoming": null}')::text, 'key "incoming" is null',
	 '"incoming" must be a JSON object of column names and values.'),
	('a local row as a string', pg_temp.conflict('{"local": "row"}')::text, 'key "local" is "row"',
	 '"local" must be null or a JSON object of column names and values.'),
	('an unreadable time', pg_temp.conflict('{"local_time": "yesterday at noon"}')::text,
	 'key "local_time" is "yesterday at noon"',
	 '"local_time" must be null or a timestamp, e.g. "2026-12-07T15:04:05.123456Z".'),
	('an empty time', pg_temp.conflict('{"incoming_time": ""}')::text, 'key "incoming_time" is ""',
	 '"incoming_time" must be null or a timestamp, e.g. "2026-12-07T15:04:05.123456Z".'),
	('a time as a number', pg_temp.conflict('{"incoming_time": 1700000000}')::text,
	 'key "incoming_time" is 1700000000',
	 '"incoming_time" must be null or a timestamp, e.g. "2026-12-07T15:04:05.123456Z".'),
	('an LSN without a slash', pg_temp.conflict('{"incoming_lsn": "16B3748"}')::text,
	 'key "incoming_lsn" is "16B3748"', '"incoming_lsn" must be an LSN as text, e.g. "0/16B3748".'),
	('a null LSN', pg_temp.conflict('{"incoming_lsn": null}')::text,
	 'key "incoming_lsn" is null', '"incoming_lsn" must be an LSN as text, e.g. "0/16B3748".'),
	('a change index as a string', pg_temp.conflict('{"change_index": "3"}')::text, 'key "change_index" is "3"',
	 '"change_index" must be an integer from 0 to 2147483647.'),
	('a negative change index', pg_temp.conflict('{"change_index": -1}')::text, 'key "change_index" is -1',
	 '"change_index" must be an integer from 0 to 2147483647.'),
	('a fractional change index', pg_temp.conflict('{"change_index": 1.5}')::text, 'key "change_index" is 1.5',
	 '"change_index" must be an integer from 0 to 2147483647.'),
	('a change index beyond integer', pg_temp.conflict('{"change_index": 2147483648}')::text,
	 'key "change_index" is 2147483648', '"change_index" must be an integer from 0 to 2147483647.')
  ) AS v(what, doc, message, detail);
SELECT is((SELECT count(*) FROM mosta.conflicts), 0::bigint, 'the refused calls recorded nothing');

------------------------------------------------------------------------------
-- privileges: rows of user tables are data, readable by mosta_admin only
------------------------------------------------------------------------------
CREATE ROLE mosta_test_c_user LOGIN;
CREATE ROLE mosta_test_c_admin LOGIN;
GRANT mosta_admin TO mosta_test_c_admin;
CREATE ROLE mosta_test_c_sidecar LOGIN;
GRANT mosta_sidecar TO mosta_test_c_sidecar;

SELECT is(pg_temp.sqlstate_as('mosta_test_c_sidecar',
                              format('SELECT mosta._record_conflict(''bi'', ''lite'', %L)', pg_temp.conflict())),
          '00000', 'mosta_sidecar records a conflict');
SELECT is(pg_temp.counter('bi'), 13::bigint, 'and it counts');
SELECT is(pg_temp.sqlstate_as(r, sql), '42501', format('%s: %s is refused', r, what))
  FROM (VALUES
	('mosta_test_c_user', 'mosta._record_conflict', format('SELECT mosta._record_conflict(''bi'', ''lite'', %L)',
	                                                        pg_temp.conflict('{"change_index": 1}'))),
	('mosta_test_c_user', 'mosta_conflicts', 'SELECT * FROM mosta_conflicts()'),
	('mosta_test_c_user', 'mosta_purge_conflicts', 'SELECT mosta_purge_conflicts()'),
	('mosta_test_c_user', 'SELECT on mosta.conflicts', 'SELECT * FROM mosta.conflicts'),
	('mosta_test_c_user', 'mosta._trim_conflicts', 'SELECT mosta._trim_conflicts(''bi'', 0)'),
	('mosta_test_c_sidecar', 'SELECT on mosta.conflicts', 'SELECT * FROM mosta.conflicts'),
	('mosta_test_c_sidecar', 'INSERT on mosta.conflicts', 'INSERT INTO mosta.conflicts (rule) VALUES (''bi'')'),
	('mosta_test_c_sidecar', 'DELETE on mosta.conflicts', 'DELETE FROM mosta.conflicts'),
	('mosta_test_c_sidecar', 'mosta_conflicts', 'SELECT * FROM mosta_conflicts()'),
	('mosta_test_c_sidecar', 'mosta_purge_conflicts', 'SELECT mosta_purge_conflicts()'),
	('mosta_test_c_admin', 'mosta._record_conflict', format('SELECT mosta._record_conflict(''bi'', ''lite'', %L)',
	                                                         pg_temp.conflict('{"change_index": 1}'))),
	('mosta_test_c_admin', 'DELETE on mosta.conflicts', 'DELETE FROM mosta.conflicts')
  ) AS v(r, what, sql);
SELECT is(pg_temp.value_as('mosta_test_c_user', $$SELECT conflicts FROM mosta_rules() WHERE name = 'bi'$$), '13',
          'a plain role reads the count in mosta_rules()');
SELECT is(pg_temp.value_as('mosta_test_c_user', $$SELECT mosta_topology() #>> '{rules,0,stats,conflicts}'$$), '13',
          'and in mosta_topology()');
SELECT is(pg_temp.value_as('mosta_test_c_admin', $$SELECT incoming_row::text FROM mosta_conflicts('bi')$$),
          '{"id": 1, "name": "on target"}', 'an admin reads the conflicts with mosta_conflicts()');
SELECT is(pg_temp.value_as('mosta_test_c_admin', $$SELECT count(*) FROM mosta.conflicts$$), '1',
          'an admin reads mosta.conflicts');
SELECT is(pg_temp.value_as('mosta_test_c_admin', $$SELECT mosta_purge_conflicts('bi')$$), '1',
          'an admin purges');
SELECT is((SELECT count(*) FROM mosta.conflicts), 0::bigint, 'the purge took effect');

------------------------------------------------------------------------------
-- a removed rule takes its conflicts
------------------------------------------------------------------------------
SELECT pg_temp.record(pg_temp.conflict());
SELECT mosta_remove_rule('bi');
SELECT is((SELECT count(*) FROM mosta.conflicts), 0::bigint, 'removing a rule removes its conflicts');

SELECT * FROM finish();
ROLLBACK;
