-- 46_switchover.sql: mosta_switchover records a pending request for a healthy
-- PostgreSQL standby, and refuses everything else with a SQLSTATE and a hint,
-- changing nothing (no request, no activity row). The switchover itself is the
-- node agent's (test/integration/ha_switchover.sh).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(31);

\ir support/helpers.psql

-- counts returns the number of requests and of activity rows, as 'requests|activity'.
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM mosta.ha_requests) || '|' || (SELECT count(*) FROM mosta.activity)
$$;

SET LOCAL mostajs.status_max_age = '30s';
SELECT mosta_add_replica('app', 'pg1', 'master', 'postgres', 'host=db1 dbname=app password=S3cret');
SELECT mosta_add_replica('app', 's1', 'slave', 'postgres', 'host=db2 dbname=app', lag_tolerance_ms => 1000);
SELECT mosta_add_replica('app', 'quiet', 'slave', 'postgres', 'host=db3 dbname=app');
SELECT mosta_add_replica('app', 'gone', 'slave', 'postgres', 'host=db4 dbname=app');
SELECT mosta_add_replica('app', 'slow', 'slave', 'postgres', 'host=db5 dbname=app', lag_tolerance_ms => 1000);
SELECT mosta_add_replica('app', 'old', 'slave', 'postgres', 'host=db6 dbname=app');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db');
SELECT mosta_add_replica('docs', 'mongo', 'master', 'mongodb', 'mongodb://m1/docs');
SELECT mosta_add_replica('docs', 'pgdocs', 'slave', 'postgres', 'host=db7 dbname=docs');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, sync_state, last_seen) VALUES
	('app', 's1', 'up', 200, 4096, 'sync', now()),
	('app', 'gone', 'down', NULL, NULL, NULL, now()),
	('app', 'slow', 'up', 5000, 100000, 'async', now()),
	('app', 'old', 'up', 0, 0, 'async', now() - interval '1 hour'),
	('app', 'lite', 'up', 0, NULL, NULL, now()),
	('docs', 'pgdocs', 'up', 0, 0, 'async', now());
UPDATE mosta.replica_status SET last_error = 'connection refused (password=S3cret)' WHERE replica = 'gone';

SELECT has_table('mosta', 'ha_requests', 'mosta.ha_requests exists');
SELECT function_returns('public', 'mosta_switchover', ARRAY['text', 'text'], 'bigint',
                        'mosta_switchover(text, text) returns the request id');
SELECT is(pg_temp.counts(), '0|9', 'before: no request, the nine add_replica rows');

------------------------------------------------------------------------------
-- refused: nothing changes
------------------------------------------------------------------------------
SELECT throws_ok($$SELECT mosta_switchover(NULL, 's1')$$, '22004', NULL, 'a NULL project is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', NULL)$$, '22004', NULL, 'a NULL replica is refused');
SELECT throws_ok($$SELECT mosta_switchover('nope', 's1')$$, '42704', 'project "nope" does not exist',
                 'an unknown project is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', 'nope')$$, '42704', 'replica "nope" does not exist in project "app"',
                 'an unknown replica is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', 'pg1')$$, '55000',
                 'replica "pg1" is not a PostgreSQL standby of project "app"', 'the master itself is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', 'lite')$$, '55000',
                 'replica "lite" is not a PostgreSQL standby of project "app"', 'an SQLite slave is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_switchover('app', 'lite')$$))[3],
          'It is a sqlite slave; only a postgres slave (a physical standby of the master) can become the master.',
          'the detail says what the replica is');
SELECT throws_ok($$SELECT mosta_switchover('docs', 'pgdocs')$$, '55000',
                 'project "docs" has no PostgreSQL master to switch over from', 'a MongoDB master is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', 'quiet')$$, '55000',
                 'replica "quiet" is not a healthy standby: never reported', 'a standby never reported is refused');
SELECT throws_ok($$SELECT mosta_switchover('app', 'gone')$$, '55000',
                 'replica "gone" is not a healthy standby: status down: connection refused (password=***)',
                 'a down standby is refused, its error masked');
