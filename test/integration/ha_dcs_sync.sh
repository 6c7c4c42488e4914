#!/usr/bin/env bash
# ha_dcs_sync.sh: the leader's synchronous standby management (--synchronous strict) and what the leader's agent
# does besides failing over (issue 17, item 3; docs/ha.md, "Synchronous replication"). Three nodes with their node
# agents in DCS mode (lib/ha_dcs.sh, here with --synchronous strict). Each step before a deadline:
#   1. the leader's agent restarted (kill -9, started again): it re-attaches the leader key to its new lease (same
#      key, another lease), no standby is promoted, node1 takes writes;
#   2. the synchronous standby dies (its agent and postmaster killed): node1 commits again (its waiting commit is
#      released once the leader names the other standby), the sync key then names the other standby, which
#      pg_stat_replication shows sync;
#   3. the last standby dies too: strict mode sets synchronous_standby_names = '*', the sync key names no standby,
#      and a write on node1 waits (its backend waits on SyncRep, psql has not returned).
# Everything it starts is stopped on exit (trap). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar. Prints "ha_dcs_sync: N passed, N failed"; exits non-zero on failure.
# It needs no cluster from scripts/pg-cluster run: it starts its own three nodes (the write lease preloaded) and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_sync
require_sidecar
BINARY=$(realpath "$BINARY")
# shellcheck disable=SC2034 # read by lib/ha_dcs.sh
dcs_sync=strict
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else fail_setup "node1's agent holds the leader key (leader '$leader')"; fi
wait_ready 30 || fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"
first_sync=$sync_node
names=$(on "${node_port[node1]}" "SHOW synchronous_standby_names")
[ "$names" = "FIRST 1 (\"$first_sync\")" ] && ok "synchronous_standby_names names the sync key's standby ($names)" ||
	not_ok "synchronous_standby_names names the sync key's standby ($names, sync key $first_sync)"

# 1. the leader's agent restarted: the key re-attached, no failover
before=$(dcs_get_fields leader)
kill_agent node1
start_dcs_agent node1
reattached() {
	local now
	now=$(dcs_get_fields leader)
	[ "${now%% *}" = node1 ] && [ -n "$now" ] && [ "$now" != "$before" ]
}
if poll_until 20 reattached; then ok "node1's new agent re-attached the leader key to its lease ($before -> $(dcs_get_fields leader))"
else not_ok "node1's new agent re-attached the leader key ($before -> $(dcs_get_fields leader))"; agent_log node1; fi
poll_until 20 writable node1 && ok "node1 takes writes under its new agent" || not_ok "node1 takes writes under its new agent"
in_recovery node2 && in_recovery node3 && ok "no standby was promoted" || not_ok "no standby was promoted"

# 2. the synchronous standby dies: the other one becomes synchronous, node1 commits again
other=node2
[ "$first_sync" = node2 ] && other=node3
kill_agent "$first_sync"
kill -9 "$(postmaster_of "$first_sync")"
poll_until 30 writable node1 && ok "node1 commits again once $first_sync is gone" ||
	not_ok "node1 commits again once $first_sync is gone"
moved() { sync_ready && [ "$sync_node" = "$other" ]; }
if poll_until 30 moved; then ok "the sync key names $other, sync in pg_stat_replication"
else not_ok "the sync key names $other (sync key '$(dcs_get sync)')"; agent_log node1; fi

# 3. no standby left: strict makes every write wait
kill_agent "$other"
kill -9 "$(postmaster_of "$other")"
star() { [ "$(on "${node_port[node1]}" "SHOW synchronous_standby_names")" = "*" ]; }
poll_until 30 star && ok "strict, no standby streaming: synchronous_standby_names = '*'" ||
	not_ok "strict, no standby streaming: synchronous_standby_names = '*'"
no_sync_standby() { dcs_get sync | grep -q '"sync_standby":null'; }
poll_until 30 no_sync_standby && ok "the sync key names no standby" || not_ok "the sync key names no standby ($(dcs_get sync))"
psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d "$db" \
	-c "INSERT INTO sampler VALUES ('node1', -2)" >/dev/null 2>&1 &
writer=$!
sync_waiting() {
	[ "$(on "${node_port[node1]}" "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")" -ge 1 ]
}
poll_until 10 sync_waiting && kill -0 "$writer" 2>/dev/null &&
	ok "a write on node1 waits for a synchronous standby (wait_event SyncRep, not returned)" ||
	not_ok "a write on node1 waits for a synchronous standby"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
[ "$(leader_now)" = node1 ] && ok "node1 still holds the leader key" || not_ok "node1 still holds the leader key"

finish
