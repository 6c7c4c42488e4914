-- twophase: a slot created with two_phase => true sees a prepared
-- transaction at PREPARE (begin ... prepare, both with the gid) and its end
-- as commit_prepared or rollback_prepared; a slot without two_phase sees it
-- as an ordinary transaction at COMMIT PREPARED, and never a rolled-back one.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_twophase', 'mostajs', false, true);
SELECT 'init' FROM pg_create_logical_replication_slot('regress_twophase_off', 'mostajs');
SELECT slot_name, two_phase FROM pg_replication_slots WHERE slot_name LIKE 'regress_twophase%' ORDER BY 1;

CREATE TABLE tp (id int PRIMARY KEY, v text);
CREATE TABLE tp_other (id int PRIMARY KEY);

-- prepared, then committed
BEGIN;
INSERT INTO tp VALUES (1, 'committed');
UPDATE tp SET v = 'committed, updated' WHERE id = 1;
PREPARE TRANSACTION 'regress ''tp'' 1';
SELECT data FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL);
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);
COMMIT PREPARED 'regress ''tp'' 1';
SELECT data FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL);
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);

-- prepared, then rolled back
BEGIN;
INSERT INTO tp VALUES (2, 'rolled back');
DELETE FROM tp WHERE id = 1;
PREPARE TRANSACTION 'regress_tp_2';
ROLLBACK PREPARED 'regress_tp_2';
SELECT data FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL);
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);

-- other transactions commit between PREPARE and COMMIT PREPARED; a prepared
-- transaction with a savepoint rolled back
BEGIN;
INSERT INTO tp VALUES (3, 'prepared first');
SAVEPOINT s;
INSERT INTO tp VALUES (4, 'rolled back to savepoint');
ROLLBACK TO SAVEPOINT s;
PREPARE TRANSACTION 'regress_tp_3';
INSERT INTO tp_other VALUES (1);
COMMIT PREPARED 'regress_tp_3';
SELECT data FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL);
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);

-- a prepared transaction that changes nothing produces nothing on either slot
BEGIN;
SELECT txid_current() > 0 AS has_xid;
PREPARE TRANSACTION 'regress_tp_empty';
COMMIT PREPARED 'regress_tp_empty';
SELECT data FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL);
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);

-- xids, LSNs and timestamps: the same xid throughout; an end document's lsn
-- and ts are those of its own WAL record, so they follow everything written
-- before it (commit_prepared and rollback_prepared alike)
BEGIN;
INSERT INTO tp VALUES (5, 'with xids and LSNs');
SELECT txid_current() AS prepared_xid \gset
PREPARE TRANSACTION 'regress_tp_5';
INSERT INTO tp_other VALUES (2);
SELECT pg_current_wal_insert_lsn() AS before_commit_prepared, clock_timestamp() AS time_commit_prepared \gset
COMMIT PREPARED 'regress_tp_5';
BEGIN;
INSERT INTO tp VALUES (6, 'with xids and LSNs');
SELECT txid_current() AS rolled_back_xid \gset
PREPARE TRANSACTION 'regress_tp_6';
INSERT INTO tp_other VALUES (3);
SELECT pg_current_wal_insert_lsn() AS before_rollback_prepared, clock_timestamp() AS time_rollback_prepared \gset
ROLLBACK PREPARED 'regress_tp_6';
SELECT d->>'op' AS op, d->>'gid' AS gid,
	(d->>'xid')::bigint IN (:prepared_xid, :rolled_back_xid) AS our_xid,
	CASE d->>'op'
		WHEN 'commit_prepared' THEN (d->>'lsn')::pg_lsn >= :'before_commit_prepared'
		WHEN 'rollback_prepared' THEN (d->>'lsn')::pg_lsn >= :'before_rollback_prepared'
	END AS lsn_after_what_came_before,
	(d->>'end_lsn')::pg_lsn > (d->>'lsn')::pg_lsn AS end_after_start,
	CASE d->>'op'
		WHEN 'commit_prepared' THEN (d->>'ts')::timestamptz >= :'time_commit_prepared'
		WHEN 'rollback_prepared' THEN (d->>'ts')::timestamptz >= :'time_rollback_prepared'
		WHEN 'prepare' THEN (d->>'ts')::timestamptz < CASE d->>'gid'
			WHEN 'regress_tp_5' THEN :'time_commit_prepared'::timestamptz ELSE :'time_rollback_prepared'::timestamptz END
		WHEN 'begin' THEN d ? 'ts'
		ELSE NOT d ? 'ts' -- changes carry no timestamp
	END AS ts_right
FROM pg_logical_slot_get_changes('regress_twophase', NULL, NULL,
	'include-xids', '1', 'include-lsn', '1', 'include-timestamp', '1') AS c,
	LATERAL (SELECT c.data::jsonb) AS j(d)
WHERE d->>'table' IS DISTINCT FROM 'tp_other'
	AND d->>'xid' IN (:'prepared_xid', :'rolled_back_xid');

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_twophase_off', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;
SELECT data FROM pg_logical_slot_get_changes('regress_twophase_off', NULL, NULL);

SELECT count(*) AS left_prepared FROM pg_prepared_xacts WHERE gid LIKE 'regress%tp%';
SELECT pg_drop_replication_slot('regress_twophase');
SELECT pg_drop_replication_slot('regress_twophase_off');
DROP TABLE tp, tp_other;
