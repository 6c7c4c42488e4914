-- twophase_abort: a prepared transaction rolled back before it is decoded.
-- Decoding it fails at its first catalog lookup (here: the enum label) and
-- PostgreSQL goes on with the prepare callback; the half-written document
-- must not reach the output, which stays whole JSON documents.
\set VERBOSITY terse
SET synchronous_commit = on;
CREATE TYPE tpa_color AS ENUM ('red', 'green');
CREATE TABLE tpa (id int PRIMARY KEY, c tpa_color);
SELECT 'init' FROM pg_create_logical_replication_slot('regress_twophase_abort', 'mostajs', false, true);
INSERT INTO tpa VALUES (1, 'red');
BEGIN;
INSERT INTO tpa VALUES (2, 'green');
PREPARE TRANSACTION 'tpa_gid';
ROLLBACK PREPARED 'tpa_gid';
-- a new session: nothing of the aborted transaction is cached
\c
SELECT data FROM pg_logical_slot_peek_changes('regress_twophase_abort', NULL, NULL);
\c
SELECT data FROM pg_logical_slot_peek_changes('regress_twophase_abort', NULL, NULL, 'batch-bytes', '65536');
SELECT count(*) AS documents, count(line::jsonb) AS valid_json
FROM pg_logical_slot_peek_changes('regress_twophase_abort', NULL, NULL, 'batch-bytes', '65536') c,
	regexp_split_to_table(c.data, E'\n') AS line;
SELECT pg_drop_replication_slot('regress_twophase_abort');
DROP TABLE tpa;
DROP TYPE tpa_color;
