#!/usr/bin/env bash
# sidecar_crash.sh: mosta-sidecar survives SIGKILL at random points (cluster of PGHOST/PGPORT/PGUSER, as
# scripts/pg-cluster run provides). Declares project 'app' (postgres master, sqlite and sqldump slaves) and a cdc
# rule on '*'; starts the daemon in the background and a workload in the background (about 20,000 inserts,
# updates and deletes in small transactions on a keyed table and on a keyless REPLICA IDENTITY FULL table, and one
# transaction of 100,000 rows); kills the daemon with SIGKILL 14 times (at least 10 while it streams), each time once
# mosta.rule_stats.changes_applied has passed a random threshold (polled, with a deadline), restarting it each
# time; then runs "mosta-sidecar --once" and checks: the SQLite file equals the source row by row (as multisets:
# no duplicates, including on the keyless table), and the SQL dump replayed into a fresh database equals the
# source (EXCEPT ALL both ways).
# The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "sidecar_crash: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_crash
require_cluster
require_sidecar
KILLS=${MOSTA_CRASH_KILLS:-14}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar and the exit trap, which kills the daemon, runs
# cleanup_extra (the workload, the sessions left, the replay database) and drops the slots, $db and $work
use_database mosta_sidecar_crash_$$
replay=${db}_replay
workload=
cleanup_extra() {
	[ -n "$workload" ] && kill "$workload" 2>/dev/null && wait "$workload" 2>/dev/null
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('$db', '$replay') AND pid <> pg_backend_pid()" >/dev/null 2>&1
	dropdb --if-exists "$replay" >/dev/null 2>&1
}
export PGTZ=UTC

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE acct (id int PRIMARY KEY, balance bigint, note text);
CREATE TABLE bulk (id int PRIMARY KEY, payload text);
CREATE TABLE ledger (seq int, kind text, amount int); -- no primary key: replayed changes would show as duplicates
ALTER TABLE ledger REPLICA IDENTITY FULL;
INSERT INTO acct SELECT i, 0, 'seed ' || i FROM generate_series(1, 1000) i;
INSERT INTO ledger SELECT i, 'seed', i FROM generate_series(1, 500) i;
-- rounds of small transactions: ~20 changes each (inserts, updates, deletes, on both tables)
CREATE PROCEDURE churn(first int, rounds int) LANGUAGE plpgsql AS $$
BEGIN
	FOR r IN first .. first + rounds - 1 LOOP
		INSERT INTO acct SELECT 100000 + r * 5 + g, r, 'new ' || r FROM generate_series(0, 4) g;
		UPDATE acct SET balance = balance + 1, note = 'upd ' || r WHERE id % 97 = r % 97;
		DELETE FROM acct WHERE id = 100000 + (r - 1) * 5 + 2;
		INSERT INTO ledger VALUES (10000 + r, 'in', r), (20000 + r, 'in', -r);
		UPDATE ledger SET amount = amount + 1, kind = 'upd' WHERE seq = 10000 + r - 1;
		DELETE FROM ledger WHERE seq = 20000 + r - 1;
		COMMIT;
	END LOOP;
END $$;
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" -v dump="$work/app.sql" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

start_daemon() {
	echo "--- start $1" >>"$work/log.daemon"
	PGDATABASE=$db "$BINARY" --status-interval 100ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
}
changes_applied() { scalar "SELECT coalesce((SELECT changes_applied FROM mosta.rule_stats WHERE rule = 'r1'), 0)"; }
workload_done() { ! kill -0 "$workload" 2>/dev/null; }
# caught_up: the workload is over and the sinks confirmed a heartbeat written after it (the daemon's own status
# writes move pg_current_wal_lsn(), so the target is fixed once)
end_lsn=
caught_up() {
	[ -n "$end_lsn" ] || end_lsn=$(scalar "SELECT mosta_heartbeat()::text")
	[ "$(scalar "SELECT coalesce((SELECT confirmed_lsn >= '$end_lsn' FROM mosta.rule_stats WHERE rule = 'r1'), false)")" = t ]
}

