-- 30_routing.sql: mosta_set_read_routing and mosta_read_replica, with
-- mosta.replica_status rows written here the way the sidecar writes them.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(53);

-- slave_case makes project with master 'm' and slave 's', and (when status is not NULL) a status row for 's'.
CREATE FUNCTION pg_temp.slave_case(project text, dialect text, uri text, tolerance bigint, status text,
                                   lag bigint, age interval) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM mosta_add_replica(project, 'm', 'master', 'postgres', 'postgresql://primary/app');
	PERFORM mosta_add_replica(project, 's', 'slave', dialect, uri, tolerance);
	IF status IS NOT NULL THEN
		INSERT INTO mosta.replica_status (project, replica, status, lag_ms, last_seen)
		VALUES (project, 's', status, lag, now() - age);
	END IF;
END
$$;

-- reads returns the replicas n successive mosta_read_replica(project) calls chose, in call order.
CREATE FUNCTION pg_temp.reads(project text, n int) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
	chosen text[] := '{}';
BEGIN
	FOR i IN 1..n LOOP
		chosen := chosen || mosta_read_replica(project);
	END LOOP;
	RETURN chosen;
END
$$;

-- distinct_sorted returns the distinct elements of a, sorted.
CREATE FUNCTION pg_temp.distinct_sorted(a text[]) RETURNS text[] LANGUAGE sql AS $$
	SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(a) x
$$;

------------------------------------------------------------------------------
-- mosta_set_read_routing
------------------------------------------------------------------------------
SELECT mosta_add_replica('app', 'primary', 'master', 'postgres', 'postgresql://primary/app');
SELECT is((SELECT count(*) FROM mosta.routing), 0::bigint, 'a new project has no routing row (least-lag)');
SELECT lives_ok($$SELECT mosta_set_read_routing('app', 'round-robin')$$, 'a routing strategy is set');
SELECT is((SELECT strategy FROM mosta.routing WHERE project = 'app'), 'round-robin', 'the strategy is stored');
SELECT lives_ok($$SELECT mosta_set_read_routing('app', 'random')$$, 'the strategy is set again');
SELECT results_eq($$SELECT project::text, strategy FROM mosta.routing$$, $$VALUES ('app', 'random')$$,
                  'setting it again updates the one row (upsert)');
SELECT row_eq($$SELECT action, project, object, detail FROM mosta.activity ORDER BY id DESC LIMIT 1$$,
              ROW('set_read_routing'::text, 'app'::text, NULL::text, '{"strategy": "random"}'::jsonb),
              'the change is logged');
SELECT throws_ok($$SELECT mosta_set_read_routing('app', 'fastest')$$, '22023', 'invalid strategy "fastest"',
                 'an unknown strategy raises 22023');
SELECT throws_ok($$SELECT mosta_set_read_routing('nope', 'random')$$, '42704', 'project "nope" does not exist',
                 'an unknown project raises 42704');
SELECT throws_ok($$SELECT mosta_set_read_routing(NULL, 'random')$$, '22004', 'argument "project" must not be null',
                 'a NULL project raises 22004');
SELECT throws_ok($$SELECT mosta_set_read_routing('app', NULL)$$, '22004', 'argument "strategy" must not be null',
                 'a NULL strategy raises 22004');
SELECT is((SELECT strategy FROM mosta.routing WHERE project = 'app'), 'random', 'refused calls change nothing');
SELECT lives_ok($$SELECT mosta_set_read_routing('app', 'random')$$, 'setting the current strategy again is fine');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'set_read_routing'), 2::bigint,
          'only real changes are logged');
SELECT mosta_set_read_routing('app', 'least-lag');

------------------------------------------------------------------------------
-- mosta_read_replica: least-lag
------------------------------------------------------------------------------
SELECT is(mosta_read_replica('app'), 'primary', 'a project with only a master reads from the master');
SELECT mosta_add_replica('app', r, 'slave', 'postgres', 'postgresql://' || r || '/app')
  FROM unnest(ARRAY['a', 'b', 'c']) r;
