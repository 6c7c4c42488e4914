#!/usr/bin/env bash
# change_log_order.sh: mosta_change_log_read with real concurrent sessions.
#
# Two writer sessions (psql processes fed through FIFOs) change a captured
# table in interleaved transactions while a reader consumes mosta.change_log
# with mosta_change_log_read, one read per transaction, keeping its position
# (snapshot, seq) in a table as a consumer would. Checked:
#  A. a transaction that wrote first but commits last is not skipped by a
#     read made while it was in flight, although its rows have lower seqs;
#  B. conflicting updates of one row come out in commit order;
#  C. a long transaction spanning many small batches (max_rows 2): every row
#     is delivered exactly once, and replaying the documents in delivery
#     order reproduces the table; purging up to the final position empties
#     the log.
# Sessions are synchronised by polling pg_stat_activity with a deadline,
# never by sleeping for a guessed time.
#
# Runs against the cluster in PG*; without one (no MOSTA_CLUSTER_DIR) it
# starts a throwaway cluster with scripts/pg-cluster. Prints TAP-style lines,
# then "N passed, N failed"; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

readonly db=mosta_change_log_order
readonly deadline_seconds=30
work=$(mktemp -d)
passed=0
failed=0
declare -A session_fd session_pid

cleanup() {
	local name
	for name in "${!session_fd[@]}"; do
		exec {session_fd[$name]}>&- 2>/dev/null || true
	done
	for name in "${!session_pid[@]}"; do
		kill "${session_pid[$name]}" 2>/dev/null || true
		wait "${session_pid[$name]}" 2>/dev/null || true
	done
	psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

check() { # description, then a command that succeeds when the check holds
	local description=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $description"
	else
		failed=$((failed + 1))
		echo "not ok - $description"
	fi
}

equals() { # actual expected
	[ "$1" = "$2" ] && return 0
	echo "#   got:      $1" >&2
	echo "#   expected: $2" >&2
	return 1
}

# start_session name: a psql session reading its commands from a FIFO.
start_session() {
	local name=$1 fd
	mkfifo "$work/$name.in"
	PGAPPNAME=$name psql -X -q -d "$db" <"$work/$name.in" >"$work/$name.out" 2>&1 &
	session_pid[$name]=$!
	exec {fd}>"$work/$name.in"
	session_fd[$name]=$fd
}

send() { # session sql
	printf '%s\n' "$2" >&"${session_fd[$1]}"
}

# wait_for session condition: polls pg_stat_activity until the session's row
# satisfies the SQL condition, or fails after the deadline.
wait_for() {
	local name=$1 condition=$2 started=$SECONDS
	while [ $((SECONDS - started)) -lt $deadline_seconds ]; do
		if [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$name' AND ($condition)")" = 1 ]; then
			return 0
		fi
		sleep 0.02 # the poll interval of a deadline-bounded wait (--allow-sleep)
	done
	echo "# session $name never reached: $condition" >&2
	cat "$work/$name.out" >&2
	exit 1
}

# step session sql marker: runs sql then SELECT 'marker' in the session, and waits until it has run both.
step() {
	local name=$1 sql=$2 marker=$3
	send "$name" "$sql"
	send "$name" "SELECT '$marker';"
	wait_for "$name" "state IN ('idle', 'idle in transaction') AND query = 'SELECT ''$marker'';'"
}

# read_batch max_rows: one consumer read in its own transaction; prints how many rows it delivered.
read_batch() {
	q -c "WITH batch AS MATERIALIZED (
	          SELECT * FROM mosta_change_log_read((SELECT snap FROM position), (SELECT seq FROM position), $1)),
	      saved AS (INSERT INTO delivered (batch, seq, change)
	                SELECT (SELECT coalesce(max(batch), 0) + 1 FROM delivered), seq, change FROM batch ORDER BY seq
	                RETURNING 1),
	      moved AS (UPDATE position SET snap = b.next_snapshot, seq = b.next_seq
	                  FROM (SELECT next_snapshot, next_seq FROM batch LIMIT 1) b RETURNING 1)
	      SELECT (SELECT count(*) FROM saved) + 0 * (SELECT count(*) FROM moved)"
}

# read_all max_rows: reads until a read delivers nothing.
read_all() {
	while [ "$(read_batch "$1")" != 0 ]; do :; done
}

# delivered_since n: the documents delivered after the first n, as "op:id=v" words.
delivered_since() {
	q -c "SELECT string_agg(change ->> 'op' || ':' || coalesce(change -> 'new' ->> 'id', change -> 'old' ->> 'id')
	                        || coalesce('=' || (change -> 'new' ->> 'v'), ''), ' ' ORDER BY n)
	        FROM delivered WHERE n > $1"
}

delivered_count() { q -c "SELECT count(*) FROM delivered"; }

PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -d postgres \
	-c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION mostajs;
