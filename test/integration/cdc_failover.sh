#!/usr/bin/env bash
# cdc_failover.sh: CDC across a failover (issue 13, item 7d; docs/failover.md, docs/verification.md "Re-sync after
# a lost slot"). On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (scripts/pg-cluster run), the
# primary, it starts a streaming standby (scripts/pg-cluster standby, named standby1), the MongoDB-wire test server,
# and a cdc rule on three tables (acct and doc with a primary key, ledger with a replica
# identity index only) into a SQLite file, a SQL dump and MongoDB; the
# daemon runs with a multi-host source (host=127.0.0.1,127.0.0.1 port=PRIMARY,STANDBY
# target_session_attrs=read-write connect_timeout=5). Then:
#   1. the initial copy; "mosta-sidecar verify" through a source whose first host accepts connections and never
#      answers gets through to the next host (connect_timeout=2, applied host by host); a write load (small
#      transactions in the background) streams to every target;
#   2. the standby is cut off (primary_conninfo pointed nowhere), and changes W2 are made on the primary, which the
#      daemon applies but the standby never gets (with 100,000 rows into a table outside the rule, so that the
#      targets hold a position past where the promoted standby's timeline will start);
#   3. the daemon is frozen (SIGSTOP), the primary's postmaster killed (SIGKILL), the standby promoted
#      (pg_promote()), and changes W1 made on the new primary that the daemon cannot have seen;
#   4. the daemon goes on (SIGCONT): it finds the new primary through the multi-host source, creates the rule's
#      slot there, and re-syncs the SQLite and MongoDB targets by key-range checksums: their activity rows
#      (action resync) name exactly the rows W2 and W1 made differ (240 differing, 57 extra, 45 missing, the
#      keyless table copied whole), far fewer than the table's rows (< 10%); the SQL dump, which cannot be
#      compared, is copied whole with a loud activity row (resnapshot);
#   5. more writes on the new primary stream to every target;
#   6. "mosta-sidecar verify r1" on the new primary: every collection of SQLite and MongoDB matches; pymongo counts
#      the documents; the SQL dump replayed into a fresh database equals the new primary (EXCEPT ALL both ways);
#   7. a re-sync that did not finish (the SQLite target's status left at snapshot): the next run copies the target
#      whole, loudly, and verify matches again.
# Every server and daemon it starts is stopped on exit (trap). Every wait polls with a deadline.
# The binaries: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar; MOSTA_TEST_MONGOD_BIN,
# default build/test/support/mosta-test-mongod. pymongo is Debian's python3-pymongo (/usr/bin/python3).
# Prints "cdc_failover: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it kills or demotes its primary: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init cdc_failover
require_cluster MOSTA_CLUSTER_DIR
require_sidecar
require_test_mongod
require_pymongo

standby_dir=
server=
workload=
frozen=
silent=
cleanup_extra() {
	[ -n "$silent" ] && kill "$silent" 2>/dev/null && wait "$silent" 2>/dev/null
	[ -n "$frozen" ] && kill -CONT "$frozen" 2>/dev/null
	[ -n "$workload" ] && kill "$workload" 2>/dev/null && wait "$workload" 2>/dev/null
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	[ -n "$standby_dir" ] && scripts/pg-cluster stop "$standby_dir" >/dev/null 2>&1
	return 0
}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the
# daemon, calls cleanup_extra and drops $db and $work
use_database mosta_cdc_failover_$$
export PGTZ=UTC
start_mongo_target failover # mosta-test-mongod on a free port ($server), unless MOSTA_TEST_MONGO_URI

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text);
CREATE TABLE doc (u uuid PRIMARY KEY, n int NOT NULL, body jsonb, at timestamptz);
-- no primary key (a replica identity index gives MongoDB its _id): re-synced by a whole copy
CREATE TABLE ledger (seq int NOT NULL, kind text);
CREATE UNIQUE INDEX ledger_seq ON ledger (seq);
ALTER TABLE ledger REPLICA IDENTITY USING INDEX ledger_seq;
CREATE TABLE scratch (x int); -- outside the rule: only WAL
INSERT INTO acct SELECT g, g, 'seed ' || g FROM generate_series(1, 10000) g;
INSERT INTO doc SELECT md5(g::text)::uuid, g, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 3)),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1, 1000) g;
INSERT INTO ledger SELECT g, 'seed' FROM generate_series(1, 100) g;
-- the write load: small transactions on rows of their own (ids from 100000, n from 5000)
CREATE PROCEDURE churn(first int, rounds int) LANGUAGE plpgsql AS $$
BEGIN
	FOR r IN first .. first + rounds - 1 LOOP
		INSERT INTO acct SELECT 100000 + r * 5 + g, r, 'new ' || r FROM generate_series(0, 4) g;
		UPDATE acct SET balance = balance + 1, note = 'upd ' || r WHERE id >= 100000 AND id % 7 = r % 7;
		DELETE FROM acct WHERE id = 100000 + (r - 1) * 5 + 2;
		INSERT INTO doc VALUES (md5('churn' || r)::uuid, 5000 + r, jsonb_build_object('r', r),
		                        date_trunc('milliseconds', now())); -- MongoDB keeps milliseconds
		UPDATE doc SET body = body || jsonb_build_object('upd', r) WHERE n = 5000 + r - 1;
		INSERT INTO ledger VALUES (10000 + r, 'churn');
		COMMIT;
	END LOOP;
