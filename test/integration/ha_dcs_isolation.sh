#!/usr/bin/env bash
# ha_dcs_isolation.sh: the master's agent cut off from etcd (frozen by SIGSTOP) fences its server by construction
# (issue 17, item 4c; docs/ha.md, "The timing argument"). Three nodes with their agents in DCS mode (lib/ha_dcs.sh:
# 3-member etcd, --dcs-ttl 4s, --synchronous on); the write sampler tries a write on every node every 100 ms. node1's
# agent is stopped (SIGSTOP) while its server runs on. Then, each before a deadline:
#   - node1's server, still a primary (not in recovery: nobody restarted it), refuses a write with SQLSTATE 25006
#     and the write lease's message: the lease its agent granted expired inside PostgreSQL;
#   - the synchronous standby's agent takes the leader key (its lease expired) and promotes it; it takes writes;
#   - the agent continued (SIGCONT): it does not make node1 writable again but rejoins it as a standby of the new
#     master (streaming); the leader key still names the new master;
#   - the sampler never saw two nodes take a write in one round, nor node1 after the new master's first write; it
#     saw node1's write lease refuse writes.
# Everything it starts is stopped on exit (trap), the stopped agent continued first. The binary: MOSTA_SIDECAR_BIN
# (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar. Prints "ha_dcs_isolation: N passed, N failed"; exits
# non-zero on failure.
# It needs no cluster from scripts/pg-cluster run: it starts its own three nodes (the write lease preloaded) and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_isolation
require_sidecar
BINARY=$(realpath "$BINARY")
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else not_ok "node1's agent holds the leader key (leader '$leader')"; agent_log node1; fi
wait_ready 30 || fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"

start_sampler "$work/samples"
sampled_node1() { [ "$(awk '$2 == "node1" && $3 == "ok"' "$work/samples" | grep -c .)" -ge 10 ]; }
poll_until 30 sampled_node1 || not_ok "the sampler's writes commit on node1"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
stopped=$(now_ms)
kill -STOP "${agent_pid[node1]}"

# a write on node1 refused by the write lease: SQLSTATE 25006 and its message (VERBOSITY verbose shows the code)
lease_refused() {
	refusal=$(psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d "$db" -v VERBOSITY=verbose \
		-c "INSERT INTO sampler VALUES ('direct', -1)" 2>&1)
	[[ "$refusal" == *"ERROR:  25006: cannot commit: this node's write lease expired"* ]]
}
if poll_until 30 lease_refused; then
	echo "# node1 refuses writes $(($(now_ms) - stopped)) ms after its agent was stopped (ttl $dcs_ttl)"
	ok "node1 refuses a write with SQLSTATE 25006: its write lease expired"
else
	not_ok "node1 refuses a write with SQLSTATE 25006: its write lease expired (got '$refusal')"
fi
in_recovery node1 && not_ok "node1 is still a primary (not in recovery): the lease fenced it, not a restart" ||
	ok "node1 is still a primary (not in recovery): the lease fenced it, not a restart"

if wait_leader 40 node1; then ok "a standby's agent took the leader key: $leader"
else not_ok "a standby's agent took the leader key"; agent_log node2; agent_log node3; fi
new=$leader
[ "$new" = "$sync_node" ] && ok "it is the synchronous standby" || not_ok "it is the synchronous standby ($new, sync $sync_node)"
if poll_until 30 writable "$new"; then
	echo "# $new takes writes $(($(now_ms) - stopped)) ms after node1's agent was stopped"
	ok "$new takes writes"
else
	not_ok "$new takes writes"
	agent_log "$new"
fi
# node1 still refuses while its agent is frozen
lease_refused && ok "node1 still refuses writes while its agent is stopped" ||
	not_ok "node1 still refuses writes while its agent is stopped (got '$refusal')"

kill -CONT "${agent_pid[node1]}"
streams() { [ "$(on "${node_port[$new]}" "SELECT state FROM pg_stat_replication WHERE application_name = '$1'" 2>/dev/null)" = streaming ]; }
if poll_until 60 streams node1 && in_recovery node1; then
	ok "node1's agent, continued, rejoined it as a standby of $new"
else
	not_ok "node1's agent, continued, rejoined it as a standby of $new"
	agent_log node1 25
fi
[ "$(leader_now)" = "$new" ] && ok "the leader key still names $new" || not_ok "the leader key still names $new"
writable node1 && not_ok "node1 refuses writes after its agent's return" || ok "node1 refuses writes after its agent's return"
# a last round of samples with node1 a standby, then the verdict
last=$(tail -1 "$work/samples" | cut -d' ' -f1)
sampled_past() { [ "$(tail -1 "$work/samples" | cut -d' ' -f1)" -ge $((last + 10)) ]; }
poll_until 10 sampled_past || true
sampler_verdict
[ "$(sampler_field node1 2)" -gt 0 ] && [ "$(sampler_field "$new" 2)" -gt 0 ] && [ "$(sampler_field node1 5)" -gt 0 ] &&
	ok "the sampler saw node1 take writes, its write lease refuse them, then $new take writes" ||
	not_ok "the sampler saw node1 take writes, its write lease refuse them, then $new take writes"
finish
