#!/usr/bin/env bash
# standby_status.sh: mosta-sidecar reports PostgreSQL physical standbys in mosta.replica_status (issue 13, item 1)
# and mosta_read_replica() routes over them. On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (as
# scripts/pg-cluster run provides), the primary, it starts a streaming standby (scripts/pg-cluster standby), an
# independent cluster (scripts/pg-cluster start) and a standby of that one, declares the three as postgres slaves
# of a project whose master is the primary, runs the daemon, and checks, polling with deadlines: the standby up
# with lag_bytes and lag_ms 0 on an idle primary, sync_state async (sync once synchronous_standby_names names it),
# chosen by mosta_read_replica; the independent cluster in error ("not in recovery"), the other cluster's standby
# in error ("different system identifier"); with its WAL replay paused and writes on the primary, lag_bytes > 0
# and lag_ms past its tolerance, so the master is chosen; resumed, up and chosen again; frozen (SIGSTOP), down
# after the 5 s check timeout, then up again; stopped, down; the daemon stopped, its standbys unknown. Every
# cluster it starts is stopped on exit (trap).
# The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "standby_status: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init standby_status
require_cluster MOSTA_CLUSTER_DIR
require_sidecar

standby_dir=
other_dir=
foreign_dir=
frozen=
cleanup_extra() {
	[ -n "$frozen" ] && kill -CONT $frozen 2>/dev/null
	psql -X -q -d postgres -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" \
		>/dev/null 2>&1
	[ -n "$standby_dir" ] && scripts/pg-cluster stop "$standby_dir" >/dev/null 2>&1
	[ -n "$foreign_dir" ] && scripts/pg-cluster stop "$foreign_dir" >/dev/null 2>&1
	[ -n "$other_dir" ] && scripts/pg-cluster stop "$other_dir" >/dev/null 2>&1
	return 0
}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap, which kills the
# daemon, calls cleanup_extra and drops $db and $work
use_database mosta_standby_status_$$
psql_db -c "CREATE EXTENSION mostajs" || { not_ok "CREATE EXTENSION mostajs"; finish; }

start_standby standby standby_dir standby_port
out=$(scripts/pg-cluster start) || fail_setup "scripts/pg-cluster start failed"
other_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
other_port=$(env_value "$out" PGPORT)
out=$(scripts/pg-cluster standby "$other_dir") || fail_setup "scripts/pg-cluster standby of the other cluster failed"
foreign_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
foreign_port=$(env_value "$out" PGPORT)
on_standby() { psql -X -At -h 127.0.0.1 -p "$standby_port" -d "$db" -c "$1"; }

[ "$(on_standby "SELECT pg_is_in_recovery()")" = t ] && ok "the standby is in recovery" ||
	not_ok "the standby is in recovery"

psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" \
	-v standby="host=127.0.0.1 port=$standby_port dbname=$db user=postgres" \
	-v other="host=127.0.0.1 port=$other_port dbname=postgres user=postgres" \
	-v foreign="host=127.0.0.1 port=$foreign_port dbname=postgres user=postgres" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'standby', 'slave', 'postgres', :'standby', lag_tolerance_ms => 2000);
