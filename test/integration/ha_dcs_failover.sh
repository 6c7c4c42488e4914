#!/usr/bin/env bash
# ha_dcs_failover.sh: automatic failover on etcd when the master's postmaster dies (issue 17, item 4a; docs/ha.md).
# Three nodes with their node agents in DCS mode (lib/ha_dcs.sh: 3-member etcd, --dcs-ttl 4s, --synchronous on,
# lag_tolerance_ms 0): node1's agent takes the leader key and names a synchronous standby; a write load logs the
# ids whose COMMIT returned (through a multi-host read-write DSN) and the write sampler tries a write on every node
# every 100 ms; node1's postmaster is killed (kill -9). Then, each before a deadline:
#   - node1's agent gives the leader key up, the synchronous standby's agent takes it and promotes its server (the
#     time from the kill to its first commit is printed, not asserted);
#   - every acknowledged commit is on the new master; the catalog names it master; one `failover` activity row
#     says automatic, from node1 to it;
#   - node1's agent rejoins it as a standby of the new master (rewound, streaming), and the third node follows the
#     new master too;
#   - the sampler never saw two nodes take a write in one round, nor node1 after the new master's first write.
# Everything it starts is stopped on exit (trap). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar. Prints "ha_dcs_failover: N passed, N failed"; exits non-zero on failure.
# It needs no cluster from scripts/pg-cluster run: it starts its own three nodes (the write lease preloaded) and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_failover
require_sidecar
BINARY=$(realpath "$BINARY")
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else not_ok "node1's agent holds the leader key (leader '$leader')"; agent_log node1; fi
if wait_ready 30; then ok "a synchronous standby named in the sync key and sync in pg_stat_replication ($sync_node)"
else fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"; fi

acked=$work/acked
: >"$acked"
start_load "$acked"
start_sampler "$work/samples"
acked_some() { [ "$(grep -c . "$acked")" -ge 50 ]; }
poll_until 30 acked_some || not_ok "the write load commits on node1"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
killed=$(now_ms)
kill -9 "$(postmaster_of node1)"
if wait_leader 40 node1; then ok "a new leader after node1's postmaster was killed: $leader"
else not_ok "a new leader after node1's postmaster was killed"; agent_log node1; agent_log "$sync_node"; fi
new=$leader
[ "$new" = "$sync_node" ] && ok "the new leader is the synchronous standby" ||
	not_ok "the new leader is the synchronous standby ($new, sync was $sync_node)"
if poll_until 30 writable "$new"; then
	echo "# from the kill to the first commit on $new: $(($(now_ms) - killed)) ms (ttl $dcs_ttl)"
	ok "$new takes writes"
else
	not_ok "$new takes writes"
	agent_log "$new"
fi

# the load goes on through the read-write DSN: some commits on the new master
after=$(grep -c . "$acked")
acked_after() { [ "$(grep -c . "$acked")" -ge $((after + 20)) ]; }
poll_until 30 acked_after && ok "the load commits again (on $new)" || not_ok "the load commits again (on $new)"
stop_load
missing=$(acked_missing "${node_port[$new]}" "$acked")
[ "$missing" = 0 ] && ok "every acknowledged commit ($(grep -c . "$acked")) is on $new" ||
	not_ok "every acknowledged commit is on $new ($missing missing)"

got=$(on "${node_port[$new]}" "SELECT string_agg(name || '=' || role, ',' ORDER BY name) FROM mosta.replicas WHERE project = 'app'")
want=$(for n in "${nodes[@]}"; do [ "$n" = "$new" ] && echo "$n=master" || echo "$n=slave"; done | paste -sd,)
[ "$got" = "$want" ] && ok "the catalog on $new names it master ($got)" || not_ok "the catalog on $new names it master (got $got)"
got=$(on "${node_port[$new]}" "SELECT string_agg(concat_ws('|', object, detail->>'automatic', detail->>'from', detail->>'to',
                                 detail->>'leader_gone_for_ms' IS NOT NULL), ',')
                               FROM mosta.activity WHERE action = 'failover'")
[ "$got" = "$new|true|node1|$new|t" ] && ok "one failover activity row: automatic, from node1 to $new" ||
	not_ok "one failover activity row: automatic, from node1 to $new (got '$got')"

streams() { [ "$(on "${node_port[$new]}" "SELECT state FROM pg_stat_replication WHERE application_name = '$1'" 2>/dev/null)" = streaming ]; }
if poll_until 60 streams node1 && in_recovery node1; then ok "node1's agent rejoined it: a standby streaming from $new"
else not_ok "node1's agent rejoined it: a standby streaming from $new"; agent_log node1 25; fi
third=$(for n in node2 node3; do [ "$n" != "$new" ] && echo "$n"; done)
poll_until 60 streams "$third" && ok "$third streams from $new" || { not_ok "$third streams from $new"; agent_log "$third"; }
[ "$(leader_now)" = "$new" ] && ok "the leader key still names $new" || not_ok "the leader key still names $new"

sampler_verdict
[ "$(sampler_field node1 2)" -gt 0 ] && [ "$(sampler_field "$new" 2)" -gt 0 ] &&
	ok "the sampler saw writes taken by node1, then by $new" || not_ok "the sampler saw writes taken by node1, then by $new"
finish
