-- options: what each plugin option adds or filters, and the ERROR every
-- unknown option or bad value raises. xids, timestamps and LSNs change from
-- run to run: their presence and shape are checked, and they are masked.
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_options', 'mostajs');

CREATE TABLE op (id int PRIMARY KEY, v varchar(10), n numeric(8, 2), at timestamp(3), tags text[]);
-- op_documents counts the documents decoded with options; each must be valid JSON
CREATE FUNCTION op_documents(options text[]) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, VARIADIC options) AS c,
		regexp_split_to_table(c.data, E'\n') AS line
	WHERE line::jsonb IS NOT NULL
$$;

SELECT clock_timestamp() AS time_before \gset
BEGIN;
INSERT INTO op VALUES (1, 'a', 1.5, '2024-01-01 00:00', '{x}');
SELECT txid_current() AS xid1 \gset
COMMIT;
SELECT clock_timestamp() AS time_after \gset

-- by default: no xid, timestamp, LSN or types
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL);

-- include-xids: begin, change and commit carry the transaction's xid
SELECT regexp_replace(data, '"xid":[0-9]+', '"xid":N') AS data,
	data::jsonb->'xid' = to_jsonb(:xid1::bigint) AS xid_is_the_transactions
FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-xids', '1');

-- include-timestamp: begin and commit carry the commit time, ISO 8601 in UTC
SELECT regexp_replace(data, '"ts":"[^"]*"', '"ts":"T"') AS data,
	data::jsonb->>'ts' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$' AS ts_format,
	(data::jsonb->>'ts')::timestamptz BETWEEN :'time_before' AND :'time_after' AS ts_is_the_commits
FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-timestamp', 'on');

-- include-lsn: begin has the commit's LSN, a change its own, the commit its
-- own and its end; a change's lsn is the position SQL reports for its row
SELECT regexp_replace(data, '"[0-9A-F]+/[0-9A-F]+"', '"X/X"', 'g') AS data,
	CASE data::jsonb->>'op'
		WHEN 'insert' THEN (data::jsonb->>'lsn')::pg_lsn = lsn
		WHEN 'begin' THEN (data::jsonb->>'commit_lsn')::pg_lsn =
			(SELECT (c.data::jsonb->>'lsn')::pg_lsn FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL,
				'include-lsn', '1') AS c WHERE c.data::jsonb->>'op' = 'commit' LIMIT 1)
		WHEN 'commit' THEN (data::jsonb->>'end_lsn')::pg_lsn > (data::jsonb->>'lsn')::pg_lsn
			AND (data::jsonb->>'end_lsn')::pg_lsn = lsn
	END AS lsn_right
FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-lsn', 'true');

-- include-types: the declared type of every column, with its modifiers
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-types', 'yes')
WHERE data::jsonb->>'op' = 'insert';

-- all of them: the order of the fields
SELECT regexp_replace(regexp_replace(regexp_replace(data,
	'"[0-9A-F]+/[0-9A-F]+"', '"X/X"', 'g'), '"xid":[0-9]+', '"xid":N', 'g'), '"ts":"[^"]*"', '"ts":"T"') AS data
FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'format-version', '1',
	'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-types', '1');

-- false in every spelling (a boolean option without a value, which only the
-- replication protocol can send, means true: test/integration/recvlogical.sh)
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL,
	'include-xids', 'off', 'include-timestamp', 'false', 'include-lsn', '0', 'include-types', 'no',
	'include-origin', 'f', 'only-local', 'n', 'partition-root', 'OFF', 'batch-bytes', '0');

SELECT op_documents('{include-xids,1,include-timestamp,1,include-lsn,1,include-types,1,include-origin,1}');
SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regress_options', NULL, NULL);

-- include-origin and only-local: a transaction replayed under a replication
-- origin names it on begin and commit, and only-local leaves it out
SELECT pg_replication_origin_create('regress_origin') > 0 AS origin_created;
SELECT pg_replication_origin_session_setup('regress_origin');
INSERT INTO op (id, v) VALUES (2, 'replayed');
SELECT pg_replication_origin_session_reset();
INSERT INTO op (id, v) VALUES (3, 'local');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-origin', '1');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL);
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'only-local', '1');
SELECT data FROM pg_logical_slot_get_changes('regress_options', NULL, NULL,
	'only-local', '1', 'include-origin', '1');
SELECT pg_replication_origin_drop('regress_origin');

-- include-messages and message-prefixes (the message content: messages.sql)
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app.one', 'm1');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app.two', 'm2');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'a,b', 'm3');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'm4');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-messages', '0');
-- prefixes match whole prefixes: 'app' is not a prefix of 'app.one'
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL,
	'message-prefixes', 'app.two, a\,b,app');
SELECT count(*) AS documents FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL,
	'message-prefixes', '');
SELECT count(*) AS documents FROM pg_logical_slot_get_changes('regress_options', NULL, NULL,
	'message-prefixes', 'app.one', 'include-messages', 'false');

