-- transactions: a transaction's documents come framed by begin and commit
-- at its commit; rolled-back work never appears; transactions with nothing
-- to write (empty, DDL only, excluded tables only) produce no document.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_transactions', 'mostajs');

CREATE TABLE tx (id int PRIMARY KEY, v text);
CREATE TABLE tx_skipped (id int PRIMARY KEY);

-- subtransactions: only the work of committed subtransactions appears
BEGIN;
INSERT INTO tx VALUES (1, 'top');
SAVEPOINT a;
INSERT INTO tx VALUES (2, 'rolled back');
SAVEPOINT b;
INSERT INTO tx VALUES (3, 'rolled back, nested');
ROLLBACK TO SAVEPOINT a;
INSERT INTO tx VALUES (4, 'after rollback to a');
SAVEPOINT c;
UPDATE tx SET v = 'updated in c' WHERE id = 1;
RELEASE SAVEPOINT c;
SAVEPOINT d;
DELETE FROM tx WHERE id = 4;
UPDATE tx SET v = 'never' WHERE id = 1;
ROLLBACK TO SAVEPOINT d;
SAVEPOINT e;
SAVEPOINT f;
INSERT INTO tx VALUES (5, 'in f, released with e');
RELEASE SAVEPOINT e;
COMMIT;

-- exception blocks are subtransactions too
DO $$
BEGIN
	FOR i IN 6..9 LOOP
		BEGIN
			INSERT INTO tx VALUES (i, 'from DO');
			IF i % 2 = 0 THEN
				RAISE EXCEPTION 'undo %', i;
			END IF;
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
END
$$;

-- INSERT ... ON CONFLICT: an insert, an update, or nothing
INSERT INTO tx VALUES (1, 'conflict, nothing') ON CONFLICT DO NOTHING;
INSERT INTO tx VALUES (1, 'conflict, updated'), (20, 'no conflict')
	ON CONFLICT (id) DO UPDATE SET v = excluded.v;
DELETE FROM tx WHERE id = 20;

-- a rolled-back transaction produces nothing
BEGIN;
INSERT INTO tx VALUES (10, 'rolled back');
UPDATE tx SET v = 'rolled back' WHERE id = 1;
DELETE FROM tx WHERE id = 4;
ROLLBACK;

-- a transaction that fails produces nothing
INSERT INTO tx VALUES (11, 'ok'), (1, 'duplicate key');

-- empty transactions produce nothing: no xid, an xid but no change, DDL only
BEGIN;
SELECT 1 AS one;
COMMIT;
BEGIN;
SELECT txid_current() > 0 AS has_xid;
COMMIT;
CREATE TABLE tx_ddl_only (id int);
DROP TABLE tx_ddl_only;
-- an UPDATE or DELETE touching no row
UPDATE tx SET v = 'none' WHERE id = -1;
DELETE FROM tx WHERE id = -1;

-- a transaction touching only excluded tables produces nothing (see the
-- options: exclude-tables), and one touching both shows the included only
INSERT INTO tx_skipped VALUES (1);
BEGIN;
INSERT INTO tx_skipped VALUES (2);
INSERT INTO tx VALUES (12, 'next to an excluded table');
DELETE FROM tx_skipped;
COMMIT;

-- a transaction committed later comes after one committed earlier, whatever
-- their start order (a prepared transaction stands in for a second session)
BEGIN;
INSERT INTO tx VALUES (13, 'started first, committed last');
PREPARE TRANSACTION 'regress_transactions_late';
INSERT INTO tx VALUES (14, 'started second, committed first');
COMMIT PREPARED 'regress_transactions_late';

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_transactions', NULL, NULL, 'exclude-tables', 'public.tx_skipped') AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_get_changes('regress_transactions', NULL, NULL,
	'exclude-tables', 'public.tx_skipped');

SELECT * FROM tx ORDER BY id;

SELECT pg_drop_replication_slot('regress_transactions');
DROP TABLE tx, tx_skipped;
