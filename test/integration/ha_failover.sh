#!/usr/bin/env bash
# ha_failover.sh: mosta-sidecar failover (issue 13, item 7a; docs/failover.md). On the cluster of PGHOST/PGPORT/
# PGUSER and MOSTA_CLUSTER_DIR (as scripts/pg-cluster run provides), the primary, it starts two streaming standbys
# named after their catalog replicas (standby1 synchronous: synchronous_standby_names = 'standby1' on the primary;
# standby2 asynchronous), declares the three in project app (tolerance 0 for both standbys), runs the daemon until
# it has reported standby1 sync and standby2 async, pauses standby2's WAL replay, and runs a bounded write load
# (single-row INSERT commits, each id logged only after psql returned success). Mid-load it kills the primary's
# postmaster (kill -9), then, with a multi-host --source that names all three nodes:
#   - failover refused while nothing qualifies: --to a replica that is not a postgres slave, --to standby2 (async,
#     tolerance 0): exit 1, the message names the replica, its last observation and --allow-data-loss, nothing
#     changed (standby2 still in recovery, the catalog unchanged);
#   - failover --to standby1: every acknowledged id is on standby1, standby1 writable, the catalog's master is
#     standby1 (the old primary a slave, down), standby2 repointed (primary_conninfo without a password, its
#     application_name) and streaming from standby1 (pg_stat_replication) once its replay is resumed, holding a
#     row written on standby1 after the failover; one failover activity row with from/to/chosen_by, the
#     candidates' LSNs, the gate's last observation and the possible loss;
# and a second scenario on the new topology: while standby1 is up a failover is refused ("the master is up");
# then standby1 is killed (kill -9) and failover --to standby2 (async, tolerance 0) is refused without
# --allow-data-loss (the topology read past a silent first host of --source), as is a failover without --to (no
# eligible standby, each one's reason listed); failover --allow-data-loss promotes the best reachable standby,
# standby2, the activity row saying so. Every server and process it starts is stopped on exit (trap).
# The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "ha_failover: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it kills or demotes its primary: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_failover
require_cluster MOSTA_CLUSTER_DIR
require_sidecar

s1_dir=
s2_dir=
load=
silent=
cleanup_extra() {
	[ -n "$load" ] && kill "$load" 2>/dev/null && wait "$load" 2>/dev/null
	[ -n "$silent" ] && kill "$silent" 2>/dev/null
	[ -n "$s1_dir" ] && scripts/pg-cluster stop "$s1_dir" >/dev/null 2>&1
	[ -n "$s2_dir" ] && scripts/pg-cluster stop "$s2_dir" >/dev/null 2>&1
	return 0
}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the
# daemon, calls cleanup_extra and drops $db and $work
use_database mosta_ha_failover_$$
psql_db -c "CREATE EXTENSION mostajs" -c "CREATE TABLE acked (id int PRIMARY KEY)" ||
	{ not_ok "CREATE EXTENSION mostajs"; finish; }

start_standby standby1 s1_dir s1_port
start_standby standby2 s2_dir s2_port
p_port=$PGPORT

# on PORT SQL: one value from the node on PORT (127.0.0.1), errors on stderr
on() { psql -X -At -h 127.0.0.1 -p "$1" -d "$db" -c "$2"; }

# standby1 synchronous: set on the primary only, after the base backups (a standby promoted with its own name in
# synchronous_standby_names would wait for itself)
psql_db -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c "SELECT pg_reload_conf()" >/dev/null ||
	fail_setup "synchronous_standby_names"

uri() { echo "host=127.0.0.1 port=$1 dbname=$db user=postgres"; }
psql_db -o /dev/null -v p="$(uri "$p_port")" -v s1="$(uri "$s1_port")" -v s2="$(uri "$s2_port")" <<'SQL' ||
SELECT mosta_add_replica('app', 'primary', 'master', 'postgres', :'p');
SELECT mosta_add_replica('app', 'standby1', 'slave', 'postgres', :'s1', lag_tolerance_ms => 0);
SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', :'s2', lag_tolerance_ms => 0);
SQL
	fail_setup "catalog"
