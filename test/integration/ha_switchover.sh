#!/usr/bin/env bash
# ha_switchover.sh: a planned switchover and back under a write load, carried out by the node agents (issue 13,
# item 7b; docs/failover.md, "Switchover"). On the cluster of PGHOST/PGPORT/PGUSER and MOSTA_CLUSTER_DIR (as
# scripts/pg-cluster run provides), node1, it starts two streaming standbys named after their catalog replicas
# (standby1, standby2), declares them in project app with node1 the master, runs the daemon (standby status) and one
# `mosta-sidecar agent` next to each node (as the servers' user), and checks:
#   - before the agents start: the command times out saying that no agent of node1 performed it, and cancels the
#     request (node1 still the master);
#   - refused, nothing changed (no request, node1 still the writable master): the master itself, an SQLite slave,
#     a postgres slave reported down, a standby whose replay is paused beyond its tolerance;
#   - under a bounded write load (single-row INSERT commits through a multi-host read-write DSN, each id logged only
#     after psql returned success): `mosta-sidecar switchover app standby1` exits 0; every acknowledged id is on
#     standby1, which is writable and the catalog's master; node1 is in recovery, streaming from standby1 and
#     reported up; standby2 streams from standby1; node1 refuses a write; the request is done on standby1 with its
#     steps and the downtime in mosta.activity;
#   - a target that does not catch up (replay paused, request written directly): after the agent's catch-up timeout
#     node1 starts again as the master, the request is failed with the reason, every acknowledged commit on node1;
#   - the switch back to node1 the same way: nothing lost, standby1 an up standby of node1.
# Every server and process it starts is stopped on exit (trap).
# The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "ha_switchover: N passed, N failed"; exits non-zero on failure.
# mosta-test: own cluster (it kills or demotes its primary: scripts/run-decoding-tests gives it one)
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_switchover
require_cluster MOSTA_CLUSTER_DIR
require_sidecar
BINARY=$(realpath "$BINARY")

s1_dir=
s2_dir=
cleanup_extra() {
	stop_load
	stop_agents
	[ -n "$s1_dir" ] && scripts/pg-cluster stop "$s1_dir" >/dev/null 2>&1
	[ -n "$s2_dir" ] && scripts/pg-cluster stop "$s2_dir" >/dev/null 2>&1
	rm -rf "$agent_root"
	return 0
}

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar, stop_daemon and the exit trap (which calls
# cleanup_extra); lib/ha_nodes.sh: the agents and the write load
use_database mosta_ha_switchover_$$
# shellcheck source=lib/ha_nodes.sh
source test/integration/lib/ha_nodes.sh
psql_db -c "CREATE EXTENSION mostajs" -c "CREATE TABLE ha_load (id int PRIMARY KEY)" ||
	{ not_ok "CREATE EXTENSION mostajs"; finish; }

start_standby standby1 s1_dir s1_port
start_standby standby2 s2_dir s2_port
n1_port=$PGPORT
rw_dsn="host=127.0.0.1,127.0.0.1,127.0.0.1 port=$n1_port,$s1_port,$s2_port dbname=$db user=postgres target_session_attrs=read-write"

psql_db -o /dev/null -v n1="$(node_uri "$n1_port")" -v s1="$(node_uri "$s1_port")" -v s2="$(node_uri "$s2_port")" \
	<<'SQL' || fail_setup "catalog"
SELECT mosta_add_replica('app', 'node1', 'master', 'postgres', :'n1');
SELECT mosta_add_replica('app', 'standby1', 'slave', 'postgres', :'s1', lag_tolerance_ms => 5000);
SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', :'s2' || ' password=S3cretAgent',
                         lag_tolerance_ms => 1000);
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db');
SELECT mosta_add_replica('app', 'ghost', 'slave', 'postgres', 'host=127.0.0.1 port=1 dbname=x user=postgres');
SQL

# the daemon writes the standbys' status; its catalog connection follows the master through the read-write DSN
"$BINARY" --source "$rw_dsn" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
status_of() { on "$1" "SELECT status FROM mosta.replica_status WHERE replica = '$2'"; }
is_status() { [ "$(status_of "$1" "$2")" = "$3" ]; }
poll_until 60 is_status "$n1_port" standby1 up && poll_until 60 is_status "$n1_port" standby2 up &&
	poll_until 60 is_status "$n1_port" ghost down ||
	fail_setup "the daemon did not report standby1, standby2 up and ghost down"

# switchover CMD...: mosta-sidecar switchover with the read-write DSN, its output in $work/switchover.out
switchover() { "$BINARY" switchover app "$1" --source "$rw_dsn" --timeout "${2:-90s}" >"$work/switchover.out" 2>&1; }
open_requests() { on "$n1_port" "SELECT count(*) FROM mosta.ha_requests WHERE state IN ('pending', 'running')"; }
# no agent yet: the request stays pending, the command times out and cancels it
if ! switchover standby1 2s && grep -q 'no agent of node node1 performed it' "$work/switchover.out" &&
	grep -q 'the request is cancelled' "$work/switchover.out" && [ "$(open_requests)" = 0 ] &&
	[ "$(on "$n1_port" "SELECT pg_is_in_recovery()")" = f ]; then
	ok "without an agent: the command says no agent of node1 performed it and cancels the request"
