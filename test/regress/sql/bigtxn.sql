-- bigtxn: an N-row transaction is N + 2 documents (begin, N changes, commit),
-- in order; batch-bytes packs the same documents, in the same order, into
-- fewer messages. N = 10,000 here (memory is measured in bench/, not here).
\set VERBOSITY terse
SET synchronous_commit = on;

SELECT 'init' FROM pg_create_logical_replication_slot('regress_bigtxn', 'mostajs');

CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT i, 'row ' || i FROM generate_series(1, 10000) AS i;

-- one message per document: begin, the rows in insertion order, commit
CREATE TEMP TABLE unbatched AS
SELECT n, data FROM pg_logical_slot_peek_changes('regress_bigtxn', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT count(*) AS documents,
	count(*) FILTER (WHERE n = 1 AND data = '{"op":"begin"}') AS begin_first,
	count(*) FILTER (WHERE n = 10002 AND data = '{"op":"commit"}') AS commit_last,
	count(*) FILTER (WHERE data::jsonb->>'op' = 'insert' AND (data::jsonb->'new'->>'id')::int = n - 1
		AND data::jsonb->'new'->>'v' = 'row ' || (n - 1)) AS rows_in_order
FROM unbatched;

-- batched: the lines of all messages are the same documents in the same order
CREATE TEMP TABLE batched AS
SELECT m, data FROM pg_logical_slot_peek_changes('regress_bigtxn', NULL, NULL, 'batch-bytes', '65536')
	WITH ORDINALITY AS c(lsn, xid, data, m);
SELECT count(*) < 20 AS few_messages,
	sum(array_length(string_to_array(data, E'\n'), 1)) AS documents
FROM batched;
SELECT count(*) AS lines_differing
FROM unbatched AS u
FULL JOIN (SELECT row_number() OVER (ORDER BY m, l) AS n, line
	FROM batched, regexp_split_to_table(data, E'\n') WITH ORDINALITY AS s(line, l)) AS b USING (n)
WHERE u.data IS DISTINCT FROM b.line;
-- every message but the last reached batch-bytes and holds whole documents
SELECT count(*) FILTER (WHERE octet_length(data) < 65536) AS short_messages,
	count(*) FILTER (WHERE octet_length(data) >= 65536 + 200) AS overfull_messages,
	bool_and(data LIKE '{%}') AS whole_documents
FROM batched;
SELECT regexp_replace(data, '^.*\n', '') AS last_line_of_last_message FROM batched ORDER BY m DESC LIMIT 1;

-- a budget smaller than any document: one document per message
SELECT count(*) AS messages
FROM pg_logical_slot_peek_changes('regress_bigtxn', NULL, NULL, 'batch-bytes', '10');

-- the same N as updates and deletes; consumed for good this time
UPDATE big SET v = 'updated';
DELETE FROM big;
SELECT data::jsonb->>'op' AS op, count(*) AS documents
FROM pg_logical_slot_get_changes('regress_bigtxn', NULL, NULL)
GROUP BY 1 ORDER BY 1;
SELECT count(*) AS left_over FROM pg_logical_slot_peek_changes('regress_bigtxn', NULL, NULL);

SELECT pg_drop_replication_slot('regress_bigtxn');
DROP TABLE big;
