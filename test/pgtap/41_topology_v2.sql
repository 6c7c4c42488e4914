-- 41_topology_v2.sql: what version 2 of mosta_topology() (the --tree file)
-- adds to version 1: statusMaxAgeMs, each project's readsGoTo and eligible
-- (the choice of mosta_read_replica, made without advancing its round-robin
-- position), and the 30 most recent activity rows, newest first, masked; and
-- that a version-1 reader still finds every field it knew.
BEGIN;
CREATE EXTENSION IF NOT EXISTS mostajs;
SELECT plan(50);

\ir support/helpers.psql

CREATE ROLE mosta_test_user LOGIN;

-- status_row writes a replica's status the way the sidecar does, reported age ago.
CREATE FUNCTION pg_temp.status_row(project text, replica text, status text, lag bigint, age interval)
	RETURNS void LANGUAGE sql AS $$
	INSERT INTO mosta.replica_status (project, replica, status, lag_ms, last_seen) VALUES ($1, $2, $3, $4, now() - $5)
$$;

-- project_of returns a project's object in the current topology.
CREATE FUNCTION pg_temp.project_of(project text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT mosta_topology() -> 'projects' -> project
$$;

------------------------------------------------------------------------------
-- fixtures; every password contains "S3cret", so that one search finds any leak
------------------------------------------------------------------------------
-- app: slaves of every kind; eligible are docs (lag 10), then lite and pg2 (lag 40, by name)
SELECT mosta_add_replica('app', 'primary', 'master', 'postgres', 'postgresql://app:S3cretPG@db1/app');
SELECT mosta_add_replica('app', 'pg2', 'slave', 'postgres', 'host=db2 password=S3cretKV dbname=app');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'file:app.db?hexkey=S3cretHEX');
SELECT mosta_add_replica('app', 'docs', 'slave', 'mongodb', 'mongodb://u:S3cretMG@m1/app');
SELECT mosta_add_replica('app', 'far', 'slave', 'postgres', 'postgresql://db3/app');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', '/var/backups/app.sql');
SELECT mosta_add_replica('app', 'down', 'slave', 'postgres', 'postgresql://db4/app');
SELECT mosta_add_replica('app', 'old', 'slave', 'postgres', 'postgresql://db5/app');
SELECT mosta_add_replica('app', 'silent', 'slave', 'sqlite', 'silent.db');
SELECT pg_temp.status_row('app', 'pg2', 'up', 40, '0s');
SELECT pg_temp.status_row('app', 'lite', 'up', 40, '0s');
SELECT pg_temp.status_row('app', 'docs', 'up', 10, '0s');
SELECT pg_temp.status_row('app', 'far', 'up', 9000, '0s');         -- beyond its tolerance (5000)
SELECT pg_temp.status_row('app', 'dump', 'up', 0, '0s');           -- a dump answers no query
SELECT pg_temp.status_row('app', 'down', 'down', NULL, '0s');
SELECT pg_temp.status_row('app', 'old', 'up', 0, '1 hour');        -- older than mostajs.status_max_age
SELECT pg_temp.status_row('app', 'primary', 'up', 0, '0s');        -- a master is never a read slave
-- solo: a master alone; orphan: a slave and no master; rr: round-robin with no slave eligible
SELECT mosta_add_replica('solo', 'm', 'master', 'postgres', 'postgresql://db6/solo');
SELECT mosta_add_replica('orphan', 'x', 'slave', 'sqlite', 'x.db');
SELECT mosta_add_replica('rr', 'm', 'master', 'postgres', 'postgresql://db7/rr');
SELECT mosta_add_replica('rr', 's', 'slave', 'sqlite', 'rr.db');
SELECT mosta_set_read_routing('rr', 'round-robin');
CREATE TABLE public.items (id int PRIMARY KEY);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['items']);
INSERT INTO mosta.rule_stats (rule, status, snapshot_rows) VALUES ('r1', 'streaming', 3);
INSERT INTO mosta.target_status (rule, project, replica, slot, status) VALUES ('r1', 'app', 'lite', 'mosta_r1', 'streaming');