SELECT mosta_add_replica('app', 'other', 'slave', 'postgres', :'other', lag_tolerance_ms => 2000);
SELECT mosta_add_replica('app', 'foreign', 'slave', 'postgres', :'foreign', lag_tolerance_ms => 2000);
SELECT mosta_add_replica('gone', 'master', 'master', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=postgres');
SELECT mosta_add_replica('gone', 'gone_standby', 'slave', 'postgres', :'standby');
SELECT mosta_add_replica('orphan', 'orphan_standby', 'slave', 'postgres', :'standby');
SQL

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!

row() { scalar "SELECT concat_ws('|', status, lag_bytes, lag_ms) FROM mosta.replica_status WHERE replica = '$1'"; }
is_row() { [ "$(row "$1")" = "$2" ]; }
chosen() { [ "$(scalar "SELECT mosta_read_replica('app')")" = "$1" ]; }

# idle primary: the daemon's own status writes are the only WAL, and the standby has replayed them
if poll_until 30 is_row standby "up|0|0"; then ok "idle primary: the standby is up, lag_bytes 0, lag_ms 0"
else not_ok "idle primary: the standby is up, lag_bytes 0, lag_ms 0 (last: $(row standby))"; fi
got=$(scalar "SELECT concat_ws('|', status, sync_state, within_tolerance) FROM mosta_replica_status('app')
               WHERE replica = 'standby'")
[ "$got" = "up|async|t" ] && ok "mosta_replica_status(): up, sync_state async, within tolerance" ||
	not_ok "mosta_replica_status(): up, sync_state async, within tolerance (got '$got')"
# named in synchronous_standby_names (by the application_name its WAL receiver connects with, its cluster_name): sync
sync_state() { [ "$(scalar "SELECT sync_state FROM mosta.replica_status WHERE replica = 'standby'")" = "$1" ]; }
psql_db -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" -c "SELECT pg_reload_conf()" >/dev/null
poll_until 30 sync_state sync && ok "sync_state sync when synchronous_standby_names names it" ||
	not_ok "sync_state sync when synchronous_standby_names names it"
psql_db -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
poll_until 30 sync_state async && ok "sync_state async again" || not_ok "sync_state async again"
got=$(scalar "SELECT r #>> '{status,syncState}' FROM jsonb_array_elements(mosta_topology() #> '{projects,app,replicas}') r
               WHERE r->>'name' = 'standby'")
[ "$got" = async ] && ok "mosta_topology(): syncState async" || not_ok "mosta_topology(): syncState async (got '$got')"

[ "$(scalar "SELECT applied_lsn IS NOT NULL FROM mosta.replica_status WHERE replica = 'standby'")" = t ] &&
	ok "applied_lsn reported" || not_ok "applied_lsn reported"
if poll_until 30 chosen standby; then ok "mosta_read_replica chooses the standby"
else not_ok "mosta_read_replica chooses the standby"; fi

# the independent cluster is not a standby of the master
other_error() {
	[ "$(scalar "SELECT status || ': ' || last_error FROM mosta.replica_status WHERE replica = 'other'")" = \
		"error: not in recovery: a primary, not a standby of the master" ]
}
if poll_until 30 other_error; then ok "an independent cluster is in error: not in recovery"
else not_ok "an independent cluster is in error: not in recovery ($(row other))"; fi

# a standby of another cluster: in recovery, but not of this master
foreign_error() {
	[ "$(scalar "SELECT status || ': ' || last_error FROM mosta.replica_status WHERE replica = 'foreign'")" = \
		"error: different system identifier $(foreign_sysid), the master's is $(scalar "SELECT system_identifier FROM pg_control_system()"): not a physical standby of this master" ]
}
foreign_sysid() { psql -X -At -h 127.0.0.1 -p "$foreign_port" -d postgres -c "SELECT system_identifier FROM pg_control_system()"; }
if poll_until 30 foreign_error; then ok "a standby of another cluster is in error: different system identifier"
else not_ok "a standby of another cluster is in error: different system identifier ($(row foreign))"; fi

# a project whose master cannot be read, a project without a master
status_of() { scalar "SELECT status || ': ' || last_error FROM mosta.replica_status WHERE project = '$1'"; }
gone_unknown() { [[ "$(status_of gone)" == "unknown: cannot read the master: "* ]]; }
if poll_until 30 gone_unknown; then ok "the master cannot be read: unknown"
else not_ok "the master cannot be read: unknown ($(status_of gone))"; fi
orphan_error() { [ "$(status_of orphan)" = 'error: project "orphan" has no master' ]; }
if poll_until 30 orphan_error; then ok "a project without a master: error"
else not_ok "a project without a master: error ($(status_of orphan))"; fi

# replay paused, writes on the primary: behind in bytes, then in time past the tolerance
on_standby "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "pg_wal_replay_pause()"
psql_db -c "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)" >/dev/null ||
	not_ok "writes on the primary"
behind() {
	[ "$(scalar "SELECT lag_bytes > 0 AND lag_ms > 2000 AND status = 'catching-up'
	               FROM mosta.replica_status WHERE replica = 'standby'")" = t ]
}
if poll_until 30 behind; then ok "replay paused: lag_bytes > 0, lag_ms past the tolerance, catching-up"
else not_ok "replay paused: lag_bytes > 0, lag_ms past the tolerance, catching-up ($(row standby))"; fi
chosen master && ok "a standby beyond its tolerance is not chosen: the master is" ||
	not_ok "a standby beyond its tolerance is not chosen: the master is"

on_standby "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "pg_wal_replay_resume()"
if poll_until 30 is_row standby "up|0|0"; then ok "replay resumed: up again, lag 0"
else not_ok "replay resumed: up again, lag 0 (last: $(row standby))"; fi
poll_until 30 chosen standby && ok "the standby is chosen again" || not_ok "the standby is chosen again"
[ "$(on_standby "SELECT count(*) FROM t")" = 1000 ] && ok "the standby holds the writes" ||
	not_ok "the standby holds the writes"

# frozen (SIGSTOP to its postmaster and backends): no answer, down after the check's timeout, reads to the master
postmaster=$(head -1 "$standby_dir/data/postmaster.pid")
frozen="$postmaster $(ps -o pid= --ppid "$postmaster" | tr '\n' ' ')"
kill -STOP $frozen
frozen_down() {
	[ "$(scalar "SELECT status || ': ' || last_error FROM mosta.replica_status WHERE replica = 'standby'")" = \
		"down: no answer within 5 s" ]
}
if poll_until 30 frozen_down; then ok "a standby that does not answer is down after 5 s"
else not_ok "a standby that does not answer is down after 5 s ($(row standby))"; fi
chosen master && ok "reads go to the master when the standby does not answer" ||
	not_ok "reads go to the master when the standby does not answer"
kill -CONT $frozen
frozen=
if poll_until 30 is_row standby "up|0|0"; then ok "answering again: up"
else not_ok "answering again: up (last: $(row standby))"; fi

# stopped: down, and reads go to the master
scripts/pg-cluster stop "$standby_dir" && standby_dir=
down() { [ "$(scalar "SELECT status FROM mosta.replica_status WHERE replica = 'standby'")" = down ]; }
if poll_until 30 down; then ok "a stopped standby is down"; else not_ok "a stopped standby is down ($(row standby))"; fi
chosen master && ok "reads go to the master when the standby is down" ||
	not_ok "reads go to the master when the standby is down"

stop_daemon "SIGTERM: the daemon exits 0"
got=$(scalar "SELECT concat_ws('|', status, last_error) FROM mosta.replica_status WHERE replica = 'foreign'")
[ "$got" = "unknown|not watched: mosta-sidecar stopped" ] && ok "stopped, the daemon leaves its standbys unknown" ||
	not_ok "stopped, the daemon leaves its standbys unknown (got '$got')"
grep -q "standby app.standby: down" "$work/log.daemon" && ok "the daemon logs the standby going down" ||
	not_ok "the daemon logs the standby going down"
finish