# every node: any live one serves the topology
source_dsn="host=127.0.0.1,127.0.0.1,127.0.0.1 port=$p_port,$s1_port,$s2_port dbname=$db user=postgres"

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
# the observation must be on standby1 too: the failover reads it from the standbys' catalog copies
observed() {
	[ "$(on "$s1_port" "SELECT string_agg(replica || '=' || status || '/' || coalesce(sync_state, '-'), ',' ORDER BY replica)
	                     FROM mosta.replica_status")" = "standby1=up/sync,standby2=up/async" ]
}
if poll_until 30 observed; then ok "the daemon reports standby1 sync and standby2 async (seen on standby1)"
else not_ok "the daemon reports standby1 sync and standby2 async (got '$(on "$s1_port" "SELECT string_agg(replica || '=' || status || '/' || coalesce(sync_state, '-'), ',') FROM mosta.replica_status")')"; fi

# standby2 falls behind: replay paused (it still receives WAL)
on "$s2_port" "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "pg_wal_replay_pause() on standby2"

# the load: one INSERT commit per psql; an id is logged only once psql has returned success (acknowledged)
: >"$work/acked"
(
	for i in $(seq 1 5000); do
		psql -X -q -h 127.0.0.1 -p "$p_port" -d "$db" -c "INSERT INTO acked VALUES ($i)" 2>/dev/null || break
		echo "$i" >>"$work/acked"
	done
) &
load=$!
some_acked() { [ "$(wc -l <"$work/acked")" -ge 200 ]; }
poll_until 60 some_acked || not_ok "200 commits acknowledged under load"

postmaster=$(head -1 "$MOSTA_CLUSTER_DIR/data/postmaster.pid")
kill -9 "$postmaster"
primary_dead() { ! psql -X -At -h 127.0.0.1 -p "$p_port" -d "$db" -c "SELECT 1" >/dev/null 2>&1; }
poll_until 30 primary_dead && ok "the primary's postmaster killed (kill -9) mid-load" ||
	not_ok "the primary's postmaster killed (kill -9) mid-load"
wait "$load"
load=
acked=$(wc -l <"$work/acked")
[ "$acked" -lt 5000 ] && ok "the load was cut by the kill ($acked commits acknowledged)" ||
	not_ok "the load was cut by the kill ($acked commits acknowledged)"
# the daemon's source is the dead primary: it cannot report anything more
kill -TERM "$daemon" 2>/dev/null
poll_until 30 daemon_gone || kill -9 "$daemon" 2>/dev/null
wait "$daemon" 2>/dev/null
daemon=

failover() { "$BINARY" failover app --source "$source_dsn" "$@"; }
catalog_on() { on "$1" "SELECT string_agg(name || '=' || role, ',' ORDER BY name) FROM mosta.replicas WHERE project = 'app'"; }
before_catalog=$(catalog_on "$s1_port")

# refused: not a postgres slave of the project
failover --to primary >"$work/out.notslave" 2>&1
status=$?
[ $status -eq 1 ] && grep -q 'replica "primary" is not a postgres slave of project "app"' "$work/out.notslave" &&
	grep -q "nothing was changed" "$work/out.notslave" &&
	ok "failover --to the master itself: refused (not a postgres slave), exit 1" ||
	{ not_ok "failover --to the master itself: refused (exit $status)"; cat "$work/out.notslave" >&2; }
failover --to nosuch >"$work/out.nosuch" 2>&1
[ $? -eq 1 ] && grep -q '"nosuch" is not a postgres slave of project "app" (no such replica)' "$work/out.nosuch" &&
	ok "failover --to an unknown replica: refused" ||
	{ not_ok "failover --to an unknown replica: refused"; cat "$work/out.nosuch" >&2; }
"$BINARY" failover nosuch_project --source "$source_dsn" >"$work/out.noproject" 2>&1
[ $? -eq 1 ] && grep -q 'project "nosuch_project" does not exist' "$work/out.noproject" &&
	ok "failover of an unknown project: refused" ||
	{ not_ok "failover of an unknown project: refused"; cat "$work/out.noproject" >&2; }

# refused: standby2 is async and behind, its tolerance 0
failover --to standby2 >"$work/out.refused" 2>&1
status=$?
if [ $status -eq 1 ] && grep -q "refusing to promote standby2: lag_tolerance_ms is 0 and it was not a synchronous standby at the last observation (sync_state async, status " "$work/out.refused" &&
	grep -q -- "--allow-data-loss" "$work/out.refused" && grep -q " old)" "$work/out.refused"; then
	ok "failover --to standby2 (async, tolerance 0): refused, naming its last observation and --allow-data-loss"
