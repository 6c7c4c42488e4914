-- 40_status_topology.sql: mosta_replica_status(), mosta.replicas_masked and
-- mosta_topology(), and that no password ever shows in them, in the
-- activity log or in an error message.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(46);

\ir support/helpers.psql

-- an empty catalog
SELECT is(mosta_topology() - 'generatedAt',
          jsonb_build_object('version', 2, 'statusMaxAgeMs', mosta.status_max_age_ms(), 'projects', '{}'::jsonb,
                             'rules', '[]'::jsonb, 'activity', '[]'::jsonb),
          'the topology of an empty catalog has version 2, no projects, no rules and no activity');
SELECT is_empty('SELECT * FROM mosta_replica_status()', 'mosta_replica_status() of an empty catalog is empty');

-- every password below contains "S3cret", so that one search finds any leak
CREATE TEMP TABLE secrets (project text, name text, role text, dialect text, uri text, masked text);
INSERT INTO secrets VALUES
	('shop', 'primary', 'master', 'postgres', 'postgresql://app:S3cretPG@db1:5432/shop',
	 'postgresql://app:***@db1:5432/shop'),
	('shop', 'kv', 'slave', 'postgres', 'host=db2 user=app password=S3cretKV dbname=shop',
	 'host=db2 user=app password=*** dbname=shop'),
	('shop', 'kvq', 'slave', 'postgres', $$host=db2 password='S3cret quoted' dbname=shop$$,
	 'host=db2 password=*** dbname=shop'),
	('shop', 'query', 'slave', 'postgres', 'postgresql://app@db3/shop?sslmode=require&password=S3cretQ',
	 'postgresql://app@db3/shop?sslmode=require&password=***'),
	('shop', 'mongo', 'slave', 'mongodb', 'mongodb://reader:S3cretMG@m1:27017,m2/shop?replicaSet=rs0',
	 'mongodb://reader:***@m1:27017,m2/shop?replicaSet=rs0'),
	('shop', 'srv', 'slave', 'mongodb', 'mongodb+srv://u:S3cret%40SRV@cluster0.example.com/shop',
	 'mongodb+srv://u:***@cluster0.example.com/shop'),
	('shop', 'lite', 'slave', 'sqlite', 'file:shop.db?mode=ro', 'file:shop.db?mode=ro'),
	('blog', 'primary', 'master', 'postgres', 'postgresql://blog@db4/blog', 'postgresql://blog@db4/blog');
SELECT mosta_add_replica(project, name, role, dialect, uri) FROM secrets;
UPDATE mosta.replicas SET lag_tolerance_ms = 100, pool_min = 2, pool_max = 4 WHERE project = 'shop' AND name = 'kv';
INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, applied_lsn, tables, last_seen,
                                  last_error)
VALUES ('shop', 'kv', 'up', 40, 2048, '0/3000060', 12, now(), NULL),
       ('shop', 'mongo', 'up', 9000, NULL, NULL, NULL, now(),
        'could not connect to postgresql://reader:S3cretLE@m1/shop'),
       ('shop', 'lite', 'catching-up', 100, NULL, NULL, 3, now(), NULL);

------------------------------------------------------------------------------
-- mosta_replica_status()
------------------------------------------------------------------------------
SELECT results_eq($$SELECT project, replica, role FROM mosta_replica_status()$$,
                  $$VALUES ('blog', 'primary', 'master'), ('shop', 'primary', 'master'), ('shop', 'kv', 'slave'),
                           ('shop', 'kvq', 'slave'), ('shop', 'lite', 'slave'), ('shop', 'mongo', 'slave'),
                           ('shop', 'query', 'slave'), ('shop', 'srv', 'slave')$$,
                  'mosta_replica_status() lists every replica by project, master first, then by name');
SELECT results_eq($$SELECT replica FROM mosta_replica_status('blog')$$, $$VALUES ('primary')$$,
                  'mosta_replica_status(project) lists only that project');
SELECT results_eq($$SELECT replica FROM mosta_replica_status(NULL)$$, $$SELECT replica FROM mosta_replica_status()$$,
                  'mosta_replica_status(NULL) lists every project');
SELECT throws_ok($$SELECT * FROM mosta_replica_status('nope')$$, '42704', 'project "nope" does not exist',
                 'mosta_replica_status of an unknown project raises 42704');
SELECT row_eq($$SELECT status, lag_ms, lag_bytes, lag_tolerance_ms, within_tolerance, applied_lsn, tables, last_seen,
                       last_error FROM mosta_replica_status('shop') WHERE replica = 'primary'$$,
              ROW('unknown'::text, NULL::bigint, NULL::bigint, 5000::bigint, false, NULL::pg_lsn, NULL::integer,
                  NULL::timestamptz, NULL::text),
              'a replica without a status row is unknown, not within tolerance, with NULL measures');