SELECT is(mosta_read_replica('app'), 'primary', 'slaves without a status row are not chosen: the master is');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms)
VALUES ('app', 'a', 'up', 100), ('app', 'b', 'up', 50), ('app', 'c', 'up', 50);
SELECT is(mosta_read_replica('app'), 'b', 'least-lag picks the lowest lag, ties broken by name');
SELECT is(pg_temp.reads('app', 5), ARRAY['b', 'b', 'b', 'b', 'b'], 'least-lag is stable over calls');
UPDATE mosta.replica_status SET lag_ms = 10 WHERE replica = 'c';
SELECT is(mosta_read_replica('app'), 'c', 'when c catches up, least-lag picks c');
UPDATE mosta.replica_status SET lag_ms = 5000 WHERE replica IN ('a', 'b');
UPDATE mosta.replica_status SET lag_ms = 5001 WHERE replica = 'c';
SELECT is(mosta_read_replica('app'), 'a', 'a lag equal to the tolerance is still eligible; one above is not');

-- each kind of ineligible slave, with lag 0 so that least-lag would pick it if it were eligible
SELECT pg_temp.slave_case('k-' || k, d, u, 5000, s, l, a)
  FROM (VALUES ('control', 'postgres', 'postgresql://s/app', 'up', 0, interval '0'),
               ('down', 'postgres', 'postgresql://s/app', 'down', 0, '0'),
               ('error', 'postgres', 'postgresql://s/app', 'error', 0, '0'),
               ('catching-up', 'postgres', 'postgresql://s/app', 'catching-up', 0, '0'),
               ('unknown', 'postgres', 'postgresql://s/app', 'unknown', 0, '0'),
               ('no-lag', 'postgres', 'postgresql://s/app', 'up', NULL, '0'),
               ('no-status', 'postgres', 'postgresql://s/app', NULL, NULL, '0'),
               ('stale', 'postgres', 'postgresql://s/app', 'up', 0, '1 minute'),
               ('sqldump', 'sqldump', '/backups/app.sql', 'up', 0, '0'),
               ('jsonl', 'jsonl', '/export/', 'up', 0, '0'),
               ('sqlite', 'sqlite', 'app.db', 'up', 0, '0'),
               ('mongodb', 'mongodb', 'mongodb://s/app', 'up', 0, '0'))
       AS c(k, d, u, s, l, a);
SELECT pg_temp.slave_case('k-lagging', 'postgres', 'postgresql://s/app', 1000, 'up', 1001, interval '0');
SET LOCAL mostajs.status_max_age = '5s';
SELECT is(mosta.status_max_age_ms(), 5000, 'SET LOCAL mostajs.status_max_age = ''5s'' is seen as 5000 ms');
SELECT is(mosta_read_replica('k-' || k), chosen, format('%s: %s', k, why))
  FROM (VALUES ('control', 's', 'a fresh slave that is up within its tolerance is chosen'),
               ('sqlite', 's', 'a sqlite slave can answer reads'),
               ('mongodb', 's', 'a mongodb slave can answer reads'),
               ('down', 'm', 'a down slave is never chosen'),
               ('error', 'm', 'a slave in error is never chosen'),
               ('catching-up', 'm', 'a catching-up slave is never chosen'),
               ('unknown', 'm', 'a slave of unknown status is never chosen'),
               ('no-lag', 'm', 'a slave with no reported lag is never chosen'),
               ('no-status', 'm', 'a slave without a status row is never chosen'),
               ('stale', 'm', 'a slave whose status is older than mostajs.status_max_age is never chosen'),
               ('lagging', 'm', 'a slave beyond its lag_tolerance_ms is never chosen'),
               ('sqldump', 'm', 'a sqldump slave is never chosen'),
               ('jsonl', 'm', 'a jsonl slave is never chosen')) AS c(k, chosen, why);
SET LOCAL mostajs.status_max_age = 0;
SELECT is(mosta_read_replica('k-stale'), 's', 'mostajs.status_max_age = 0 disables the age check');
SET LOCAL mostajs.status_max_age = '2min';
SELECT is(mosta_read_replica('k-stale'), 's', 'with mostajs.status_max_age = 2min the 1-minute-old status counts');
RESET mostajs.status_max_age;
SELECT is(mosta.status_max_age_ms(), 30000, 'RESET restores the 30 s default');
SELECT is(mosta_read_replica('k-stale'), 'm', 'and the 1-minute-old status no longer counts');