SELECT throws_ok($$SELECT mosta_switchover('app', 'slow')$$, '55000',
                 'replica "slow" is not a healthy standby: lag 5000 ms beyond its tolerance of 1000 ms',
                 'a standby beyond its lag tolerance is refused');
SELECT matches((pg_temp.error_of($$SELECT mosta_switchover('app', 'old')$$))[2],
               '^replica "old" is not a healthy standby: its last report \(.*\) is older than mostajs.status_max_age$',
               'a standby with a stale report is refused');
SELECT is((pg_temp.error_of($$SELECT mosta_switchover('app', 'slow')$$))[4],
          'Check SELECT * FROM mosta_replica_status(''app'') and that mosta-sidecar runs; retry when the standby has caught up.',
          'the hint says where to look');
SELECT is(pg_temp.counts(), '0|9', 'the refused calls wrote no request and no activity');

------------------------------------------------------------------------------
-- accepted
------------------------------------------------------------------------------
SELECT ok(mosta_switchover('app', 's1') > 0, 'a healthy standby within its tolerance: a request id');
SELECT row_eq($$SELECT project::text, kind, target::text, state, requested_by::text, finished_at FROM mosta.ha_requests$$,
              ROW('app'::text, 'switchover'::text, 's1'::text, 'pending'::text, session_user::text, NULL::timestamptz),
              'one pending switchover request to s1, by the session user');
SELECT is((SELECT detail #>> '{from}' || '>' || (detail #>> '{to}') || ' ' || (detail #>> '{observed,status}')
                  || ' ' || (detail #>> '{observed,lag_ms}') || ' ' || (detail #>> '{observed,sync_state}')
             FROM mosta.ha_requests),
          'pg1>s1 up 200 sync', 'the request''s detail: from, to and the observation it was accepted on');
SELECT row_eq($$SELECT action, project, object, (detail->>'request')::bigint, detail->>'from', detail->>'to'
                  FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('switchover_requested'::text, 'app'::text, 's1'::text, (SELECT id FROM mosta.ha_requests),
                  'pg1'::text, 's1'::text),
              'an activity row switchover_requested names the request, from and to');
SELECT is(pg_temp.counts(), '1|10', 'one request, one activity row');
SELECT throws_ok($$SELECT mosta_switchover('app', 's1')$$, '55006', NULL,
                 'a second request while one is pending is refused');
SELECT matches((pg_temp.error_of($$SELECT mosta_switchover('app', 's1')$$))[2],
               '^project "app" already has a pending switchover request \(id [0-9]+, to "s1"\)$',
               'the refusal names the open request');
UPDATE mosta.ha_requests SET state = 'running';
SELECT throws_ok($$SELECT mosta_switchover('app', 's1')$$, '55006', NULL, 'and while one is running');
UPDATE mosta.ha_requests SET state = 'done', finished_at = now();
SELECT ok(mosta_switchover('app', 's1') > (SELECT min(id) FROM mosta.ha_requests),
          'once the first is done, a new request is accepted');
SELECT throws_ok($$INSERT INTO mosta.ha_requests (project, target, state) VALUES ('app', 's1', 'pending')$$, '23505',
                 NULL, 'the table itself holds one open request per project');
SELECT throws_ok($$INSERT INTO mosta.ha_requests (project, target, kind) VALUES ('docs', 'pgdocs', 'failover')$$,
                 '23514', NULL, 'kind is switchover');

------------------------------------------------------------------------------
-- on a standby: refused before anything is written
------------------------------------------------------------------------------
SELECT ok(pg_get_functiondef('mosta_switchover(text, text)'::regprocedure) ~ 'pg_is_in_recovery\(\)',
          'mosta_switchover checks pg_is_in_recovery() (a standby refuses with 25006; see ha_switchover.sh)');
SELECT ok(obj_description('mosta_switchover(text, text)'::regprocedure, 'pg_proc') ~ 'node agent',
          'its comment says the node agent carries it out');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'mosta_switchover(text, text)'::regprocedure), true,
          'mosta_switchover is SECURITY DEFINER');

SELECT * FROM finish();
ROLLBACK;
