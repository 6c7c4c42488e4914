#!/usr/bin/env bash
# sidecar_stop.sh: a stopped daemon does not look healthy (issue 10, item 6), cluster of PGHOST/PGPORT/PGUSER as
# scripts/pg-cluster run provides. A daemon streams rule r1 into a SQLite slave; once it reports the slave up,
# mosta_read_replica('app') routes reads there.
#   1. SIGTERM: the daemon exits 0 and has marked its target stopped (mosta_rule_targets(), mosta_rules()) and
#      the replica down with its lag unknown; reads go to the master at once.
#   2. SIGKILL of a new daemon: nothing is written, so the last report (up) stands until it is older than
#      mostajs.status_max_age; with the bound set to 3 s for the reading session (the daemon reports every
#      500 ms), reads go to the master within the bound and mosta_replica_status() says unknown.
# Every wait polls with a deadline. Prints "sidecar_stop: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_stop
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work (MOSTA_DATA_DIR), $daemon, scalar, stop_daemon and the exit trap
use_database mosta_sidecar_stop_$$

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 50) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db', lag_tolerance_ms => 600000);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SQL

# reader [MAX_AGE]: where mosta_read_replica('app') sends reads, with mostajs.status_max_age set when given
reader() { PGOPTIONS=${1:+"-c mostajs.status_max_age=$1"} psql -X -At -d "$db" -c "SELECT mosta_read_replica('app')" 2>&1; }
reads_go_to() { [ "$(reader "${2:-}")" = "$1" ]; }
start_daemon() {
	PGDATABASE=$db "$BINARY" --status-interval 500ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
}

start_daemon
if poll_until 60 reads_go_to lite; then ok "a running daemon's slave takes the reads"; else not_ok "a running daemon's slave takes the reads (got '$(reader)')"; fi

# 1. a clean stop
stop_daemon "SIGTERM: the daemon exits 0"
got=$(scalar "SELECT status FROM mosta_rule_targets() WHERE rule = 'r1' AND replica = 'lite'")
if [ "$got" = stopped ]; then ok "the target is stopped in mosta_rule_targets()"; else not_ok "the target is stopped in mosta_rule_targets() (got '$got')"; fi
got=$(scalar "SELECT status FROM mosta_rules() WHERE name = 'r1'")
if [ "$got" = stopped ]; then ok "the rule is stopped in mosta_rules()"; else not_ok "the rule is stopped in mosta_rules() (got '$got')"; fi
got=$(scalar "SELECT status || ':' || coalesce(lag_ms::text, 'unknown') || ':' || coalesce(lag_bytes::text, 'unknown')
                || ':' || within_tolerance FROM mosta_replica_status('app') WHERE replica = 'lite'")
if [ "$got" = "down:unknown:unknown:false" ]; then ok "the replica is down, its lag unknown"; else not_ok "the replica is down, its lag unknown (got '$got')"; fi
got=$(reader)
if [ "$got" = master ]; then ok "reads go to the master at once after a clean stop"; else not_ok "reads go to the master at once after a clean stop (got '$got')"; fi
grep -q "target app.lite: stopped: the sidecar stopped" "$work/log.daemon" && ok "the stop is logged" || not_ok "the stop is logged"

# 2. SIGKILL: the staleness bound
start_daemon
if poll_until 60 reads_go_to lite 3s; then ok "restarted, the slave takes the reads again (bound 3 s)"; else not_ok "restarted, the slave takes the reads again (got '$(reader 3s)')"; fi
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
daemon=
killed_at=$SECONDS
if poll_until 10 reads_go_to master 3s; then
	ok "after SIGKILL, reads go to the master within the staleness bound ($((SECONDS - killed_at)) s, bound 3 s)"
else
	not_ok "after SIGKILL, reads go to the master within the staleness bound (got '$(reader 3s)')"
fi
got=$(PGOPTIONS="-c mostajs.status_max_age=3s" psql -X -At -d "$db" -c "SELECT status || ':' || coalesce(lag_ms::text,
        'unknown') || ':' || within_tolerance FROM mosta_replica_status('app') WHERE replica = 'lite'" 2>&1)
if [ "$got" = "unknown:unknown:false" ]; then ok "a stale report shows unknown"; else not_ok "a stale report shows unknown (got '$got')"; fi

finish