END $$;
CREATE EXTENSION mostajs;
SQL
primary_port=$PGPORT

start_standby standby1 standby_dir standby_port
on_primary() { psql -X -At -h 127.0.0.1 -p "$primary_port" -d "$db" -c "$1" 2>/dev/null; }
on_standby() { psql -X -At -h 127.0.0.1 -p "$standby_port" -d "$db" -c "$1" 2>/dev/null; }
[ "$(on_standby "SELECT pg_is_in_recovery()")" = t ] && ok "standby1 is in recovery" ||
	not_ok "standby1 is in recovery"

psql_db -o /dev/null -v uri="host=127.0.0.1 port=$primary_port dbname=$db user=$PGUSER" \
	-v lite="$work/app.db" -v dump="$work/app.sql" -v mongo="$mongo_uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['public.acct', 'public.doc', 'public.ledger']);
SQL

# the daemon follows whichever node accepts writes
source_dsn="host=127.0.0.1,127.0.0.1 port=$primary_port,$standby_port dbname=$db user=$PGUSER target_session_attrs=read-write connect_timeout=5"
"$BINARY" --source "$source_dsn" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!

# caught_up PORT: the targets confirmed a heartbeat written on the node at PORT after everything before (the
# daemon's own status writes move the WAL on, so the heartbeat is taken once per wait)
heartbeat=
caught_up() {
	[ -n "$heartbeat" ] || heartbeat=$(psql -X -At -h 127.0.0.1 -p "$1" -d "$db" -c "SELECT mosta_heartbeat()::text" 2>/dev/null)
	[ -n "$heartbeat" ] || return 1
	[ "$(psql -X -At -h 127.0.0.1 -p "$1" -d "$db" -c "SELECT coalesce((SELECT confirmed_lsn >= '$heartbeat'
	       FROM mosta.rule_stats WHERE rule = 'r1'), false)" 2>/dev/null)" = t ]
}
wait_caught_up() {
	heartbeat=
	if poll_until 120 caught_up "$1"; then ok "$2"
	else not_ok "$2"; tail -30 "$work/log.daemon" >&2; fi
}

# 1. the initial copy and a write load
wait_caught_up "$primary_port" "the initial copy reached every target"

# a host that accepts connections and never answers (a hung server) first in the list: libpq ignores
# connect_timeout in non-blocking mode, the sidecar applies it host by host and goes on to the next
"$python" -c 'import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
signal.pause()' >"$work/silent.port" &
silent=$!
poll_until 10 test -s "$work/silent.port" || fail_setup "the silent listener did not start"
silent_port=$(cat "$work/silent.port")
# (timeout: only a guard against a hang, which is the failure this checks)
if timeout 120 "$BINARY" verify r1 --source "host=127.0.0.1,127.0.0.1 port=$silent_port,$primary_port dbname=$db user=$PGUSER connect_timeout=2" >"$work/verify0.out" 2>&1; then
	ok "a silent first host is passed over after connect_timeout (verify r1 through the next host)"
