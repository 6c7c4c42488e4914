-- messages: pg_logical_emit_message() documents. Transactional messages come
-- inside their transaction (never when it rolls back); others come at once,
-- alone. Valid JSON under a mostajs.* prefix is embedded; any other text is a
-- JSON string; content that is not text is base64.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_messages', 'mostajs');

CREATE TABLE msg (id int PRIMARY KEY);

-- our own prefix: JSON embedded, newlines folded so the document is one line
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.ddl',
	E'{"command": "ALTER TABLE",\n "objects": [{"name": "a\\nb"}, null],\r\n "ok": true}');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'mostajs.heartbeat', '{"at": "2024-01-01T00:00:00Z"}');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.scalar', '42');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.string', '  "padded"  ');
-- our own prefix, not JSON: a string
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.bad', '{not json');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.trailing', '{"a": 1} {"b": 2}');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.empty', '');
-- other prefixes: always a string, even when it is JSON
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', '{"a": 1}');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app',
	E'plain "text" with \\ and\nnewline\ttab \u00e9 \x01');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs', '{"not": "our prefix: no dot"}');
SELECT 'emitted' FROM pg_logical_emit_message(true, E'odd "prefix" é\n', 'x');
-- not text: base64
SELECT 'emitted' FROM pg_logical_emit_message(true, 'bin', '\x00ff10'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.bin', '\x7b7d00'::bytea);  -- "{}" and a NUL byte
SELECT 'emitted' FROM pg_logical_emit_message(true, 'utf8', '\xc3'::bytea);             -- a truncated UTF-8 character
SELECT 'emitted' FROM pg_logical_emit_message(true, 'utf8', '\xc3a9'::bytea);           -- a whole one: text
SELECT 'emitted' FROM pg_logical_emit_message(false, 'bin', '\x'::bytea);

-- inside a transaction with changes, in order; a non-transactional message
-- emitted in the middle comes before the transaction (which is decoded at
-- its commit), and stays even when the transaction rolls back
BEGIN;
INSERT INTO msg VALUES (1);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.mark', '{"step": 1}');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'mostajs.mark', '{"step": "now"}');
INSERT INTO msg VALUES (2);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.mark', '{"step": 2}');
COMMIT;
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.mark', '{"rolled": "back"}');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'mostajs.mark', '{"kept": true}');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.mark', '{"rolled back": "to savepoint"}');
ROLLBACK TO SAVEPOINT s;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'mostajs.mark', '{"after": "savepoint"}');
COMMIT;

-- every line is one valid JSON document
SELECT count(*) AS documents
FROM pg_logical_slot_peek_changes('regress_messages', NULL, NULL) AS c,
	regexp_split_to_table(c.data, E'\n') AS line
WHERE line::jsonb IS NOT NULL;

SELECT data FROM pg_logical_slot_peek_changes('regress_messages', NULL, NULL);

-- base64 decodes back to the bytes sent
SELECT data::jsonb->>'prefix' AS prefix, decode(data::jsonb->>'content', 'base64') AS content
FROM pg_logical_slot_peek_changes('regress_messages', NULL, NULL)
WHERE data::jsonb->>'encoding' = 'base64';

-- with include-xids, a transactional message carries its transaction's xid,
-- a non-transactional one none
SELECT DISTINCT data::jsonb->>'transactional' AS transactional, data::jsonb ? 'xid' AS has_xid
FROM pg_logical_slot_get_changes('regress_messages', NULL, NULL, 'include-xids', '1')
WHERE data::jsonb->>'op' = 'message'
ORDER BY 1;

SELECT pg_drop_replication_slot('regress_messages');
DROP TABLE msg;