else
	not_ok "failover --to standby2 (async, tolerance 0): refused (exit $status)"
	cat "$work/out.refused" >&2
fi
[ "$(on "$s2_port" "SELECT pg_is_in_recovery()")" = t ] && ok "refused: standby2 still in recovery" ||
	not_ok "refused: standby2 still in recovery"
[ "$(on "$s1_port" "SELECT pg_is_in_recovery()")" = t ] && [ "$(catalog_on "$s1_port")" = "$before_catalog" ] &&
	ok "refused: standby1 untouched, the catalog unchanged ($before_catalog)" ||
	not_ok "refused: standby1 untouched, the catalog unchanged"
grep -q "password" "$work/out.refused" && not_ok "no password in the output" || ok "no password in the output"

# failover to the synchronous standby
failover --to standby1 >"$work/out.failover" 2>&1
status=$?
sed 's/^/    /' "$work/out.failover"
[ $status -eq 0 ] && ok "failover --to standby1 exits 0" || not_ok "failover --to standby1 exits 0 (exit $status)"
grep -q "^failover: done in [0-9]* ms: standby1 is the master of \"app\"" "$work/out.failover" &&
	ok "it prints the total time" || not_ok "it prints the total time"
[ "$(on "$s1_port" "SELECT pg_is_in_recovery()")" = f ] && ok "standby1 is a primary" || not_ok "standby1 is a primary"
on "$s1_port" "SELECT id FROM acked" | sort >"$work/on_standby1"
missing=$(sort "$work/acked" | comm -23 - "$work/on_standby1" | wc -l)
[ "$missing" -eq 0 ] && ok "every acknowledged commit ($acked) is on standby1" ||
	not_ok "every acknowledged commit is on standby1 ($missing of $acked missing)"
on "$s1_port" "INSERT INTO acked VALUES (-1)" >/dev/null && ok "standby1 accepts writes" ||
	not_ok "standby1 accepts writes"
[ "$(catalog_on "$s1_port")" = "primary=slave,standby1=master,standby2=slave" ] &&
	ok "catalog on standby1: standby1 master, primary and standby2 slaves" ||
	not_ok "catalog on standby1: standby1 master (got $(catalog_on "$s1_port"))"
got=$(on "$s1_port" "SELECT status || ': ' || last_error FROM mosta.replica_status WHERE replica = 'primary'")
[[ "$got" == "down: former master, replaced by standby1"* ]] && ok "the old primary's status: down until it rejoins" ||
	not_ok "the old primary's status: down until it rejoins (got '$got')"

got=$(on "$s2_port" "SHOW primary_conninfo")
[[ "$got" == *"port='$s1_port'"* && "$got" == *"application_name='standby2'"* && "$got" != *password* ]] &&
	ok "standby2's primary_conninfo names standby1 and application_name standby2, no password" ||
	not_ok "standby2's primary_conninfo names standby1 (got '$got')"
on "$s2_port" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "pg_wal_replay_resume() on standby2"
streaming() { [ "$(on "$s1_port" "SELECT state FROM pg_stat_replication WHERE application_name = 'standby2'")" = streaming ]; }
poll_until 60 streaming && ok "standby2 streams from standby1 (pg_stat_replication)" ||
	not_ok "standby2 streams from standby1 (pg_stat_replication)"
has_new_row() { [ "$(on "$s2_port" "SELECT count(*) FROM acked WHERE id = -1")" = 1 ]; }
poll_until 60 has_new_row && ok "standby2 replays a row written on standby1 after the failover" ||
	not_ok "standby2 replays a row written on standby1 after the failover"