SELECT row_eq($$SELECT status, lag_ms, lag_bytes, lag_tolerance_ms, within_tolerance, applied_lsn, tables, last_seen,
                       last_error FROM mosta_replica_status('shop') WHERE replica = 'kv'$$,
              ROW('up'::text, 40::bigint, 2048::bigint, 100::bigint, true, '0/3000060'::pg_lsn, 12, now(), NULL::text),
              'a fresh replica that is up shows the sidecar''s values; lag 40 is within tolerance 100');
SELECT row_eq($$SELECT status, within_tolerance, last_error FROM mosta_replica_status('shop') WHERE replica = 'mongo'$$,
              ROW('up'::text, false, 'could not connect to postgresql://reader:***@m1/shop'::text),
              'lag 9000 is beyond tolerance 5000; the last error shows, its password masked');
SELECT is((SELECT within_tolerance FROM mosta_replica_status('shop') WHERE replica = 'lite'), false,
          'a catching-up replica is not within tolerance, whatever its lag');
SET LOCAL mostajs.status_max_age = '5s';
UPDATE mosta.replica_status SET last_seen = now() - interval '1 minute' WHERE replica = 'kv';
SELECT is((SELECT within_tolerance FROM mosta_replica_status('shop') WHERE replica = 'kv'), false,
          'a status older than mostajs.status_max_age is not within tolerance');
SET LOCAL mostajs.status_max_age = 0;
SELECT is((SELECT within_tolerance FROM mosta_replica_status('shop') WHERE replica = 'kv'), true,
          'mostajs.status_max_age = 0 disables the age check');
RESET mostajs.status_max_age;
UPDATE mosta.replica_status SET last_seen = now() WHERE replica = 'kv';
UPDATE mosta.replica_status SET lag_ms = 100 WHERE replica = 'kv';
SELECT is((SELECT within_tolerance FROM mosta_replica_status('shop') WHERE replica = 'kv'), true,
          'a lag equal to the tolerance is within tolerance');
UPDATE mosta.replica_status SET lag_ms = 101 WHERE replica = 'kv';
SELECT is((SELECT within_tolerance FROM mosta_replica_status('shop') WHERE replica = 'kv'), false,
          'a lag 1 ms above the tolerance is not');

------------------------------------------------------------------------------
-- masking
------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM mosta.replicas WHERE uri LIKE '%S3cret%'), 6::bigint,
          'mosta.replicas keeps the raw URIs (the test would be void otherwise)');
SELECT set_eq($$SELECT project, replica, uri FROM mosta_replica_status()$$,
              $$SELECT project, name, masked FROM secrets$$,
              'mosta_replica_status() shows every URI masked, exactly');
SELECT set_eq($$SELECT project::text, name::text, uri FROM mosta.replicas_masked$$,
              $$SELECT project, name, masked FROM secrets$$,
              'mosta.replicas_masked shows every URI masked, exactly');
SELECT set_eq($$SELECT p.key AS project, r->>'name' AS name, r->>'uri' AS uri
                  FROM jsonb_each(mosta_topology()->'projects') p, jsonb_array_elements(p.value->'replicas') r$$,
              $$SELECT project, name, masked FROM secrets$$,
              'mosta_topology() shows every URI masked, exactly');
SELECT set_eq($$SELECT project, object, detail->>'uri' AS uri FROM mosta.activity WHERE action = 'add_replica'$$,
              $$SELECT project, name, masked FROM secrets$$,
              'mosta.activity.detail logs every URI masked, exactly');
SELECT doesnt_match(mosta_topology()::text, 'S3cret', 'no password anywhere in mosta_topology()');
SELECT doesnt_match((SELECT string_agg(t::text, ' ') FROM mosta_replica_status() t), 'S3cret',
                    'no password anywhere in mosta_replica_status()');
SELECT doesnt_match((SELECT string_agg(a::text, ' ') FROM mosta.activity a), 'S3cret',
                    'no password anywhere in mosta.activity');
SELECT ok((SELECT count(*) FROM mosta.replicas_masked WHERE uri LIKE '%***%') = 6,
          'the six URIs with a password show *** in mosta.replicas_masked');
SELECT doesnt_match(mosta.mask_uri('error: mongodb://u:S3cretX@h/d timed out'), 'S3cret',
                    'a mongodb URI inside an error message does not leak its password');

