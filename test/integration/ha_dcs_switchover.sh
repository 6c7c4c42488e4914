#!/usr/bin/env bash
# ha_dcs_switchover.sh: a planned switchover under --dcs (issue 17; docs/ha.md, "Switchover under --dcs"). Three
# nodes with their node agents in DCS mode (lib/ha_dcs.sh: 3-member etcd, --dcs-ttl 4s, --synchronous on,
# --catchup-timeout 20s), a write load logging the ids whose COMMIT returned (multi-host read-write DSN) and the
# write sampler trying a write on every node every 100 ms. Each step before a deadline:
#   1. `mosta-sidecar switchover app ASYNC` while ASYNC's replay is paused (pg_wal_replay_pause; ASYNC is node3 or
#      node2, whichever the leader did not make synchronous): node1's agent stops its server, ASYNC does not replay
#      the shutdown checkpoint in time, the command reports the request failed; node1 is writable again and still
#      holds the leader key, no standby was promoted, the switchover key is gone; ASYNC's replay resumed;
#   2. `mosta-sidecar switchover app ASYNC` again: the command reports done; the leader key names ASYNC, every acknowledged commit is
#      on it, its catalog names it master, a `switchover` activity row carries the request and the downtime, the
#      request is done with downtime_ms; node1 is a standby streaming from ASYNC, and so is the third node; the
#      switchover key is gone;
#   3. the sampler never saw two nodes take a write in one round, nor node1 after ASYNC's first write.
# Everything it starts is stopped on exit (trap). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar. Prints "ha_dcs_switchover: N passed, N failed"; exits non-zero on failure.
# It needs no cluster from scripts/pg-cluster run: it starts its own three nodes (the write lease preloaded) and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_switchover
require_sidecar
BINARY=$(realpath "$BINARY")
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else fail_setup "node1's agent holds the leader key (leader '$leader')"; fi
wait_ready 30 || fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"
sync=$sync_node
async=node3
[ "$sync" = node3 ] && async=node2
echo "# synchronous standby $sync, asynchronous $async"

# mosta_switchover() needs the target reported up (the daemon does not run here: its status row by hand)
report_up() {
	on "${node_port[$leader]}" "DELETE FROM mosta.replica_status WHERE project = 'app' AND replica = '$1';
		INSERT INTO mosta.replica_status (project, replica, status, lag_ms, lag_bytes, sync_state)
		VALUES ('app', '$1', 'up', 0, 0, 'async')" >/dev/null || not_ok "a status row for $1"
}
no_switchover_key() { [ -z "$(dcs_get switchover 2>/dev/null)" ]; }
streams() {
	[ "$(on "${node_port[$1]}" "SELECT state FROM pg_stat_replication WHERE application_name = '$2'" 2>/dev/null)" = streaming ]
}

acked=$work/acked
: >"$acked"
start_load "$acked"
start_sampler "$work/samples"
acked_some() { [ "$(grep -c . "$acked")" -ge 30 ]; }
poll_until 30 acked_some || not_ok "the write load commits on node1"

# 1. a target that does not catch up: the switchover fails, node1 leads and takes writes again
on "${node_port[$async]}" "SELECT pg_wal_replay_pause()" >/dev/null || not_ok "pausing $async's replay"
report_up "$async"
"$BINARY" switchover app "$async" --source "$rw_dsn" >"$work/failed.out" 2>&1
status=$?
if [ "$status" -ne 0 ] && grep -q "failed" "$work/failed.out" && grep -q "did not replay the shutdown checkpoint" "$work/failed.out"; then
	ok "a switchover to $async (replay paused) fails: it did not replay the shutdown checkpoint"
else
	not_ok "a switchover to $async (replay paused) fails (exit $status)"
	sed 's/^/    /' "$work/failed.out" >&2
	agent_log node1 30
fi
if poll_until 30 writable node1; then ok "node1 takes writes again"; else not_ok "node1 takes writes again"; agent_log node1; fi
[ "$(leader_now)" = node1 ] && ok "node1 still holds the leader key" || not_ok "node1 still holds the leader key ($(leader_now))"
in_recovery "$sync" && in_recovery "$async" && ok "no standby was promoted" || not_ok "no standby was promoted"
poll_until 10 no_switchover_key && ok "the switchover key is gone" || not_ok "the switchover key is gone ($(dcs_get switchover))"
got=$(on "${node_port[node1]}" "SELECT state FROM mosta.ha_requests WHERE target = '$async' ORDER BY id DESC LIMIT 1")
[ "$got" = failed ] && ok "the request is failed on node1" || not_ok "the request is failed on node1 ($got)"
on "${node_port[$async]}" "SELECT pg_wal_replay_resume()" >/dev/null || not_ok "resuming $async's replay"
poll_until 30 streams node1 "$async" || not_ok "$async streams from node1 again"