-- no master
SELECT mosta_add_replica('headless', 's', 'slave', 'postgres', 'postgresql://s/app');
SELECT throws_ok($$SELECT mosta_read_replica('headless')$$, '55000',
                 'project "headless" has no master and no slave eligible for reads',
                 'no master and no eligible slave raises 55000');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms) VALUES ('headless', 's', 'up', 0);
SELECT is(mosta_read_replica('headless'), 's', 'a project without a master reads from an eligible slave');
SELECT throws_ok($$SELECT mosta_read_replica('nope')$$, '42704', 'project "nope" does not exist',
                 'an unknown project raises 42704');
SELECT throws_ok($$SELECT mosta_read_replica(NULL)$$, '22004', 'argument "project" must not be null',
                 'a NULL project raises 22004');

------------------------------------------------------------------------------
-- round-robin and random
------------------------------------------------------------------------------
UPDATE mosta.replica_status SET lag_ms = 0 WHERE project = 'app';
SELECT mosta_add_replica('app', 'd', 'slave', 'postgres', 'postgresql://d/app');
INSERT INTO mosta.replica_status (project, replica, status, lag_ms) VALUES ('app', 'd', 'down', 0);
SELECT mosta_set_read_routing('app', 'round-robin');
SELECT is(pg_temp.reads('app', 4), ARRAY['a', 'b', 'c', 'a'],
          'round-robin starts at the first eligible slave by name and cycles in name order');
SELECT is(pg_temp.distinct_sorted(pg_temp.reads('app', 3)), ARRAY['a', 'b', 'c'],
          'round-robin visits each of the 3 eligible slaves in any 3 calls');
SELECT is(pg_temp.distinct_sorted(pg_temp.reads('app', 7)), ARRAY['a', 'b', 'c'],
          'round-robin over 7 calls chooses only eligible slaves');
SELECT ok((SELECT bool_and(x <> y) FROM (SELECT r[i] AS x, r[i + 1] AS y
                                           FROM (SELECT pg_temp.reads('app', 6) AS r) s,
                                                generate_series(1, 5) i) p),
          'round-robin never picks the same slave twice in a row');
SELECT is((SELECT array_agg(n ORDER BY x) FROM (SELECT x, count(*) AS n FROM unnest(pg_temp.reads('app', 9)) x
                                                 GROUP BY x) c),
          ARRAY[3::bigint, 3, 3], 'round-robin spreads 9 calls evenly, 3 per slave');
UPDATE mosta.replica_status SET status = 'down' WHERE project = 'app' AND replica IN ('b', 'c');
SELECT is(pg_temp.reads('app', 3), ARRAY['a', 'a', 'a'], 'round-robin with one eligible slave always picks it');
UPDATE mosta.replica_status SET status = 'down' WHERE project = 'app';
SELECT is(mosta_read_replica('app'), 'primary', 'round-robin with no eligible slave falls back to the master');
UPDATE mosta.replica_status SET status = 'up' WHERE project = 'app' AND replica <> 'd';

SELECT mosta_set_read_routing('app', 'random');
CREATE TEMP TABLE random_reads AS SELECT pg_temp.reads('app', 50) AS r;
SELECT ok((SELECT r <@ ARRAY['a', 'b', 'c'] FROM random_reads), 'random chooses only eligible slaves in 50 calls');
SELECT is((SELECT cardinality(pg_temp.distinct_sorted(r)) FROM random_reads), 3,
          'random reaches every eligible slave in 50 calls');
UPDATE mosta.replica_status SET status = 'down' WHERE project = 'app';
SELECT is(mosta_read_replica('app'), 'primary', 'random with no eligible slave falls back to the master');

SELECT mosta_set_read_routing('app', 'least-lag');
UPDATE mosta.replica_status SET status = 'up', lag_ms = 7 WHERE project = 'app';
UPDATE mosta.replica_status SET lag_ms = 3 WHERE project = 'app' AND replica = 'c';
SELECT is(mosta_read_replica('app'), 'c', 'back to least-lag, the least-lagging eligible slave is chosen');
SELECT is((SELECT count(*) FROM mosta.activity WHERE action = 'set_read_routing'), 6::bigint,
          'each strategy change is logged once');

SELECT * FROM finish();
ROLLBACK;