-- error messages echo the URI masked
SELECT is(pg_temp.error_of($$SELECT mosta_add_replica('shop', 'x', 'slave', 'postgres', 'mysql://u:S3cretE@h/d')$$),
          ARRAY['22023', 'invalid postgres connection string "mysql://u:***@h/d": unsupported scheme "mysql"', '',
                'Use a URI such as "postgresql://user@host:5432/dbname?sslmode=require" or key=value pairs '
                'such as "host=localhost port=5432 dbname=app user=app".'],
          'a refused postgres URI is echoed masked');
SELECT doesnt_match(array_to_string(pg_temp.error_of(
	$$SELECT mosta_add_replica('shop', 'x', 'slave', 'postgres', 'host=h password=S3cretE bogus=1')$$), ' '),
	'S3cret', 'a refused postgres conninfo does not echo its password');
SELECT doesnt_match(array_to_string(pg_temp.error_of(
	$$SELECT mosta_add_replica('shop', 'x', 'slave', 'postgres', 'host=h password=S3cretE port')$$), ' '),
	'S3cret', 'a conninfo libpq cannot parse does not echo its password');
SELECT doesnt_match(array_to_string(pg_temp.error_of(
	$$SELECT mosta_add_replica('shop', 'x', 'slave', 'mongodb', 'mongodb://u:S3cretE@h:0/d')$$), ' '),
	'S3cret', 'a refused mongodb URI does not echo its password');
SELECT doesnt_match(array_to_string(pg_temp.error_of(
	$$SELECT mosta_add_replica('shop', 'primary', 'slave', 'postgres', 'postgresql://u:S3cretE@h/d')$$), ' '),
	'S3cret', 'a duplicate replica error does not echo the password');

------------------------------------------------------------------------------
-- mosta_topology()
------------------------------------------------------------------------------
CREATE TABLE public.items (id int PRIMARY KEY);
SELECT mosta_add_rule('shop-to-blog', 'shop', 'blog', 'cdc', ARRAY['items'], 'last-write-wins');
SELECT mosta_add_rule('archive', 'shop', 'blog', 'snapshot', ARRAY['*'], enabled => false);
INSERT INTO mosta.rule_stats (rule, status, snapshot_rows, changes_applied, last_applied_at, last_error)
VALUES ('shop-to-blog', 'streaming', 10, 25, '2024-05-01 12:30:00+00',
        'apply failed: host=db4 password=S3cretRS dbname=blog');
SELECT is((SELECT last_error FROM mosta_rules() WHERE name = 'shop-to-blog'),
          'apply failed: host=db4 password=*** dbname=blog', 'mosta_rules() masks passwords in last_error');
INSERT INTO mosta.target_status (rule, project, replica, slot, status, changes_applied, applied_lsn, retained_bytes,
                                 wal_status, last_error, warning, resnapshots, updated_at)
VALUES ('shop-to-blog', 'blog', 'primary', 'mosta_shop_to_blog_primary_0badf00d', 'error', 25, '0/3000060', 4096,
        'extended', 'could not open postgresql://u:S3cretT@db4/blog', 'slot retains 1 GB of WAL', 1,
        '2024-05-01 12:31:00+00');
SELECT is((SELECT array_agg(t::text) FROM mosta_rule_targets('shop-to-blog') t),
          ARRAY['(shop-to-blog,blog,primary,postgres,mosta_shop_to_blog_primary_0badf00d,error,0,25,0,0/3000060,4096,'
                'extended,1,"could not open postgresql://u:***@db4/blog","slot retains 1 GB of WAL",'
                '"2024-05-01 12:31:00+00")'],
          'mosta_rule_targets(rule) lists the rule''s targets with slot, progress, retained WAL, errors masked');
SELECT is((SELECT count(*) FROM mosta_rule_targets()), 1::bigint, 'mosta_rule_targets() lists every rule''s targets');
SELECT is(pg_temp.error_of($$SELECT * FROM mosta_rule_targets('nope')$$),
          ARRAY['42704', 'rule "nope" does not exist', '', 'See SELECT * FROM mosta_rules().'],
          'mosta_rule_targets() of an unknown rule is 42704');
SELECT mosta_set_read_routing('shop', 'round-robin');
CREATE TEMP TABLE topo AS SELECT mosta_topology() AS t;

SELECT is((SELECT t->'version' FROM topo), '2'::jsonb, 'version is 2');
SELECT ok((SELECT (t->>'generatedAt')::timestamptz = now() FROM topo), 'generatedAt is the current time');
SELECT is((SELECT array_agg(k ORDER BY k) FROM topo, jsonb_object_keys(t) k),
          ARRAY['activity', 'generatedAt', 'projects', 'rules', 'statusMaxAgeMs', 'version'],
          'the topology has exactly version, generatedAt, statusMaxAgeMs, projects, rules and activity');
SELECT is((SELECT array_agg(k ORDER BY k) FROM topo, jsonb_object_keys(t->'projects') k), ARRAY['blog', 'shop'],
          'projects is an object keyed by project name');