# 2. the switchover to the asynchronous standby, under the write load
before=$(grep -c . "$acked")
acked_more() { [ "$(grep -c . "$acked")" -ge $((before + 20)) ]; }
poll_until 30 acked_more || not_ok "the load commits on node1 after the failed switchover"
report_up "$async"
"$BINARY" switchover app "$async" --source "$rw_dsn" >"$work/done.out" 2>&1
status=$?
if [ "$status" -eq 0 ] && grep -q "done" "$work/done.out"; then
	ok "the switchover to $async is done"
else
	not_ok "the switchover to $async is done (exit $status)"
	sed 's/^/    /' "$work/done.out" >&2
	agent_log node1 30
	agent_log "$async" 30
fi
sed 's/^/# command: /' "$work/done.out"
[ "$(leader_now)" = "$async" ] && ok "the leader key names $async" || not_ok "the leader key names $async ($(leader_now))"
poll_until 30 writable "$async" && ok "$async takes writes" || not_ok "$async takes writes"
after=$(grep -c . "$acked")
acked_after() { [ "$(grep -c . "$acked")" -ge $((after + 20)) ]; }
poll_until 30 acked_after && ok "the load commits again (on $async)" || not_ok "the load commits again (on $async)"
stop_load
missing=$(acked_missing "${node_port[$async]}" "$acked")
[ "$missing" = 0 ] && ok "every acknowledged commit ($(grep -c . "$acked")) is on $async" ||
	not_ok "every acknowledged commit is on $async ($missing missing)"

got=$(on "${node_port[$async]}" "SELECT string_agg(name || '=' || role, ',' ORDER BY name) FROM mosta.replicas WHERE project = 'app'")
want=$(for n in "${nodes[@]}"; do [ "$n" = "$async" ] && echo "$n=master" || echo "$n=slave"; done | paste -sd,)
[ "$got" = "$want" ] && ok "the catalog on $async names it master ($got)" || not_ok "the catalog on $async names it master (got $got)"
id=$(on "${node_port[$async]}" "SELECT id FROM mosta.ha_requests WHERE target = '$async' ORDER BY id DESC LIMIT 1")
got=$(on "${node_port[$async]}" "SELECT concat_ws('|', detail->>'from', detail->>'to', (detail->>'downtime_ms')::bigint >= 0)
                                   FROM mosta.activity WHERE action = 'switchover' AND detail->>'request' = '$id'")
[ "$got" = "node1|$async|t" ] && ok "a switchover activity row: request $id, node1 to $async, with its downtime" ||
	not_ok "a switchover activity row for request $id (got '$got')"
got=$(on "${node_port[$async]}" "SELECT state || '|' || ((detail->>'downtime_ms')::bigint >= 0) FROM mosta.ha_requests WHERE id = $id")
[ "$got" = "done|true" ] && ok "request $id is done, with downtime_ms" || not_ok "request $id is done, with downtime_ms (got '$got')"
echo "# downtime (node1 stops taking writes -> $async promoted): $(on "${node_port[$async]}" "SELECT detail->>'downtime_ms' FROM mosta.ha_requests WHERE id = $id") ms"
[ "$(on "${node_port[$async]}" "SELECT count(*) FROM mosta.activity WHERE action = 'failover'")" = 0 ] &&
	ok "no failover activity row (a switchover, not a failover)" || not_ok "no failover activity row"
if poll_until 60 streams "$async" node1 && in_recovery node1; then ok "node1 is a standby streaming from $async"
else not_ok "node1 is a standby streaming from $async"; agent_log node1 25; fi
poll_until 60 streams "$async" "$sync" && ok "$sync streams from $async" || { not_ok "$sync streams from $async"; agent_log "$sync"; }
poll_until 10 no_switchover_key && ok "the switchover key is gone" || not_ok "the switchover key is gone ($(dcs_get switchover))"
[ "$(leader_now)" = "$async" ] && ok "the leader key still names $async" || not_ok "the leader key still names $async"

sampler_verdict
[ "$(sampler_field node1 2)" -gt 0 ] && [ "$(sampler_field "$async" 2)" -gt 0 ] &&
	ok "the sampler saw writes taken by node1, then by $async" || not_ok "the sampler saw writes taken by node1, then by $async"
finish