else
	not_ok "a silent first host is passed over after connect_timeout (verify r1 through the next host)"
	cat "$work/verify0.out" >&2
fi
kill "$silent" 2>/dev/null && wait "$silent" 2>/dev/null
silent=
psql_db -c "CALL churn(1, 300)" >"$work/log.workload" 2>&1 &
workload=$!
if wait "$workload"; then ok "write load ran (300 transactions)"; else not_ok "write load ran"; cat "$work/log.workload" >&2; fi
workload=
wait_caught_up "$primary_port" "the write load reached every target"

# 2. the standby replays everything, then is cut off; W2 reaches the targets, never the standby
target_lsn=$(on_primary "SELECT pg_current_wal_lsn()")
replayed() { [ "$(on_standby "SELECT pg_last_wal_replay_lsn() >= '$target_lsn'")" = t ]; }
poll_until 60 replayed && ok "standby1 replayed the primary's WAL" || not_ok "standby1 replayed the primary's WAL"
on_standby "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres connect_timeout=1'" >/dev/null
on_standby "SELECT pg_reload_conf()" >/dev/null
cut_off() { [ "$(on_primary "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby1'")" = 0 ]; }
poll_until 60 cut_off && ok "standby1 is cut off from the primary" || not_ok "standby1 is cut off from the primary"
psql_db <<'SQL' >/dev/null || not_ok "W2 on the primary"
UPDATE acct SET balance = balance + 1000, note = 'w2' WHERE id % 100 = 7 AND id <= 10000;   -- 100 rows
INSERT INTO acct SELECT 200000 + g, g, 'w2 new' FROM generate_series(1, 40) g;               -- 40 rows
DELETE FROM acct WHERE id % 1000 = 3 AND id <= 10000;                                         -- 10 rows
UPDATE doc SET body = body || '{"w2": true}' WHERE n % 50 = 7 AND n <= 1000;                  -- 20 rows
INSERT INTO doc SELECT md5('w2' || g)::uuid, 2000 + g, '{"w2": 1}', NULL FROM generate_series(1, 5) g;
DELETE FROM doc WHERE n % 500 = 3 AND n <= 1000;                                              -- 2 rows
INSERT INTO ledger VALUES (9001, 'w2'), (9002, 'w2');
INSERT INTO scratch SELECT generate_series(1, 100000);
SQL
wait_caught_up "$primary_port" "W2 reached every target (not the standby)"
old_position=$(scalar "SELECT min(applied_lsn) FROM mosta.target_status WHERE rule = 'r1'")

# 3. the daemon frozen, the primary killed, the standby promoted, W1 on the new primary
kill -STOP "$daemon"
frozen=$daemon
kill -9 "$(head -1 "$MOSTA_CLUSTER_DIR/data/postmaster.pid")"
primary_gone() { ! pg_isready -q -h 127.0.0.1 -p "$primary_port"; }
poll_until 30 primary_gone && ok "the primary is down (SIGKILL)" || not_ok "the primary is down (SIGKILL)"
[ "$(on_standby "SELECT pg_promote()")" = t ] && ok "standby1 promoted" || not_ok "standby1 promoted"
[ "$(on_standby "SELECT pg_is_in_recovery()")" = f ] && ok "standby1 accepts writes" || not_ok "standby1 accepts writes"
new_start=$(on_standby "SELECT pg_current_wal_lsn()")
[ "$(on_standby "SELECT '$old_position'::pg_lsn > '$new_start'::pg_lsn")" = t ] &&
	ok "the targets hold a position ($old_position) past the new primary's ($new_start)" ||
	not_ok "the targets hold a position ($old_position) past the new primary's ($new_start)"
[ "$(on_standby "SELECT count(*) FROM acct WHERE note = 'w2'")" = 0 ] && ok "the new primary lacks W2" ||
	not_ok "the new primary lacks W2"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$standby_port" -d "$db" <<'SQL' >/dev/null || not_ok "W1 on the new primary"
UPDATE acct SET balance = balance + 2000, note = 'w1' WHERE id % 100 = 9 AND id <= 10000;   -- 100 rows
INSERT INTO acct SELECT 300000 + g, g, 'w1 new' FROM generate_series(1, 30) g;               -- 30 rows
DELETE FROM acct WHERE id % 1000 = 5 AND id <= 10000;                                         -- 10 rows
UPDATE doc SET body = body || '{"w1": true}' WHERE n % 50 = 9 AND n <= 1000;                  -- 20 rows
INSERT INTO doc SELECT md5('w1' || g)::uuid, 3000 + g, '{"w1": 1}', NULL FROM generate_series(1, 3) g;
DELETE FROM doc WHERE n % 500 = 5 AND n <= 1000;                                              -- 2 rows
INSERT INTO ledger VALUES (9101, 'w1');
SQL

# 4. the daemon goes on: the new primary through the multi-host source, a new slot, the re-sync
kill -CONT "$daemon"
frozen=
on_new() { on_standby "$1"; }
resync_row() {
	on_new "SELECT concat_ws('|', d->>'rows_different', d->>'rows_extra', d->>'rows_missing', d->>'rows_deleted',
	                        d->>'rows_recopied', d->>'tables_copied_whole', d->>'source_rows')
	          FROM (SELECT detail AS d FROM mosta.activity WHERE action = 'resync' AND detail->>'replica' = '$1'
	                 ORDER BY id DESC LIMIT 1) x"
}
resynced() { [ -n "$(resync_row lite)" ] && [ -n "$(resync_row mongo)" ]; }
if poll_until 180 resynced; then ok "activity rows resync for the SQLite and MongoDB targets"
else not_ok "activity rows resync for the SQLite and MongoDB targets"; tail -40 "$work/log.daemon" >&2; fi
ledger_rows=$(on_new "SELECT count(*) FROM ledger")
# W2 and W1 made 100 + 100 acct rows and 20 + 20 doc rows differ; W2's 40 + 5 inserts and W1's 10 + 2 deletes are
# extra on the targets; W2's 10 + 2 deletes and W1's 30 + 3 inserts are missing there
expected="240|57|45|297|$((285 + ledger_rows))|1"
for replica in lite mongo; do
	got=$(resync_row $replica)
	[ "${got%|*}" = "$expected" ] &&
		ok "$replica: differing 240, extra 57, missing 45; 297 deleted, $((285 + ledger_rows)) re-copied (ledger whole)" ||
		not_ok "$replica: re-sync counts (different|extra|missing|deleted|recopied|whole) $expected (got '${got%|*}')"
	source_rows=${got##*|}
	recopied=$(cut -d'|' -f5 <<<"$got")
	if [ -n "$source_rows" ] && [ "$((recopied * 10))" -lt "$source_rows" ]; then
		ok "$replica: $recopied rows re-copied < 10% of the $source_rows source rows"
	else
		not_ok "$replica: $recopied rows re-copied < 10% of the ${source_rows:-?} source rows"
	fi
done
got=$(on_new "SELECT count(*) FROM mosta.activity WHERE action = 'resnapshot' AND detail->>'replica' = 'dump'
                 AND detail->>'message' LIKE '%cannot be compared%'")
[ "$got" = 1 ] && ok "the SQL dump is copied whole, loudly (activity resnapshot)" ||
	not_ok "the SQL dump is copied whole, loudly (activity resnapshot: $got rows)"
grep -q "re-synced by key-range checksums" "$work/log.daemon" && ok "the daemon logs the re-sync" ||
	not_ok "the daemon logs the re-sync"

# 5. more writes on the new primary stream to every target
psql -X -q -h 127.0.0.1 -p "$standby_port" -d "$db" -c "CALL churn(301, 100)" >"$work/log.workload2" 2>&1 &&
	ok "writes on the new primary (100 transactions)" || not_ok "writes on the new primary"
wait_caught_up "$standby_port" "the new primary's writes reached every target"

# 6. the targets equal the new primary
if "$BINARY" verify r1 --source "host=127.0.0.1 port=$standby_port dbname=$db user=$PGUSER" >"$work/verify.out" 2>&1; then
	ok "mosta-sidecar verify r1: SQLite and MongoDB match the new primary"
else
	not_ok "mosta-sidecar verify r1: SQLite and MongoDB match the new primary"
	cat "$work/verify.out" >&2
fi
sed 's/^/    /' "$work/verify.out"
mongo_count=$("$python" -c 'import sys, pymongo
db = pymongo.MongoClient(sys.argv[1]).get_default_database()
print(db["acct"].count_documents({}), db["doc"].count_documents({}), db["ledger"].count_documents({}))' "$mongo_uri" 2>&1)
source_count=$(on_new "SELECT (SELECT count(*) FROM acct) || ' ' || (SELECT count(*) FROM doc) || ' ' || (SELECT count(*) FROM ledger)")
[ "$mongo_count" = "$source_count" ] && ok "pymongo: MongoDB holds as many documents as the new primary rows ($source_count)" ||
	not_ok "pymongo: MongoDB holds as many documents as the new primary rows ($source_count, got '$mongo_count')"

replay=${db}_replay
createdb -h 127.0.0.1 -p "$standby_port" "$replay" || not_ok "createdb $replay"
on_replay() { psql -X -q -h 127.0.0.1 -p "$standby_port" -d "$replay" "$@"; }
if on_replay -v ON_ERROR_STOP=1 -f "$work/app.sql" >"$work/replay.log" 2>&1; then
	ok "sql dump replays with psql"
else
	not_ok "sql dump replays with psql"
	tail -5 "$work/replay.log" >&2
fi
on_replay -c "CREATE SCHEMA src" >/dev/null
for table in acct doc ledger; do
	on_replay -c "CREATE TABLE src.$table (LIKE public.$table)" >/dev/null 2>&1
	psql -X -q -h 127.0.0.1 -p "$standby_port" -d "$db" -c "COPY public.$table TO STDOUT" |
		on_replay -c "COPY src.$table FROM STDIN"
	diff=$(on_replay -At -c "SELECT (SELECT count(*) FROM (SELECT * FROM public.$table EXCEPT ALL SELECT * FROM src.$table) a)
	                          + (SELECT count(*) FROM (SELECT * FROM src.$table EXCEPT ALL SELECT * FROM public.$table) b)" 2>&1)
	[ "$diff" = 0 ] && ok "sql dump: $table equals the new primary" ||
		not_ok "sql dump: $table equals the new primary ($diff rows differ)"
done
dropdb -h 127.0.0.1 -p "$standby_port" "$replay" >/dev/null 2>&1

stop_daemon "the daemon stops on SIGTERM (exit 0)"

# 7. a re-sync that did not finish (the daemon killed during it leaves the target's status at snapshot, and its
# checkpoint may be of the old primary's WAL): the next run copies that target whole, loudly
on_new "UPDATE mosta.target_status SET status = 'snapshot' WHERE rule = 'r1' AND replica = 'lite'" >/dev/null
psql -X -q -h 127.0.0.1 -p "$standby_port" -d "$db" -c "CALL churn(401, 20)" >/dev/null 2>&1
"$BINARY" --source "$source_dsn" --status-interval 200ms --poll-interval 100ms 2>>"$work/log.daemon" &
daemon=$!
unfinished() {
	[ "$(on_new "SELECT count(*) FROM mosta.activity WHERE action = 'resnapshot' AND detail->>'replica' = 'lite'
	               AND detail->>'message' LIKE '%did not finish%'")" = 1 ]
}
poll_until 60 unfinished && ok "an unfinished re-sync is followed by a whole copy, loudly (activity resnapshot)" ||
	not_ok "an unfinished re-sync is followed by a whole copy, loudly (activity resnapshot)"
wait_caught_up "$standby_port" "the copied target caught up"
if "$BINARY" verify r1 --source "host=127.0.0.1 port=$standby_port dbname=$db user=$PGUSER" >"$work/verify2.out" 2>&1; then
	ok "mosta-sidecar verify r1 after the copy: every collection matches"
else
	not_ok "mosta-sidecar verify r1 after the copy: every collection matches"
	cat "$work/verify2.out" >&2
fi
stop_daemon "the daemon stops on SIGTERM again (exit 0)"
finish
