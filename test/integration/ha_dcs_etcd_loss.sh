#!/usr/bin/env bash
# ha_dcs_etcd_loss.sh: etcd losing members under the node agents (issue 17, item 4d; docs/ha.md: no failsafe mode,
# the master fences itself when the DCS cannot be reached). Three nodes with their agents in DCS mode
# (lib/ha_dcs.sh: 3-member etcd, --dcs-ttl 6s, --synchronous on); the write sampler tries a write on every node
# every 100 ms throughout. Then:
#   1. etcd's raft leader member killed (kill -9): for two TTLs every write tried on node1 commits, and the leader
#      key is the same key (value, create revision, lease) afterwards;
#   2. a second member killed (quorum lost): node1 refuses writes (SQLSTATE 25006: its write lease expired, or
#      restarted read-only by its agent), its last write committed within the TTL of the quorum's loss; for two
#      TTLs nothing is promoted (node2 and node3 stay in recovery);
#   3. both members back: node1, the same master, takes writes again; the leader key names node1; nothing was
#      promoted; the sampler saw writes taken by node1 only.
# Everything it starts is stopped on exit (trap). The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar. Prints "ha_dcs_etcd_loss: N passed, N failed"; exits non-zero on failure.
# It needs no cluster from scripts/pg-cluster run: it starts its own three nodes (the write lease preloaded) and etcd.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init ha_dcs_etcd_loss
require_sidecar
BINARY=$(realpath "$BINARY")
# a TTL that outlasts etcd electing a new raft leader (about 1 s here, --election-timeout 1000) plus a request
# timeout of the agent's etcd client (1 s) inside its validity (TTL - margin, 4 s); with 4s a lost raft leader
# can fence the master for a moment
dcs_ttl=6s
# shellcheck source=lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
ha_dcs_init
ha_dcs_start
start_dcs_agents

if wait_leader 30 && [ "$leader" = node1 ]; then ok "node1's agent holds the leader key"
else not_ok "node1's agent holds the leader key (leader '$leader')"; agent_log node1; fi
wait_ready 30 || fail_setup "no synchronous standby (sync key '$(dcs_get sync)')"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
ttl_ms=$((${dcs_ttl%s} * 1000))
samples=$work/samples
start_sampler "$samples"
# sampled_past MS: the sampler has logged a round that ended after MS (unix ms)
sampled_past() { [ "$(tail -1 "$samples" | cut -d' ' -f6)" -ge "$1" ] 2>/dev/null; }
# node_samples NODE FROM TO: NODE's attempts logged between FROM and TO (unix ms), "RESULT KIND" per line
node_samples() { awk -v n="$1" -v a="$2" -v b="$3" '$2 == n && $6 >= a && $6 <= b { print $3, $5 }' "$samples"; }
poll_until 30 sampled_past "$(($(now_ms) + 1000))" || fail_setup "the sampler does not run"

# 1. one member lost: etcd's raft leader
before=$(dcs_get_fields leader)
first=$(etcd_raft_leader)
[ -n "$first" ] || fail_setup "cannot tell etcd's raft leader"
t1=$(now_ms)
scripts/etcd-cluster stop-member "$etcd_dir" "$first"
poll_until 30 sampled_past $((t1 + 2 * ttl_ms)) || not_ok "the sampler runs on"
tried=$(node_samples node1 "$t1" $((t1 + 2 * ttl_ms)) | grep -c .)
refused=$(node_samples node1 "$t1" $((t1 + 2 * ttl_ms)) | grep -v '^ok' | sort | uniq -c | paste -sd, | tr -s ' ')
[ "$tried" -gt 0 ] && [ -z "$refused" ] &&
	ok "etcd member $first (the raft leader) lost: every write tried on node1 for two TTLs committed ($tried)" ||
	not_ok "etcd member $first (the raft leader) lost: every write tried on node1 for two TTLs committed (of $tried:$refused)"
after=$(dcs_get_fields leader)
[ -n "$before" ] && [ "$after" = "$before" ] && ok "the leader key is unchanged (value, create revision, lease: $after)" ||
	not_ok "the leader key is unchanged (before '$before', after '$after')"

# 2. a second member lost: no quorum
second=$((first % 3 + 1))
t2=$(now_ms)
scripts/etcd-cluster stop-member "$etcd_dir" "$second"
refused_25006() {
	refusal=$(psql -X -q -h 127.0.0.1 -p "${node_port[node1]}" -U postgres -d "$db" -v VERBOSITY=verbose \
		-c "INSERT INTO sampler VALUES ('direct', -1)" 2>&1)
	[[ "$refusal" == *"ERROR:  25006: "* ]]
}
if poll_until 30 refused_25006; then
	echo "# quorum lost: node1 refuses writes $(($(now_ms) - t2)) ms later (ttl $dcs_ttl): ${refusal#*25006: }" | head -1
	ok "quorum lost: node1 fences itself (a write refused with SQLSTATE 25006)"
else
	not_ok "quorum lost: node1 fences itself (a write refused with SQLSTATE 25006; got '$refusal')"
	agent_log node1
fi
poll_until 30 sampled_past $((t2 + 2 * ttl_ms)) || not_ok "the sampler runs on"
last_ok=$(awk '$2 == "node1" && $3 == "ok" { t = $6 } END { printf "%.0f\n", t }' "$samples")
[ "$last_ok" -lt $((t2 + ttl_ms)) ] &&
	ok "node1's last write committed within the TTL of the quorum's loss ($((last_ok - t2)) ms after)" ||
	not_ok "node1's last write committed within the TTL of the quorum's loss ($((last_ok - t2)) ms after)"
in_recovery node2 && in_recovery node3 && ok "two TTLs later nothing is promoted (node2, node3 in recovery)" ||
	not_ok "two TTLs later nothing is promoted (node2, node3 in recovery)"

# 3. the members back
t3=$(now_ms)
scripts/etcd-cluster start-member "$etcd_dir" "$first"
scripts/etcd-cluster start-member "$etcd_dir" "$second"
if poll_until 60 writable node1; then
	echo "# members back: node1 takes writes again $(($(now_ms) - t3)) ms later"
	ok "members back: node1, the same master, takes writes again"
else
	not_ok "members back: node1, the same master, takes writes again"
	agent_log node1 25
fi
[ "$(leader_now)" = node1 ] && ok "the leader key names node1" || not_ok "the leader key names node1 (got '$(leader_now)')"
echo "# leader key before the losses: $before; now: $(dcs_get_fields leader)"
in_recovery node2 && in_recovery node3 && ok "nothing promoted (node2, node3 in recovery)" ||
	not_ok "nothing promoted (node2, node3 in recovery)"
poll_until 30 sampled_past $(($(now_ms) + 500)) || true
stop_sampler
check_sampler "$samples" >"$work/sampler.summary" && ok "the sampler never found two writable masters" ||
	not_ok "the sampler never found two writable masters"
sed 's/^/# sampler: /' "$work/sampler.summary"
others=$(awk '($1 == "node2" || $1 == "node3") { s += $2 } END { printf "%.0f\n", s }' "$work/sampler.summary")
resumed=$(awk -v a="$t3" '$2 == "node1" && $3 == "ok" && $6 > a' "$samples" | grep -c .)
[ "$others" = 0 ] && [ "$resumed" -gt 0 ] &&
	ok "the sampler saw writes taken by node1 only, and again once the members were back ($resumed)" ||
	not_ok "the sampler saw writes taken by node1 only ($others elsewhere), and again once the members were back ($resumed)"
finish