start_daemon 0
# the workload, in the background: small transactions, the 100,000-row transaction, more small transactions
psql_db >"$work/log.workload" 2>&1 <<'SQL' &
CALL churn(1, 500);
BEGIN;
INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series(1, 100000) g;
INSERT INTO ledger SELECT 50000 + g, 'bulk', g FROM generate_series(1, 1000) g;
UPDATE acct SET note = 'in the big one' WHERE id % 10 = 0;
COMMIT;
CALL churn(501, 800);
UPDATE bulk SET payload = 'changed' WHERE id % 1000 = 0;
DELETE FROM bulk WHERE id % 1000 = 1;
DELETE FROM ledger WHERE seq % 7 = 0;
SQL
workload=$!

# The kills: each at a random number of applied changes past the previous restart.
kills=0
idle_kills=0
big_kills=0   # killed while the 100,000-row transaction was committed in the source but not yet in SQLite
after_kills=0 # killed after SQLite had it
for ((round = 1; round <= KILLS; round++)); do
	base=$(changes_applied)
	# small steps restart the 100,000-row transaction again and again; one long step lets it through
	# through, then small steps through the ~16,000 changes after it
	if [ "$round" -le $((KILLS / 2)) ]; then
		threshold=$((base + 1000 + RANDOM % 25000))
	elif [ "$round" -eq $((KILLS / 2 + 1)) ]; then
		threshold=$((base + 105000 + RANDOM % 5000))
	else
		threshold=$((base + 200 + RANDOM % 2500))
	fi
	deadline=$((SECONDS + 60))
	reason=
	while :; do
		current=$(changes_applied)
		if [ "${current:-0}" -ge "$threshold" ]; then
			reason="changes_applied $current >= $threshold"
			break
		fi
		if workload_done && caught_up; then
			reason="caught up at $current"
			idle_kills=$((idle_kills + 1))
			break
		fi
		[ $SECONDS -lt $deadline ] || break
		sleep 0.05 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	if [ -z "$reason" ]; then
		not_ok "kill $round: no progress in 60 s (changes_applied ${current:-?}, threshold $threshold)"
		tail -20 "$work/log.daemon" >&2
		finish
	fi
	kill -9 "$daemon"
	wait "$daemon" 2>/dev/null
	kills=$((kills + 1))
	lite_bulk=$(python3 -c 'import sqlite3, sys
try: print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM \"public.bulk\"").fetchone()[0])
except Exception: print(0)' "$work/app.db")
	echo "    kill $round: SIGKILL ($reason; sqlite holds $lite_bulk rows of bulk)"
	if [ "$lite_bulk" -eq 0 ] && [ "$(scalar "SELECT count(*) > 0 FROM bulk")" = t ]; then
		big_kills=$((big_kills + 1))
	elif [ "$lite_bulk" -gt 0 ]; then
		after_kills=$((after_kills + 1))
	fi
	start_daemon "$round"
done
if [ $((kills - idle_kills)) -ge 10 ]; then
	ok "SIGKILL'd the sidecar $kills times, $((kills - idle_kills)) of them while streaming"
else
	not_ok "SIGKILL'd the sidecar $kills times, only $((kills - idle_kills)) of them while streaming"
fi
if [ "$big_kills" -gt 0 ] && [ "$after_kills" -gt 0 ]; then
	ok "kills before the 100,000-row transaction reached SQLite ($big_kills) and after ($after_kills)"
else
	not_ok "kills before the 100,000-row transaction reached SQLite ($big_kills) and after ($after_kills)"
fi

if wait "$workload"; then ok "workload ran"; else not_ok "workload ran"; cat "$work/log.workload" >&2; fi
workload=
total=$(scalar "SELECT (SELECT count(*) FROM acct) + (SELECT count(*) FROM bulk) + (SELECT count(*) FROM ledger)")
echo "    source: $total rows"