------------------------------------------------------------------------------
-- statusMaxAgeMs
------------------------------------------------------------------------------
SELECT is(mosta_topology()->'statusMaxAgeMs', to_jsonb(mosta.status_max_age_ms()),
          'statusMaxAgeMs is mostajs.status_max_age in milliseconds');
SET LOCAL mostajs.status_max_age = '5s';
SELECT is(mosta_topology()->'statusMaxAgeMs', '5000'::jsonb, 'statusMaxAgeMs follows the setting: 5s is 5000');
SET LOCAL mostajs.status_max_age = 0;
SELECT is(mosta_topology()->'statusMaxAgeMs', '0'::jsonb, 'statusMaxAgeMs 0: reports never go stale');
SELECT is(pg_temp.project_of('app')->'eligible', '["old", "docs", "lite", "pg2"]'::jsonb,
          'with no age limit, the hour-old report of old (lag 0) makes it eligible, first');
RESET mostajs.status_max_age;
SELECT is(mosta_topology()->'version', '2'::jsonb, 'version is 2');

------------------------------------------------------------------------------
-- readsGoTo and eligible
------------------------------------------------------------------------------
SELECT is(pg_temp.project_of('app')->'eligible', '["docs", "lite", "pg2"]'::jsonb,
          'eligible: the fresh, up slaves within tolerance of a queryable dialect, by lag then name');
SELECT is(pg_temp.project_of('app')->>'readsGoTo', 'docs', 'least-lag: readsGoTo is the least lagging eligible slave');
SELECT is(pg_temp.project_of('app')->>'readsGoTo', mosta_read_replica('app'),
          'least-lag: readsGoTo is what mosta_read_replica() answers');
SELECT is(pg_temp.project_of('solo'), jsonb_build_object('readRouting', 'least-lag', 'readsGoTo', 'm', 'eligible', '[]'::jsonb,
                                                         'replicas', pg_temp.project_of('solo')->'replicas'),
          'a master alone: eligible is empty, readsGoTo is the master');
SELECT is(pg_temp.project_of('solo')->>'readsGoTo', mosta_read_replica('solo'),
          'the master fallback is what mosta_read_replica() answers');
SELECT is(pg_temp.project_of('orphan')->'readsGoTo', 'null'::jsonb,
          'no master and no eligible slave: readsGoTo is null');
SELECT throws_ok($$SELECT mosta_read_replica('orphan')$$, '55000', NULL,
                 '... where mosta_read_replica() raises');
SELECT is(pg_temp.project_of('rr')->>'readsGoTo', 'm',
          'round-robin with no slave eligible: readsGoTo is the master (mosta_read_replica''s fallback)');
SELECT is(pg_temp.project_of('rr')->>'readsGoTo', mosta_read_replica('rr'), '... as mosta_read_replica() answers');
SELECT mosta_set_read_routing('app', 'round-robin');
SELECT is(pg_temp.project_of('app')->'readsGoTo', 'null'::jsonb,
          'round-robin with eligible slaves: readsGoTo is null (the choice changes per call)');
SELECT is(pg_temp.project_of('app')->'eligible', '["docs", "lite", "pg2"]'::jsonb,
          'round-robin: eligible still lists them, by lag then name');
SELECT mosta_set_read_routing('app', 'random');
SELECT is(pg_temp.project_of('app')->'readsGoTo', 'null'::jsonb, 'random: readsGoTo is null');
SELECT mosta_set_read_routing('app', 'round-robin');

-- the round-robin position: a call of mosta.round_robin_tick() before and after three topologies
CREATE TEMP TABLE tick_before AS SELECT mosta.round_robin_tick() AS tick;
SELECT count(mosta_topology()) FROM generate_series(1, 3);
SELECT is(mosta.round_robin_tick(), (SELECT tick + 1 FROM tick_before),
          'mosta_topology() does not advance the session''s round-robin position');