CREATE TABLE t (id int PRIMARY KEY, v int);
SELECT mosta_capture_table('t');
-- the consumer's state: its position, and what it delivered, in order
CREATE TABLE position (snap pg_snapshot, seq bigint);
INSERT INTO position VALUES (NULL, NULL);
CREATE TABLE delivered (n bigserial PRIMARY KEY, batch int NOT NULL, seq bigint NOT NULL, change json NOT NULL);
-- a sink: applies documents by key
CREATE TABLE shadow (id int PRIMARY KEY, v int);
CREATE FUNCTION apply_change(c json) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CASE c ->> 'op'
	WHEN 'insert', 'update' THEN
		DELETE FROM shadow WHERE id = (c -> 'old' ->> 'id')::int;
		INSERT INTO shadow VALUES ((c -> 'new' ->> 'id')::int, (c -> 'new' ->> 'v')::int)
		ON CONFLICT (id) DO UPDATE SET v = excluded.v;
	WHEN 'delete' THEN
		DELETE FROM shadow WHERE id = (c -> 'old' ->> 'id')::int;
	WHEN 'truncate' THEN
		DELETE FROM shadow;
	END CASE;
END
$$;
SQL

start_session w1
start_session w2

# A. w1 writes first and commits last; a read between the commits must not skip it
step w1 "BEGIN; INSERT INTO t VALUES (1, 1);" a1
step w2 "BEGIN; INSERT INTO t VALUES (2, 2); COMMIT;" a2
read_batch 1000 >/dev/null
check "A: a read while w1 is in flight delivers w2's committed row only" \
	equals "$(delivered_since 0)" "insert:2=2"
step w1 "INSERT INTO t VALUES (3, 3); COMMIT;" a3
read_all 1000
check "A: the next read delivers w1's rows, the one with a lower seq than w2's included" \
	equals "$(delivered_since 1)" "insert:1=1 insert:3=3"
check "A: w1's first row really has a lower seq than w2's" \
	equals "$(q -c "SELECT (SELECT seq FROM delivered WHERE change -> 'new' ->> 'id' = '1')
	                     < (SELECT seq FROM delivered WHERE change -> 'new' ->> 'id' = '2')")" t

# B. conflicting updates of one row: w2 waits for w1's row lock, commits after it, comes out after it
step w1 "BEGIN; UPDATE t SET v = 10 WHERE id = 2;" b1
send w2 "BEGIN; INSERT INTO t VALUES (4, 4); UPDATE t SET v = 20 WHERE id = 2;"
wait_for w2 "wait_event_type = 'Lock'"
check "B: nothing is delivered while both are in flight" equals "$(read_batch 1)" 0
step w1 "COMMIT;" b2
send w2 "SELECT 'b3';"
wait_for w2 "state = 'idle in transaction' AND query = 'SELECT ''b3'';'"
n=$(delivered_count)
read_all 1
check "B: after w1's commit, its update is delivered alone" equals "$(delivered_since "$n")" "update:2=10"
step w2 "COMMIT;" b4
n=$(delivered_count)
read_all 1
check "B: after w2's commit, its insert and then its update, which comes after w1's" \
	equals "$(delivered_since "$n")" "insert:4=4 update:2=20"

# C. a long transaction across many small batches
step w1 "BEGIN; INSERT INTO t VALUES (100, 0);" c0
for k in 1 2 3 4 5; do
	step w2 "INSERT INTO t VALUES (20$k, $k); UPDATE t SET v = v + 1 WHERE id = 2;" "c$k"
	read_batch 2 >/dev/null
done
step w1 "UPDATE t SET v = 99 WHERE id = 100; DELETE FROM t WHERE id = 201; UPDATE t SET id = 5 WHERE id = 3;" c6
read_batch 2 >/dev/null
step w1 "COMMIT;" c7
read_all 2
check "C: every row of the log was delivered" \
	equals "$(q -c "SELECT count(*) FROM mosta.change_log l WHERE NOT EXISTS (SELECT FROM delivered d WHERE d.seq = l.seq)")" 0
check "C: no row was delivered twice" \
	equals "$(q -c "SELECT count(*) - count(DISTINCT seq) FROM delivered")" 0
check "C: each batch came in seq order" \
	equals "$(q -c "SELECT count(*) FROM delivered a JOIN delivered b ON b.n = a.n + 1 AND b.batch = a.batch
	                 WHERE b.seq < a.seq")" 0
check "C: the long transaction's rows came late, after rows with higher seqs (so this run tested that)" \
	equals "$(q -c "SELECT count(*) > 0 FROM delivered d
	                 WHERE d.seq < (SELECT max(e.seq) FROM delivered e WHERE e.batch < d.batch)")" t
q -c "SELECT count(apply_change(change)) FROM (SELECT change FROM delivered ORDER BY n) d" >/dev/null
check "C: replaying the documents in delivery order reproduces the table" \
	equals "$(q -c "SELECT count(*) FROM ((TABLE t EXCEPT TABLE shadow) UNION ALL (TABLE shadow EXCEPT TABLE t)) x")" 0
check "C: the table is what the sessions made of it" \
	equals "$(q -c "SELECT string_agg(id || '=' || v, ' ' ORDER BY id) FROM t")" \
	"1=1 2=25 4=4 5=3 100=99 202=2 203=3 204=4 205=5"
check "C: purging up to the final position deletes the whole log" \
	equals "$(q -c "SELECT mosta_change_log_purge(snap, seq) = (SELECT count(*) FROM delivered) FROM position")" t
check "C: and leaves it empty" equals "$(q -c "SELECT count(*) FROM mosta.change_log")" 0

for name in w1 w2; do
	check "session $name had no error" bash -c "! grep -q ERROR '$work/$name.out'"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