-- include-tables and exclude-tables: schema.table patterns, * for any run of
-- characters, \ before a comma, a dot or a star that is part of a name
CREATE SCHEMA op_app;
CREATE SCHEMA "op,odd";
CREATE TABLE op_orders (id int);
CREATE TABLE op_order_items (id int);
CREATE TABLE op_audit (id int);
CREATE TABLE op_app.op_orders (id int);
CREATE TABLE "op,odd"."a.b" (id int);
CREATE TABLE "op*star" (id int);
CREATE TABLE "op_star" (id int);
BEGIN;
INSERT INTO op (id) VALUES (4);
INSERT INTO op_orders VALUES (1);
INSERT INTO op_order_items VALUES (1);
INSERT INTO op_audit VALUES (1);
INSERT INTO op_app.op_orders VALUES (1);
INSERT INTO "op,odd"."a.b" VALUES (1);
INSERT INTO "op*star" VALUES (1);
INSERT INTO op_star VALUES (1);
COMMIT;
INSERT INTO op_audit VALUES (2);

CREATE FUNCTION op_tables(options text[]) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(CASE data::jsonb->>'op' WHEN 'insert' THEN
		format('%s.%s', data::jsonb->>'schema', data::jsonb->>'table') ELSE data::jsonb->>'op' END, ' ' ORDER BY n),
		'(nothing)')
	FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, VARIADIC options) WITH ORDINALITY AS c(l, x, data, n)
$$;
SELECT array_to_string(options, ' ') AS options, op_tables(options) AS documents
FROM (VALUES
	('{}'::text[]),
	('{include-tables,public.op_orders}'),
	('{include-tables,public.op_order*}'),
	('{include-tables,*.op_orders}'),
	('{include-tables,op_app.*}'),
	('{include-tables,*.*}'),
	('{include-tables,"public.op_orders, op_app.op_orders"}'),
	('{include-tables,"public.op_*s"}'),
	('{include-tables,"public.op_orders*"}'),
	('{include-tables,"op\\,odd.a\\.b"}'),
	('{include-tables,"public.op\\*star"}'),
	('{include-tables,PUBLIC.OP_ORDERS}'),
	('{include-tables,public.nothing_like_it}'),
	('{include-tables,""}'),
	('{include-tables,"   "}'),
	('{include-tables,"public.op_orders\\ "}'),
	('{exclude-tables,public.op_audit}'),
	('{exclude-tables,public.*}'),
	('{exclude-tables,"*.*"}'),
	('{include-tables,public.*,exclude-tables,public.op_order*}'),
	('{include-tables,public.op_audit,exclude-tables,*.op_audit}')
) AS t(options);
SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regress_options', NULL, NULL);

-- batch-bytes: documents are packed, one per line, into messages of at least
-- batch-bytes bytes (or up to the transaction's end); a commit always ends
-- its message, and a non-transactional message is never held back
INSERT INTO op (id, v) SELECT i, 'batch ' || i FROM generate_series(10, 14) AS i;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app', 'between transactions');
INSERT INTO op (id, v) VALUES (15, 'batch 15');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '200');
SELECT op_documents('{batch-bytes,200}') AS documents;
SELECT count(*) AS messages FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '1');
SELECT count(*) AS messages FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '268435456');
SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regress_options', NULL, NULL);

-- errors: every unknown option and bad value is an ERROR, hint included
\set VERBOSITY default
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-xid', '1');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-xids', 'maybe');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'only-local', '');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', 'abc');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '12kB');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '-1');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '268435457');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'batch-bytes', '99999999999999999999');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'format-version', '4');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'format-version', '0');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL,
	'include-xids', '1', 'include-lsn', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-tables', 'op');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-tables', 'public.');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'exclude-tables', 'public.op,.op');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'exclude-tables', 'public\.op');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-xids');
-- malformed lists: a value ending in a backslash that escapes nothing, an
-- empty item (doubled, leading or trailing comma) would match nothing
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-tables', 'public.op\');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'exclude-tables', 'public.op, public.x\');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-tables', 'public.op,');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'include-tables', ',public.op');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'exclude-tables', 'public.op, ,public.x');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'message-prefixes', 'app,,b');
SELECT data FROM pg_logical_slot_peek_changes('regress_options', NULL, NULL, 'message-prefixes', 'app\');
\set VERBOSITY terse
-- the slot and the session are fine after the errors
INSERT INTO op (id) VALUES (16);
SELECT data FROM pg_logical_slot_get_changes('regress_options', NULL, NULL, 'include-tables', 'public.op');

SELECT pg_drop_replication_slot('regress_options');
DROP FUNCTION op_tables(text[]), op_documents(text[]);
DROP TABLE op, op_orders, op_order_items, op_audit, op_app.op_orders, "op,odd"."a.b", "op*star", op_star;
DROP SCHEMA op_app, "op,odd";