activity=$(on "$s1_port" "SELECT concat_ws('|', project, object, detail->>'from', detail->>'to', detail->>'chosen_by',
                                detail->>'allow_data_loss', detail #>> '{gate,allows}',
                                detail #>> '{gate,last_observation,sync_state}',
                                jsonb_array_length(detail->'candidates'),
                                (SELECT count(*) FROM jsonb_array_elements(detail->'candidates') c
                                  WHERE c->>'receive_lsn' IS NOT NULL AND c->>'replay_lsn' IS NOT NULL),
                                detail->>'promoted_lsn' IS NOT NULL, detail #>> '{possible_loss,known_bytes}' IS NOT NULL,
                                detail #>> '{possible_loss,beyond}' LIKE 'unknown%', detail->'repointed')
                            FROM mosta.activity WHERE action = 'failover'")
[ "$activity" = 'app|standby1|primary|standby1|named|false|true|sync|2|2|t|t|t|["standby2"]' ] &&
	ok "one failover activity row: from, to, chosen_by, the gate's observation, the candidates' LSNs, the possible loss" ||
	not_ok "one failover activity row (got '$activity')"

# second scenario: standby1 is the master now
failover --to standby2 >"$work/out.up" 2>&1
[ $? -eq 1 ] && grep -q "the master standby1 is up" "$work/out.up" && grep -q "switchover" "$work/out.up" &&
	ok "failover while the master (standby1) is up: refused, use switchover" ||
	{ not_ok "failover while the master is up: refused"; cat "$work/out.up" >&2; }
postmaster=$(head -1 "$s1_dir/data/postmaster.pid")
kill -9 "$postmaster"
s1_dead() { ! on "$s1_port" "SELECT 1" >/dev/null 2>&1; }
poll_until 30 s1_dead || not_ok "standby1 killed"
# a silent first host (accepts TCP connections, never answers): the next hosts of --source still serve
python3 -c 'import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
signal.pause()' >"$work/silent.port" &
silent=$!
silent_listening() { [ -s "$work/silent.port" ]; }
poll_until 10 silent_listening || not_ok "a silent listener"
silent_port=$(cat "$work/silent.port")
"$BINARY" failover app --to standby2 --source "host=127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1 \
port=$silent_port,$p_port,$s1_port,$s2_port dbname=$db user=postgres" >"$work/out.async" 2>&1
[ $? -eq 1 ] && grep -q "refusing to promote standby2" "$work/out.async" &&
	grep -q "topology read from 127.0.0.1:$s2_port" "$work/out.async" &&
	[ "$(on "$s2_port" "SELECT pg_is_in_recovery()")" = t ] &&
	ok "standby1 dead: failover --to standby2 (async) refused without --allow-data-loss (topology read past a silent host and two dead ones)" ||
	{ not_ok "standby1 dead: failover --to standby2 refused"; cat "$work/out.async" >&2; }
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null
silent=
# without --to: the best eligible standby; standby2 is the only one reachable and the gate refuses it
failover >"$work/out.best" 2>&1
[ $? -eq 1 ] && grep -q 'no standby of project "app" can be promoted without losing data; primary: unreachable' \
	"$work/out.best" && grep -q "standby2: lag_tolerance_ms is 0" "$work/out.best" &&
	ok "failover without --to: refused, every standby's reason listed" ||
	{ not_ok "failover without --to: refused"; cat "$work/out.best" >&2; }
failover --allow-data-loss >"$work/out.lossy" 2>&1
status=$?
sed 's/^/    /' "$work/out.lossy"
[ $status -eq 0 ] && grep -q "best eligible standby: standby2" "$work/out.lossy" &&
	grep -q "WARNING: promoting standby2 past the lag gate (--allow-data-loss)" "$work/out.lossy" &&
	ok "failover --allow-data-loss: the best reachable standby (standby2) promoted, with the warning" ||
	not_ok "failover --allow-data-loss: standby2 promoted (exit $status)"
[ "$(on "$s2_port" "SELECT pg_is_in_recovery()")" = f ] && on "$s2_port" "INSERT INTO acked VALUES (-2)" >/dev/null &&
	ok "standby2 is a writable primary" || not_ok "standby2 is a writable primary"
got=$(on "$s2_port" "SELECT concat_ws('|', detail->>'from', detail->>'to', detail->>'chosen_by', detail->>'allow_data_loss',
                            detail #>> '{gate,allows}')
                     FROM mosta.activity WHERE action = 'failover' ORDER BY id DESC LIMIT 1")
[ "$got" = "standby1|standby2|best|true|false" ] && ok "its activity row: allow_data_loss true, the gate failed" ||
	not_ok "its activity row: allow_data_loss true, the gate failed (got '$got')"
[ "$(catalog_on "$s2_port")" = "primary=slave,standby1=slave,standby2=master" ] &&
	ok "catalog on standby2: standby2 master" || not_ok "catalog on standby2: standby2 master (got $(catalog_on "$s2_port"))"
finish
