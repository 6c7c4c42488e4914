-- demo.sql: a tour of the mostajs SQL API, run by "make demo".
-- The topology is FitZoneGym's from the seeds: a PostgreSQL master, SQLite
-- slaves for reads, an SQL dump and a JSON archive as backups, and a MongoDB
-- analytics project fed by a CDC rule. scripts/demo-session passes the file
-- locations (:lite, :lite2, :dump, :archive) and runs mosta-sidecar afterwards.
\if :{?lite} \else \set lite ./fitzonedb.db \endif
\if :{?lite2} \else \set lite2 ./fitzonedb-2.db \endif
\if :{?dump} \else \set dump ./fitzonedb.sql \endif
\if :{?archive} \else \set archive ./fitzonedb-archive \endif
\set VERBOSITY default
\set SHOW_CONTEXT never
\pset footer off

\echo '== An application schema'
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE clients (id uuid PRIMARY KEY, user_id bigint REFERENCES users, plan text);
CREATE TABLE page_hits (url text, at timestamptz);  -- no key: cannot be replicated as is

\echo '== CREATE EXTENSION mostajs'
CREATE EXTENSION mostajs;

\echo '== Replicas: a PostgreSQL master, SQLite slaves, an SQL dump, a JSON archive, a MongoDB analytics project'
\o /dev/null
SELECT mosta_add_replica('fitbymongo', 'master-pg', 'master', 'postgres',
                         'postgresql://devuser:s3cret@localhost:5432/fitzonedb', pool_min => 2, pool_max => 20);
SELECT mosta_add_replica('fitbymongo', 'slave', 'slave', 'sqlite', :'lite', lag_tolerance_ms => 5000);
SELECT mosta_add_replica('fitbymongo', 'slave-2', 'slave', 'sqlite', :'lite2', lag_tolerance_ms => 5000);
SELECT mosta_add_replica('fitbymongo', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_replica('fitbymongo', 'archive', 'slave', 'jsonl', :'archive');
SELECT mosta_add_replica('analytics', 'mongo', 'master', 'mongodb',
                         'mongodb://analyst:hunter2@127.0.0.1:27017/analytics?authSource=admin');
\o
SELECT project, name, role, dialect, uri, lag_tolerance_ms FROM mosta.replicas_masked;

\echo '== Rules: CDC into the project''s own slaves (SQLite x2, dump, archive), and to MongoDB'
\echo '-- (no MongoDB server runs in this demo: pg-to-mongo''s target will be in error, the other rules are not held back)'
\o /dev/null
SELECT mosta_add_rule('cdc-fitbymongo', 'fitbymongo', 'fitbymongo', 'cdc', ARRAY['users', 'clients']);
SELECT mosta_add_rule('pg-to-mongo', 'fitbymongo', 'analytics', 'cdc', ARRAY['*'],
                      conflict_resolution => 'source-wins');
\o
SELECT name, source, target, mode, collections, conflict_resolution, enabled, status FROM mosta_rules();

\echo '== Bad input gets a clear error and a hint (the tour continues)'
\set ON_ERROR_STOP 0
SELECT mosta_add_rule('hits', 'fitbymongo', 'analytics', 'cdc', ARRAY['page_hits']);
SELECT mosta_add_replica('fitbymongo', 'other', 'master', 'postgres', 'postgresql://localhost/x');
SELECT mosta_set_read_routing('fitbymongo', 'fastest');
\set ON_ERROR_STOP 1

\echo '== Read routing: least-lag over what the sidecar reports'
\o /dev/null
SELECT mosta_set_read_routing('fitbymongo', 'least-lag');
\o
-- mosta-sidecar writes these rows; here the demo writes them by hand to show the routing.
INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, applied_lsn, tables)
VALUES ('fitbymongo', 'master-pg', 'up', 0, 0, pg_current_wal_lsn(), 3),
       ('fitbymongo', 'slave', 'up', 120, 4096, pg_current_wal_lsn(), 2),
       ('fitbymongo', 'slave-2', 'up', 9000, 1048576, pg_current_wal_lsn(), 2);
SELECT project, replica, role, dialect, uri, status, lag_ms, within_tolerance FROM mosta_replica_status();
SELECT mosta_read_replica('fitbymongo') AS "reads go to";
\echo '-- the freshest slave goes down: reads fall back to the master (slave-2 is beyond its tolerance)'
UPDATE mosta.replica_status SET status = 'down' WHERE replica = 'slave';
SELECT mosta_read_replica('fitbymongo') AS "reads go to";
\echo '-- (the hand-written rows are removed: mosta-sidecar writes the real ones at the end of the demo)'
DELETE FROM mosta.replica_status;

\echo '== The topology, as the monitor reads it (passwords masked)'
SELECT jsonb_pretty(mosta_topology());

\echo '== The activity log'
SELECT id, action, project, object FROM mosta.activity ORDER BY id;

\echo '== Change capture: the mostajs output plugin'
SELECT 'slot created' FROM pg_create_logical_replication_slot('demo', 'mostajs');
INSERT INTO users VALUES (1, 'ada@example.com'), (2, 'alan@example.com');
UPDATE users SET email = 'ada@lovelace.org' WHERE id = 1;
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
DELETE FROM users WHERE id = 2;
SELECT mosta_heartbeat() IS NOT NULL AS "heartbeat sent";
-- one JSON document per change, framed by begin/commit; DDL and heartbeats as messages (docs/protocol.md)
SELECT data FROM pg_logical_slot_get_changes('demo', NULL, NULL, 'include-xids', 'off');
\o /dev/null
SELECT pg_drop_replication_slot('demo');
\o

\echo '== Trigger capture (no wal_level=logical needed): the same documents in mosta.change_log'
\o /dev/null
SELECT mosta_capture_table('clients');
\o
INSERT INTO clients VALUES ('6f1c1e0e-8a2b-4c1e-9a55-1f2d3c4b5a69', 1, 'pro');
SELECT seq, change FROM mosta.change_log ORDER BY seq;