SELECT is((SELECT t #>> '{projects,blog,readRouting}' FROM topo), 'least-lag', 'readRouting defaults to least-lag');
SELECT is((SELECT t #>> '{projects,shop,readRouting}' FROM topo), 'round-robin', 'readRouting shows the strategy set');
SELECT is((SELECT array_agg(r->>'name') FROM topo, jsonb_array_elements(t #> '{projects,shop,replicas}') r),
          ARRAY['primary', 'kv', 'kvq', 'lite', 'mongo', 'query', 'srv'],
          'replicas are listed master first, then by name');
SELECT is((SELECT t #> '{projects,blog,replicas,0}' FROM topo),
          '{"name": "primary", "role": "master", "dialect": "postgres", "uri": "postgresql://blog@db4/blog",
            "lagTolerance": 5000, "pool": {"min": 1, "max": 10},
            "status": {"status": "unknown", "lagMs": null, "lagBytes": null, "appliedLsn": null, "tables": null,
                       "lastSeen": null, "withinTolerance": false, "lastError": null, "syncState": null}}'::jsonb,
          'a replica without status has name, role, dialect, uri, lagTolerance, pool and status unknown');
SELECT is((SELECT t #> '{projects,shop,replicas,1}' FROM topo),
          jsonb_build_object('name', 'kv', 'role', 'slave', 'dialect', 'postgres',
                             'uri', 'host=db2 user=app password=*** dbname=shop', 'lagTolerance', 100,
                             'pool', jsonb_build_object('min', 2, 'max', 4),
                             'status', jsonb_build_object('status', 'up', 'lagMs', 101, 'lagBytes', 2048,
                                                          'appliedLsn', '0/3000060', 'tables', 12,
                                                          'lastSeen', now(), 'withinTolerance', false,
                                                          'lastError', NULL, 'syncState', NULL)),
          'a reported replica carries its settings and the sidecar''s status');
SELECT is((SELECT t #>> '{projects,shop,replicas,4,status,lastError}' FROM topo),
          'could not connect to postgresql://reader:***@m1/shop', 'a replica''s lastError is masked');
SELECT is((SELECT t->'rules' FROM topo),
          jsonb_build_array(
	          jsonb_build_object('name', 'archive', 'source', 'shop', 'target', 'blog', 'mode', 'snapshot',
	                             'collections', jsonb_build_array('*'), 'conflictResolution', 'source-wins',
	                             'enabled', false,
	                             'stats', jsonb_build_object('status', 'disabled', 'snapshotRows', 0,
	                                                         'changesApplied', 0, 'transactions', 0,
	                                                         'confirmedLsn', NULL, 'retainedBytes', NULL,
	                                                         'lastAppliedAt', NULL, 'lastError', NULL,
	                                                         'conflicts', 0),
	                             'targets', '[]'::jsonb),
	          jsonb_build_object('name', 'shop-to-blog', 'source', 'shop', 'target', 'blog', 'mode', 'cdc',
	                             'collections', jsonb_build_array('public.items'),
	                             'conflictResolution', 'last-write-wins', 'enabled', true,
	                             'stats', jsonb_build_object('status', 'streaming', 'snapshotRows', 10,
	                                                         'changesApplied', 25, 'transactions', 0,
	                                                         'confirmedLsn', NULL, 'retainedBytes', NULL,
	                                                         'lastAppliedAt', '2024-05-01 12:30:00+00'::timestamptz,
	                                                         'lastError',
	                                                         'apply failed: host=db4 password=*** dbname=blog',
	                                                         'conflicts', 0),
	                             'targets', jsonb_build_array(jsonb_build_object(
	                                 'project', 'blog', 'replica', 'primary',
	                                 'slot', 'mosta_shop_to_blog_primary_0badf00d', 'status', 'error',
	                                 'appliedLsn', '0/3000060', 'retainedBytes', 4096, 'walStatus', 'extended',
	                                 'resnapshots', 1, 'lastError', 'could not open postgresql://u:***@db4/blog',
	                                 'warning', 'slot retains 1 GB of WAL',
	                                 'updatedAt', '2024-05-01 12:31:00+00'::timestamptz)))),
          'rules are listed by name with collections, settings and stats');
SELECT mosta_remove_rule('archive');
SELECT mosta_remove_rule('shop-to-blog');
SELECT is(mosta_topology()->'rules', '[]'::jsonb, 'with no rule, rules is an empty array');
SELECT is(jsonb_array_length(mosta_topology() #> '{projects,shop,replicas}'), 7,
          'the topology follows the catalog');

SELECT * FROM finish();
ROLLBACK;
