#!/usr/bin/env bash
# sidecar_reconnect.sh: mosta-sidecar reconnects and resumes after losing its source (cluster of PGHOST/PGPORT/
# PGUSER and MOSTA_CLUSTER_DIR, as scripts/pg-cluster run provides). Starts the daemon in the background with a
# cdc rule to a SQLite file and an SQL dump; makes changes and waits until they are applied; terminates the
# daemon's walsender (pg_terminate_backend of the slot's active_pid), makes more changes and checks that the daemon
# reconnects (a new walsender holds the slot) and the targets catch up; then restarts PostgreSQL itself
# (pg_ctl restart -m fast) and checks the same; finally SIGTERM, which must exit 0. Every wait polls with a
# deadline. The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "sidecar_reconnect: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_reconnect
require_cluster MOSTA_CLUSTER_DIR
require_sidecar

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the
# daemon and drops the slots, $db and $work
use_database mosta_sidecar_reconnect_$$
as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 100) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" -v dump="$work/app.sql" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!

# sqlite_state prints "<rows> <sum of ids> <rows whose v is current>" of the SQLite copy of t.
sqlite_state() {
	python3 -c 'import sqlite3, sys
try:
    db = sqlite3.connect(sys.argv[1])
    print(*db.execute("SELECT count(*), coalesce(sum(id), 0), count(*) FILTER (WHERE v LIKE ?) FROM \"public.t\"", (sys.argv[2],)).fetchone())
except Exception as e:
    print("error", e)' "$work/app.db" "$1"
}

# caught_up LABEL PATTERN: waits (deadline 60 s) until the rule's sinks confirmed a heartbeat written now and the
# SQLite copy equals the source's count, sum and number of rows whose v matches PATTERN.
caught_up() {
	local label=$1 pattern=$2 target expected state confirmed deadline=$((SECONDS + 60))
	# the heartbeat's own position: pg_current_wal_lsn() would also count the daemon's status writes, which
	# never reach the slot (the mosta schema is not replicated) and so can never be confirmed
	target=$(scalar "SELECT mosta_heartbeat()")
	expected=$(scalar "SELECT count(*) || ' ' || coalesce(sum(id), 0) || ' ' || count(*) FILTER (WHERE v LIKE '$pattern') FROM t")
	while :; do
		confirmed=$(scalar "SELECT confirmed_lsn >= '$target' FROM mosta.rule_stats WHERE rule = 'r1'")
		state=$(sqlite_state "$pattern")
		[ "$confirmed" = t ] && [ "$state" = "$expected" ] && break
		if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then
			not_ok "$label: caught up (confirmed '$confirmed', sqlite '$state', source '$expected')"
			tail -20 "$work/log.daemon" >&2
			return 1
		fi
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	ok "$label: caught up ($expected)"
}

# walsender prints the pid of the walsender holding the rule's slot, waiting for one (deadline 60 s).
walsender() {
	local pid deadline=$((SECONDS + 60))
	while :; do
		pid=$(scalar "SELECT active_pid FROM pg_replication_slots WHERE slot_name IN (SELECT slot FROM mosta.target_status WHERE rule = 'r1') AND active LIMIT 1")
		[ -n "$pid" ] && break
		[ $SECONDS -lt $deadline ] || break
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	echo "$pid"
}

psql_db -c "INSERT INTO t SELECT i, 'one ' || i FROM generate_series(101, 200) i; UPDATE t SET v = 'one' WHERE id <= 10; DELETE FROM t WHERE id BETWEEN 11 AND 20"
caught_up "before any loss" "one%"

# 1. The walsender dies (connection loss).
first=$(walsender)
if [ -n "$first" ] && [ "$(scalar "SELECT pg_terminate_backend($first)")" = t ]; then
	ok "terminated the walsender ($first)"
else
	not_ok "terminated the walsender ('$first')"
fi
psql_db -c "INSERT INTO t SELECT i, 'two ' || i FROM generate_series(201, 300) i; UPDATE t SET v = 'two' WHERE id <= 30; DELETE FROM t WHERE id BETWEEN 41 AND 50"
second=$(walsender)
if [ -n "$second" ] && [ "$second" != "$first" ]; then ok "reconnected (walsender $second)"; else not_ok "reconnected ('$second' after '$first')"; fi
caught_up "after pg_terminate_backend" "two%"

# 2. PostgreSQL restarts.
if as_server_user "$(pg_config --bindir)/pg_ctl" -D "$MOSTA_CLUSTER_DIR/data" -l "$MOSTA_CLUSTER_DIR/postgres.log" -w -t 60 restart -m fast >"$work/log.restart" 2>&1; then
	ok "postgres restarted"
else
	not_ok "postgres restarted"
	cat "$work/log.restart" >&2
fi
psql_db -c "INSERT INTO t SELECT i, 'three ' || i FROM generate_series(301, 400) i; UPDATE t SET v = 'three' WHERE id <= 60; DELETE FROM t WHERE id BETWEEN 61 AND 70"
third=$(walsender)
if [ -n "$third" ]; then ok "reconnected after the restart (walsender $third)"; else not_ok "reconnected after the restart"; fi
caught_up "after the restart" "three%"
if grep -q 'retrying in' "$work/log.daemon"; then ok "the daemon logged its retries"; else not_ok "the daemon logged its retries"; fi

# 3. SIGTERM: exit 0.
stop_daemon "SIGTERM: exits 0"
sed 's/^/    /' "$work/log.daemon" | grep -E 'retrying|error|stopp|streaming' | head -20

finish