SELECT is(ARRAY[mosta_read_replica('app'), (SELECT pg_temp.project_of('app')->>'readRouting'),
                mosta_read_replica('app'), (SELECT pg_temp.project_of('app')->>'readRouting'),
                mosta_read_replica('app')],
          ARRAY['pg2', 'round-robin', 'docs', 'round-robin', 'lite'],
          'round-robin reads go on by name with topologies read between them');

UPDATE mosta.replica_status SET lag_ms = 5 WHERE replica = 'pg2';
SELECT mosta_set_read_routing('app', 'least-lag');
SELECT is(pg_temp.project_of('app')->>'readsGoTo', 'pg2', 'readsGoTo follows the reported lags');
SELECT is(pg_temp.project_of('app')->'eligible', '["pg2", "docs", "lite"]'::jsonb, 'so does eligible');
UPDATE mosta.replica_status SET lag_ms = 10 WHERE replica = 'pg2';
SELECT is(pg_temp.project_of('app')->'eligible', '["docs", "pg2", "lite"]'::jsonb,
          'equal lags are ordered by name');
UPDATE mosta.replica_status SET status = 'catching-up' WHERE project = 'app';
SELECT is(pg_temp.project_of('app')->'eligible', '[]'::jsonb, 'no slave up: eligible is empty');
SELECT is(pg_temp.project_of('app')->>'readsGoTo', 'primary', 'and readsGoTo is the master');
UPDATE mosta.replica_status SET status = 'up' WHERE project = 'app' AND replica IN ('pg2', 'lite', 'docs');

------------------------------------------------------------------------------
-- activity
------------------------------------------------------------------------------
-- events the sidecar logs (mosta_sidecar has INSERT on mosta.activity): their texts are stored as they are
INSERT INTO mosta.activity (action, object, detail) VALUES
	('resnapshot', 'r1', jsonb_build_object('project', 'app', 'replica', 'docs', 'slot', 'mosta_r1',
	                                        'message', 'could not connect to mongodb://u:S3cretMSG@m1/app: auth failed')),
	('slot_invalidated', 'r1',
	 '{"message": "host=h password=S3cretKV2 dbname=x", "password": 31337, "apiKey": "S3cretAPI", "passwd": "",
	   "secret": null, "nested": {"list": ["kept", "postgresql://a:S3cretNEST@h/db", {"token": "S3cretTOK"}]},
	   "quoted": "rejected {\"password\": \"S3cretJS\"}", "postgresql://k:S3cretKEY@h/db": 1, "count": 2,
	   "ok": true, "none": null, "empty": [], "map": {}}'),
	('target_rolled_back', 'postgresql://o:S3cretOBJ@h/db', '{}');
SELECT is((SELECT count(*) FROM mosta.activity WHERE (object || detail::text) ~ 'S3cret'), 3::bigint,
          'the stored activity holds secrets (the sidecar''s texts), so the masking below is tested');

CREATE TEMP TABLE topo AS SELECT mosta_topology() AS t;
SELECT is((SELECT jsonb_array_length(t->'activity') FROM topo), (SELECT count(*)::integer FROM mosta.activity),
          'with fewer than 30 rows, activity lists every row');
SELECT doesnt_match((SELECT t::text FROM topo), 'S3cret', 'no secret anywhere in the topology, activity included');
SELECT doesnt_match(pg_temp.value_as('mosta_test_user', 'SELECT mosta_topology()::text'), 'S3cret',
                    'nor in the topology a plain role reads');
SELECT is((SELECT a->'detail' FROM topo, jsonb_array_elements(t->'activity') a WHERE a->>'action' = 'slot_invalidated'),
          '{"message": "host=h password=*** dbname=x", "password": "***", "apiKey": "***", "passwd": "",
            "secret": null, "nested": {"list": ["kept", "postgresql://a:***@h/db", {"token": "***"}]},
            "quoted": "rejected {\"password\": \"***\"}", "postgresql://k:***@h/db": 1, "count": 2,
            "ok": true, "none": null, "empty": [], "map": {}}'::jsonb,
          'a detail is masked at every depth: texts, secret keys of any type, keys; the rest is kept');
