-- 31_stopped_sidecar.sql: reads are never routed to a replica whose sidecar is gone (issue 10, item 6). A cleanly
-- stopped sidecar writes its targets 'stopped' and their replicas 'down' with the lag unknown; a SIGKILLed one
-- stops writing, and its last report stops counting after mostajs.status_max_age. Status rows are written here
-- the way the sidecar writes them (test/integration/sidecar_stop.sh runs the daemon itself).
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(15);

SELECT mosta_add_replica('app', 'm', 'master', 'postgres', 'postgresql://primary/app');
SELECT mosta_add_replica('app', 's', 'slave', 'sqlite', 'app.db', lag_tolerance_ms => 5000);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);

-- a running sidecar: up, idle (lag 0), reported now
INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, last_seen)
VALUES ('app', 's', 'up', 0, 0, now());
SELECT is(mosta_read_replica('app'), 's', 'a slave reported up and fresh takes the reads');

-- a clean stop, as the sidecar writes it
SELECT lives_ok($$INSERT INTO mosta.target_status (rule, project, replica, slot, status)
                  VALUES ('r1', 'app', 's', 'mosta_r1_s_00000000', 'stopped')$$,
                'a target can be recorded as stopped');
SELECT lives_ok($$INSERT INTO mosta.rule_stats (rule, status) VALUES ('r1', 'stopped')$$,
                'a rule can be recorded as stopped');
SELECT is((SELECT status FROM mosta_rule_targets() WHERE rule = 'r1'), 'stopped',
          'mosta_rule_targets() shows the stopped target');
SELECT is((SELECT status FROM mosta_rules() WHERE name = 'r1'), 'stopped', 'mosta_rules() shows the stopped rule');
UPDATE mosta.replica_status SET status = 'down', lag_ms = NULL, lag_bytes = NULL, last_seen = now();
SELECT row_eq($$SELECT status, lag_ms, lag_bytes, within_tolerance FROM mosta_replica_status('app')
                WHERE replica = 's'$$,
              ROW('down'::text, NULL::bigint, NULL::bigint, false),
              'after a clean stop the replica is down, its lag unknown, not within tolerance');
SELECT is(mosta_read_replica('app'), 'm', 'after a clean stop reads go to the master at once');

-- a SIGKILL: the last report said up, and nothing came since
UPDATE mosta.replica_status SET status = 'up', lag_ms = 0, lag_bytes = 0, last_seen = now() - interval '31 seconds';
SELECT is(mosta.status_max_age_ms(), 30000, 'the staleness bound defaults to 30 s');
SELECT row_eq($$SELECT status, lag_ms, lag_bytes, within_tolerance, last_seen FROM mosta_replica_status('app')
                WHERE replica = 's'$$,
              ROW('unknown'::text, NULL::bigint, NULL::bigint, false, now() - interval '31 seconds'),
              'a report older than mostajs.status_max_age shows unknown, lag unknown, when it was last seen');
SELECT is(mosta_read_replica('app'), 'm', 'a slave whose sidecar stopped reporting past the bound gets no reads');
SELECT is((SELECT r->'status'->>'status' || ':' || coalesce(r->'status'->>'lagMs', 'unknown')
             FROM jsonb_array_elements(mosta_topology()->'projects'->'app'->'replicas') r WHERE r->>'name' = 's'),
          'unknown:unknown', 'mosta_topology() shows the stale report as unknown too');
UPDATE mosta.replica_status SET last_seen = now() - interval '29 seconds';
SELECT is(mosta_read_replica('app'), 's', 'within the bound the last report still counts');
SELECT is((SELECT status FROM mosta_replica_status('app') WHERE replica = 's'), 'up',
          'within the bound mosta_replica_status() shows the report');
SET LOCAL mostajs.status_max_age = '10s';
SELECT is(mosta_read_replica('app'), 'm', 'a shorter mostajs.status_max_age takes effect at once');
RESET mostajs.status_max_age;

-- the status constraint still refuses made-up states
SELECT throws_ok($$UPDATE mosta.target_status SET status = 'sleeping'$$, '23514', NULL,
                 'target_status refuses an unknown status');

SELECT * FROM finish();
ROLLBACK;
