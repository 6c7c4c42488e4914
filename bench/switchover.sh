#!/usr/bin/env bash
# switchover.sh: how long writes stop during a planned switchover carried out by the node agents (issue 13, item 8;
# docs/failover.md, "Switchover"). Goal: < 3 s.
#
# One set of throwaway clusters (scripts/pg-cluster start/standby): node1, standby1, standby2, declared in project
# app, the daemon (standby status) and a `mosta-sidecar agent` next to each node (as the servers' user, as in
# test/integration/ha_switchover.sh). A writer commits one-row INSERTs in a loop through a multi-host read-write DSN
# (a new psql connection each time, so it follows the primary; about one commit per 10-20 ms) and logs the time of
# each acknowledged commit. BENCH_RUNS times, alternately to standby1 and back to node1, it runs
# `mosta-sidecar switchover app TARGET` and measures:
#   write downtime  the longest gap between two acknowledged commits around the switchover (client side: includes
#                   the writer's reconnection to the new primary)
#   agent downtime  what the agent reports (request detail downtime_ms): from pg_ctl stop to the promoted standby
#   command         the command's wall time, request to done (the old master rejoined as a standby included)
# and prints each run and the medians.
#
# Settings: BENCH_RUNS (default 5), MOSTA_SIDECAR (default build/release/sidecar/mosta-sidecar, else
# build/sidecar/mosta-sidecar), PG_CONFIG. Needs the mostajs extension installed (make install).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-5}
BINARY=${MOSTA_SIDECAR:-build/release/sidecar/mosta-sidecar}
[ -x "$BINARY" ] || BINARY=build/sidecar/mosta-sidecar
[ -x "$BINARY" ] || { echo "switchover.sh: no mosta-sidecar binary (build it first)" >&2; exit 1; }
BINARY=$(realpath "$BINARY")
# poll_until, and the agents' helpers (start_agent, stop_agents, node_uri, on)
# shellcheck source=../test/integration/lib/tap.sh
source test/integration/lib/tap.sh
work=$(mktemp -d)
db=bench_switchover
# shellcheck source=../test/integration/lib/ha_nodes.sh
source test/integration/lib/ha_nodes.sh
dirs=()
daemon=
writer=
cleanup() {
	touch "$work/stop-writes"
	[ -n "$writer" ] && wait "$writer" 2>/dev/null
	stop_agents
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	local dir
	for dir in "${dirs[@]}"; do scripts/pg-cluster stop "$dir" >/dev/null 2>&1 || true; done
	rm -rf "$work" "$agent_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

env_value() { sed -n "s/^export $2=//p" <<<"$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

out=$(scripts/pg-cluster start)
n1_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
n1_port=$(env_value "$out" PGPORT)
dirs+=("$n1_dir")
psql -X -q -h 127.0.0.1 -p "$n1_port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null
psql -X -q -h 127.0.0.1 -p "$n1_port" -U postgres -d "$db" -c "CREATE EXTENSION mostajs" \
	-c "CREATE TABLE ha_load (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())" >/dev/null
out=$(MOSTA_CLUSTER_NAME=standby1 scripts/pg-cluster standby "$n1_dir")
s1_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
s1_port=$(env_value "$out" PGPORT)
dirs+=("$s1_dir")
out=$(MOSTA_CLUSTER_NAME=standby2 scripts/pg-cluster standby "$n1_dir")
s2_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
s2_port=$(env_value "$out" PGPORT)
dirs+=("$s2_dir")
rw_dsn="host=127.0.0.1,127.0.0.1,127.0.0.1 port=$n1_port,$s1_port,$s2_port dbname=$db user=postgres target_session_attrs=read-write"
psql -X -q -h 127.0.0.1 -p "$n1_port" -U postgres -d "$db" -o /dev/null \
	-c "SELECT mosta_add_replica('app', 'node1', 'master', 'postgres', '$(node_uri "$n1_port")')" \
	-c "SELECT mosta_add_replica('app', 'standby1', 'slave', 'postgres', '$(node_uri "$s1_port")')" \
	-c "SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', '$(node_uri "$s2_port")')"
"$BINARY" --source "$rw_dsn" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!
start_agent node1 "$n1_dir/data" "$n1_port"
start_agent standby1 "$s1_dir/data" "$s1_port"
start_agent standby2 "$s2_dir/data" "$s2_port"

# healthy TARGET PORT: the node on PORT (the master) reports TARGET up and within its tolerance
healthy() { [ "$(on "$2" "SELECT within_tolerance FROM mosta_replica_status('app') WHERE replica = '$1'" 2>/dev/null)" = t ]; }

: >"$work/commits"
(
	while [ ! -e "$work/stop-writes" ]; do
		psql -X -q -d "$rw_dsn connect_timeout=2" -c "INSERT INTO ha_load DEFAULT VALUES" >/dev/null 2>&1 &&
			now_ms >>"$work/commits"
	done
) &
writer=$!

printf '%-4s %-20s %16s %16s %12s\n' run switchover "write downtime" "agent downtime" command
: >"$work/write" && : >"$work/agent" && : >"$work/command"
from=node1 from_port=$n1_port to=standby1 to_port=$s1_port
for run in $(seq 1 "$runs"); do
	poll_until 60 healthy "$to" "$from_port" || {
		echo "switchover.sh: $to is not healthy: $(on "$from_port" "SELECT concat_ws(' ', status, lag_ms, last_error) FROM mosta_replica_status('app') WHERE replica = '$to'")" >&2
		tail -5 "$work/log.daemon" >&2
		exit 1
	}
	poll_until 60 agent_ready "$from" || { echo "switchover.sh: the agent of $from is not ready" >&2; exit 1; }
	start=$(now_ms)
	"$BINARY" switchover app "$to" --source "$rw_dsn" --timeout 2m >"$work/switchover.out" 2>&1 ||
		{ cat "$work/switchover.out" >&2; exit 1; }
	end=$(now_ms)
	# a few commits on the new primary close the gap
	settled() { [ "$(awk -v e="$end" '$1 > e' "$work/commits" | wc -l)" -ge 3 ]; }
	poll_until 30 settled || { echo "switchover.sh: no commit after the switchover" >&2; exit 1; }
	gap=$(awk -v s="$start" 'prev && $1 >= s { g = $1 - prev; if (g > max) max = g } { prev = $1 } END { print max + 0 }' \
		"$work/commits")
	agent=$(on "$to_port" "SELECT detail->>'downtime_ms' FROM mosta.ha_requests ORDER BY id DESC LIMIT 1")
	echo "$gap" >>"$work/write"
	echo "$agent" >>"$work/agent"
	echo $((end - start)) >>"$work/command"
	printf '%-4s %-20s %13s ms %13s ms %9s ms\n' "$run" "$from -> $to" "$gap" "$agent" $((end - start))
	# the next run switches back
	tmp=$from tmp_port=$from_port
	from=$to from_port=$to_port to=$tmp to_port=$tmp_port
done
printf '%-25s %13s ms %13s ms %9s ms\n' "median of $runs" "$(median <"$work/write")" "$(median <"$work/agent")" \
	"$(median <"$work/command")"
echo "goal: write downtime < 3000 ms (issue 13)"