SELECT is((SELECT a->>'object' FROM topo, jsonb_array_elements(t->'activity') a WHERE a->>'action' = 'target_rolled_back'),
          'postgresql://o:***@h/db', 'the object is masked too');
SELECT is((SELECT a #>> '{detail,message}' FROM topo, jsonb_array_elements(t->'activity') a
            WHERE a->>'action' = 'resnapshot'),
          'could not connect to mongodb://u:***@m1/app: auth failed', 'a sidecar''s error text is masked');
SELECT is((SELECT array_agg(a->>'object' ORDER BY a->>'object') FROM topo, jsonb_array_elements(t->'activity') a
            WHERE a->>'action' = 'add_replica' AND a->>'project' = 'app' AND a #>> '{detail,uri}' ~ '\*\*\*'),
          ARRAY['docs', 'lite', 'pg2', 'primary'], 'the URIs mosta_add_replica logged show masked');
SELECT is((SELECT jsonb_agg(a->'detail' ORDER BY (a->>'id')::bigint) FROM topo, jsonb_array_elements(t->'activity') a
            WHERE a->>'action' IN ('add_rule', 'set_read_routing')),
          (SELECT jsonb_agg(detail ORDER BY id) FROM mosta.activity WHERE action IN ('add_rule', 'set_read_routing')),
          'a detail without secrets is shown as stored');
SELECT is((SELECT t->'activity'->0 FROM topo),
          (SELECT jsonb_build_object('id', id, 'at', at, 'actor', actor, 'action', action, 'project', project,
                                     'object', 'postgresql://o:***@h/db', 'detail', detail)
             FROM mosta.activity ORDER BY id DESC LIMIT 1),
          'an item has id, at, actor, action, project, object and detail, newest first');
SELECT is((SELECT array_agg((a->>'id')::bigint ORDER BY n) FROM topo, jsonb_array_elements(t->'activity')
                                                                    WITH ORDINALITY e(a, n)),
          (SELECT array_agg(id ORDER BY at DESC, id DESC) FROM mosta.activity),
          'activity is ordered newest first');

-- more than 30 rows: the 30 most recent, by time
INSERT INTO mosta.activity (action, object) SELECT 'test_event', 'e' || g FROM generate_series(1, 40) g;
INSERT INTO mosta.activity (action, object, at) VALUES ('restored_event', 'from a dump', now() - interval '1 day');
SELECT is((SELECT jsonb_array_length(mosta_topology()->'activity')), 30, 'activity holds at most 30 rows');
SELECT is((SELECT array_agg((a->>'id')::bigint ORDER BY n)
             FROM jsonb_array_elements(mosta_topology()->'activity') WITH ORDINALITY e(a, n)),
          (SELECT array_agg(id) FROM (SELECT id FROM mosta.activity ORDER BY at DESC, id DESC LIMIT 30) x),
          'the 30 most recent rows, newest first');
SELECT ok(NOT (mosta_topology()->'activity') @> '[{"action": "restored_event"}]',
          'recent means by time: an old row with the newest id is not among them');

-- who may read it
SELECT is(pg_temp.value_as('mosta_test_user', $$SELECT jsonb_array_length(mosta_topology()->'activity')$$), '30',
          'a plain role reads the recent activity through mosta_topology()');
SELECT is(pg_temp.sqlstate_as('mosta_test_user', 'SELECT * FROM mosta.activity'), '42501',
          'but not mosta.activity itself');
SELECT is(pg_temp.sqlstate_as('mosta_test_user', $$SELECT mosta._mask_json('{}')$$), '42501',
          'nor the internal mosta._mask_json');

------------------------------------------------------------------------------
-- mosta._mask_json
------------------------------------------------------------------------------
SELECT is(mosta._mask_json(NULL), NULL, 'mosta._mask_json(NULL) is NULL');
SELECT is(mosta._mask_json('"token: abc"'), '"token: ***"', 'a string is masked as mosta.mask_text masks it');
SELECT is(mosta._mask_json('[1, "x", null, [], {}, {"password": "p", "user": "u"}]'),
          '[1, "x", null, [], {}, {"password": "***", "user": "u"}]', 'an array keeps its order and its other values');
SELECT is(mosta._mask_json(mosta._mask_json((SELECT detail FROM mosta.activity WHERE action = 'slot_invalidated'))),
          mosta._mask_json((SELECT detail FROM mosta.activity WHERE action = 'slot_invalidated')),
          'mosta._mask_json is idempotent');

------------------------------------------------------------------------------
-- a version-1 reader finds every field of version 1 (docs/sql-api.md), with the same values
------------------------------------------------------------------------------
-- v1_fields: each object of version 1 (a JSON path matching every one of them) and its fields as name:type
CREATE TEMP TABLE v1_fields (parent jsonpath, fields text[]);
INSERT INTO v1_fields VALUES
	('$', ARRAY['version:number', 'generatedAt:string', 'projects:object', 'rules:array']),
	('$.projects.*', ARRAY['readRouting:string', 'replicas:array']),
	('$.projects.*.replicas[*]', ARRAY['name:string', 'role:string', 'dialect:string', 'uri:string',
	                                   'lagTolerance:number', 'pool:object', 'status:object']),
	('$.projects.*.replicas[*].pool', ARRAY['min:number', 'max:number']),
	('$.projects.*.replicas[*].status', ARRAY['status:string', 'lagMs:number', 'lagBytes:number', 'appliedLsn:string',
	                                           'tables:number', 'lastSeen:string', 'withinTolerance:boolean',
	                                           'lastError:string']),
	('$.rules[*]', ARRAY['name:string', 'source:string', 'target:string', 'mode:string', 'collections:array',
	                     'conflictResolution:string', 'enabled:boolean', 'stats:object', 'targets:array']),
	('$.rules[*].stats', ARRAY['status:string', 'snapshotRows:number', 'changesApplied:number', 'transactions:number',
	                           'confirmedLsn:string', 'retainedBytes:number', 'lastAppliedAt:string',
	                           'lastError:string']),
	('$.rules[*].targets[*]', ARRAY['project:string', 'replica:string', 'slot:string', 'status:string',
	                                'appliedLsn:string', 'retainedBytes:number', 'walStatus:string',
	                                'resnapshots:number', 'lastError:string', 'warning:string', 'updatedAt:string']);
CREATE TEMP VIEW v1_found AS
	SELECT f.parent::text AS parent, split_part(x, ':', 1) AS field, split_part(x, ':', 2) AS type, o
	  FROM v1_fields f CROSS JOIN unnest(f.fields) x
	 CROSS JOIN LATERAL jsonb_path_query((SELECT t FROM topo), f.parent) o;
SELECT is((SELECT array_agg(f.parent::text ORDER BY f.parent::text) FROM v1_fields f
            WHERE NOT EXISTS (SELECT 1 FROM jsonb_path_query((SELECT t FROM topo), f.parent))),
          NULL, 'the fixture fills every level of version 1 (projects, replicas, rules, targets)');
SELECT is((SELECT array_agg(DISTINCT parent || ' ' || field) FROM v1_found WHERE NOT o ? field),
          NULL, 'every field of version 1 is still there, at every level');
SELECT is((SELECT array_agg(DISTINCT parent || ' ' || field) FROM v1_found
            WHERE jsonb_typeof(o -> field) NOT IN ('null', type)),
          NULL, 'every field of version 1 keeps its JSON type');
SELECT is((SELECT array_agg(k ORDER BY k) FROM topo, jsonb_object_keys(t->'projects'->'app') k),
          ARRAY['eligible', 'readRouting', 'readsGoTo', 'replicas'],
          'a project has version 1''s readRouting and replicas, and eligible and readsGoTo');
SELECT is((SELECT jsonb_agg(r->>'name') FROM topo, jsonb_array_elements(t #> '{projects,app,replicas}') r),
          '["primary", "docs", "down", "dump", "far", "lite", "old", "pg2", "silent"]'::jsonb,
          'replicas are still listed master first, then by name');

SELECT * FROM finish();
ROLLBACK;