else
	not_ok "without an agent: the command says no agent of node1 performed it and cancels the request"
	cat "$work/switchover.out" >&2
fi

start_agent node1 "$MOSTA_CLUSTER_DIR/data" "$n1_port"
start_agent standby1 "$s1_dir/data" "$s1_port"
start_agent standby2 "$s2_dir/data" "$s2_port"
if poll_until 30 agent_ready node1 && poll_until 30 agent_ready standby1 && poll_until 30 agent_ready standby2; then
	ok "the three agents read their server and cached the other nodes"
else
	not_ok "the three agents read their server and cached the other nodes"
	tail -5 "$work"/log.agent-* >&2
fi
grep -q S3cretAgent "$agent_root"/*/*.peers && not_ok "the peer caches hold no password" ||
	ok "the peer caches hold no password"

nothing_changed() {
	[ "$(open_requests)" = 0 ] &&
		[ "$(on "$n1_port" "SELECT pg_is_in_recovery()")" = f ] &&
		[ "$(on "$n1_port" "SELECT name FROM mosta.replicas WHERE role = 'master'")" = node1 ]
}

# refused: nothing changes
refused() {
	local replica=$1 expected=$2
	if ! switchover "$replica" && grep -q "$expected" "$work/switchover.out" && nothing_changed; then
		ok "switchover to $replica refused ($expected), nothing changed"
	else
		not_ok "switchover to $replica refused ($expected), nothing changed"
		cat "$work/switchover.out" >&2
	fi
}
refused node1 'replica "node1" is not a PostgreSQL standby of project "app"'
refused lite 'replica "lite" is not a PostgreSQL standby of project "app"'
refused ghost 'replica "ghost" is not a healthy standby: status down'
# standby2 behind its tolerance of 1 s: replay paused while node1 writes (reported catching-up)
on "$s2_port" "SELECT pg_wal_replay_pause()" >/dev/null
lagging() {
	on "$n1_port" "INSERT INTO ha_load VALUES (-1) ON CONFLICT DO NOTHING" >/dev/null
	[ "$(on "$n1_port" "SELECT within_tolerance FROM mosta_replica_status('app') WHERE replica = 'standby2'")" = f ]
}
poll_until 30 lagging || not_ok "standby2 beyond its tolerance while its replay is paused"
refused standby2 'replica "standby2" is not a healthy standby: status catching-up: WAL replay is paused'
on "$s2_port" "SELECT pg_wal_replay_resume()" >/dev/null
poll_until 60 is_status "$n1_port" standby2 up || not_ok "standby2 up again after its replay resumed"
# the unreachable slave served its purpose (the switchover would try to repoint it: a step of its own)
psql_db -o /dev/null -c "SELECT mosta_remove_replica('app', 'ghost')"

# switchover_under_load FROM FROM_PORT TO TO_PORT: the switchover under the write load, then every check
switchover_under_load() {
	local from=$1 from_port=$2 to=$3 to_port=$4 acked="$work/acked.$3"
	: >"$acked"
	start_load "$acked"
	acked_some() { [ "$(grep -c . "$acked")" -ge 20 ]; }
	poll_until 60 acked_some || not_ok "the write load commits on $from"
	if switchover "$to"; then
		ok "switchover $from -> $to exits 0"
	else
		not_ok "switchover $from -> $to exits 0"
		cat "$work/switchover.out" >&2
		tail -20 "$work/log.agent-$from" >&2
	fi
	sed 's/^/    /' "$work/switchover.out"
	# a few more commits on the new primary, then the load stops
	local before
	before=$(grep -c . "$acked")
	acked_more() { [ "$(grep -c . "$acked")" -ge $((before + 20)) ]; }
	poll_until 60 acked_more || not_ok "the write load commits on $to after the switchover"
	stop_load
	local missing
	missing=$(acked_missing "$to_port" "$acked")
	[ "$missing" = 0 ] && ok "every acknowledged commit ($(grep -c . "$acked")) is on $to" ||
		not_ok "every acknowledged commit is on $to ($missing of $(grep -c . "$acked") missing)"
	[ "$(on "$to_port" "SELECT pg_is_in_recovery()")" = f ] &&
		[ "$(on "$to_port" "SELECT name FROM mosta.replicas WHERE role = 'master'")" = "$to" ] &&
		[ "$(on "$to_port" "SELECT role FROM mosta.replicas WHERE name = '$from'")" = slave ] &&
		ok "$to is writable and the catalog's master, $from a slave" ||
		not_ok "$to is writable and the catalog's master, $from a slave"
	streams_from() {
		[ "$(on "$to_port" "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$1'
		                        AND state = 'streaming'")" = 1 ]
	}
	poll_until 60 streams_from "$from" && [ "$(on "$from_port" "SELECT pg_is_in_recovery()")" = t ] &&
		ok "$from is in recovery, streaming from $to" || not_ok "$from is in recovery, streaming from $to"
	poll_until 60 streams_from standby2 && ok "standby2 streams from $to" || not_ok "standby2 streams from $to"
	if poll_until 60 is_status "$to_port" "$from" up; then
		ok "$from is reported up (a healthy standby)"
	else
		not_ok "$from is reported up (a healthy standby) (status: $(status_of "$to_port" "$from"))"
	fi
	local err
	err=$(psql -X -At -h 127.0.0.1 -p "$from_port" -d "$db" -c "INSERT INTO ha_load VALUES (-2)" 2>&1)
	[[ "$err" == *"read-only transaction"* ]] && ok "$from refuses a write" || not_ok "$from refuses a write ($err)"
	local request
	request=$(on "$to_port" "SELECT concat_ws('|', state, finished_at IS NOT NULL, detail->>'from', detail->>'to',
	                                          (detail->>'downtime_ms')::bigint >= 0)
	                           FROM mosta.ha_requests ORDER BY id DESC LIMIT 1")
	[ "$request" = "done|t|$from|$to|t" ] && ok "the request is done on $to, with its downtime" ||
		not_ok "the request is done on $to, with its downtime (got $request)"
	local steps
	steps=$(on "$to_port" "SELECT string_agg(detail->>'step', ', ' ORDER BY id) FROM mosta.activity
	                        WHERE action = 'switchover_step' AND detail->>'request' =
	                              (SELECT max(id)::text FROM mosta.ha_requests)")
	[[ "$steps" == "started, stopping the master, promoted, repointed standby2, old master follows the new primary" ]] &&
		ok "mosta.activity has every step: $steps" || not_ok "mosta.activity has every step (got: $steps)"
	echo "# downtime: $(on "$to_port" "SELECT detail->>'downtime_ms' FROM mosta.ha_requests ORDER BY id DESC LIMIT 1") ms"
}

# the target does not catch up (its replay paused; the request written directly, since mosta_switchover refuses a
# standby reported catching-up): after --catchup-timeout (20 s here) node1 starts again as the master, the request
# is failed, nothing lost
acked="$work/acked.failed"
: >"$acked"
start_load "$acked"
acked_some() { [ "$(grep -c . "$acked")" -ge 20 ]; }
poll_until 60 acked_some || not_ok "the write load commits on node1"
on "$s2_port" "SELECT pg_wal_replay_pause()" >/dev/null
request=$(on "$n1_port" "INSERT INTO mosta.ha_requests (project, target) VALUES ('app', 'standby2') RETURNING id")
request_failed() { [ "$(on "$n1_port" "SELECT state FROM mosta.ha_requests WHERE id = $request" 2>/dev/null)" = failed ]; }
if poll_until 120 request_failed; then
	ok "a target that does not replay the shutdown checkpoint in time: the request fails"
else
	not_ok "a target that does not replay the shutdown checkpoint in time: the request fails"
	tail -10 "$work/log.agent-node1" >&2
fi
error=$(on "$n1_port" "SELECT detail->>'error' FROM mosta.ha_requests WHERE id = $request")
[[ "$error" == *"did not replay the shutdown checkpoint"* ]] && ok "the request says why: $error" ||
	not_ok "the request says why (got: $error)"
on "$s2_port" "SELECT pg_wal_replay_resume()" >/dev/null
before=$(grep -c . "$acked")
acked_again() { [ "$(grep -c . "$acked")" -ge $((before + 20)) ]; }
poll_until 60 acked_again || not_ok "the write load commits on node1 again"
stop_load
[ "$(on "$n1_port" "SELECT pg_is_in_recovery()")" = f ] && [ "$(on "$s2_port" "SELECT pg_is_in_recovery()")" = t ] &&
	[ "$(on "$n1_port" "SELECT name FROM mosta.replicas WHERE role = 'master'")" = node1 ] &&
	ok "node1 is the writable master again, standby2 still a standby" ||
	not_ok "node1 is the writable master again, standby2 still a standby"
missing=$(acked_missing "$n1_port" "$acked")
[ "$missing" = 0 ] && ok "every acknowledged commit ($(grep -c . "$acked")) is on node1" ||
	not_ok "every acknowledged commit is on node1 ($missing missing)"
poll_until 60 is_status "$n1_port" standby2 up || not_ok "standby2 up again"
# standby1 reconnects to node1 on its own (wal_retrieve_retry_interval)
streaming_from() { [ "$(on "$1" "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$2' AND state = 'streaming'")" = 1 ]; }
poll_until 60 streaming_from "$n1_port" standby1 || not_ok "standby1 streams from node1 again"

switchover_under_load node1 "$n1_port" standby1 "$s1_port"
switchover_under_load standby1 "$s1_port" node1 "$n1_port"

stop_agents
stop_daemon "the daemon stops cleanly"
# standby2's password reached no log, no agent file and no activity row
if ! grep -rq S3cretAgent "$work"/log.* "$agent_root" &&
	[ "$(on "$n1_port" "SELECT count(*) FROM mosta.activity WHERE detail::text LIKE '%S3cretAgent%'")" = 0 ]; then
	ok "standby2's password is in no log, agent file or activity row"
else
	not_ok "standby2's password is in no log, agent file or activity row"
fi
finish