# the last daemon dies too, then --once finishes the job (once the server has let go of the slot)
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
daemon=
deadline=$((SECONDS + 30))
until [ "$(scalar "SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND active")" = 0 ]; do
	[ $SECONDS -lt $deadline ] || break
	sleep 0.05 # --allow-sleep: poll interval of a loop bounded by the deadline
done
if PGDATABASE=$db "$BINARY" --once --status-interval 1s 2>"$work/log.once"; then
	ok "mosta-sidecar --once exits 0"
else
	not_ok "mosta-sidecar --once exits 0"
	cat "$work/log.once" >&2
	tail -30 "$work/log.daemon" >&2
fi

# SQLite equals the source row by row, as multisets (a doubled row on the keyless table shows).
python3 - "$work/app.db" "$db" <<'PY' && ok "sqlite equals source row by row, no duplicates" || not_ok "sqlite equals source row by row, no duplicates"
import collections, json, sqlite3, subprocess, sys
path, db = sys.argv[1], sys.argv[2]
tables = {"acct": ["id", "balance", "note"], "bulk": ["id", "payload"], "ledger": ["seq", "kind", "amount"]}
lite = sqlite3.connect(path)
bad = 0
for table, cols in tables.items():
    sql = f"SELECT json_build_array({', '.join(cols)}) FROM public.{table}"
    out = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", sql], check=True, capture_output=True, text=True).stdout
    source = collections.Counter(tuple(json.loads(line)) for line in out.splitlines())
    target = collections.Counter(tuple(r) for r in lite.execute(f'SELECT {", ".join(cols)} FROM "public.{table}"'))
    doubled = sum(n - 1 for n in target.values() if n > 1)
    keys = collections.Counter(row[0] for row in target.elements())
    doubled_keys = sum(n - 1 for n in keys.values() if n > 1)
    if source != target or doubled_keys:
        bad += 1
        print(f"public.{table}: source {sum(source.values())} rows, sqlite {sum(target.values())} rows, "
              f"{doubled} doubled rows, {doubled_keys} doubled keys", file=sys.stderr)
        print(f"  missing: {list((source - target).elements())[:3]}", file=sys.stderr)
        print(f"  extra:   {list((target - source).elements())[:3]}", file=sys.stderr)
    else:
        print(f"    public.{table}: {sum(source.values())} rows equal")
sys.exit(1 if bad else 0)
PY

# The SQL dump, replayed into a fresh database, equals the source (EXCEPT ALL both ways).
createdb "$replay"
if psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -f "$work/app.sql" >"$work/replay.log" 2>&1; then
	ok "sql dump replays with psql"
else
	not_ok "sql dump replays with psql"
	tail -5 "$work/replay.log" >&2
fi
psql -X -q -d "$replay" -c "CREATE SCHEMA src" >/dev/null
for table in acct bulk ledger; do
	psql -X -q -d "$replay" -c "CREATE TABLE src.$table (LIKE public.$table)" >/dev/null 2>&1
	psql -X -q -d "$db" -c "COPY public.$table TO STDOUT" | psql -X -q -d "$replay" -c "COPY src.$table FROM STDIN"
	diff=$(psql -X -At -d "$replay" -c "SELECT (SELECT count(*) FROM (SELECT * FROM public.$table EXCEPT ALL SELECT * FROM src.$table) a) + (SELECT count(*) FROM (SELECT * FROM src.$table EXCEPT ALL SELECT * FROM public.$table) b) || ' ' || (SELECT count(*) FROM src.$table)" 2>&1)
	case $diff in
	"0 "[1-9]*) ok "dump replay equals source: $table (${diff#0 } rows)" ;;
	*) not_ok "dump replay equals source: $table ($diff)" ;;
	esac
done

finish
