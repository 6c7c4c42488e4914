#!/usr/bin/env bash
# failover.sh: how long a project is without a writable primary when its primary dies and an operator runs
# `mosta-sidecar failover` at once (issue 13, item 8; docs/failover.md), against the anchor of the bare promotion
# any manual procedure ends with (`SELECT pg_promote(true, 60)` on the standby, nothing checked, no catalog, no
# standby repointed).
#
# Each run starts its own three throwaway clusters (scripts/pg-cluster start/standby): a primary, standby1
# (synchronous: synchronous_standby_names = 'standby1' on the primary) and standby2 (asynchronous), declares them
# in project app (tolerance 0 for both standbys), runs the daemon until standby1 is observed sync, starts a write
# load (single-row INSERT commits in a loop), then kills the primary's postmaster (kill -9) and at once runs
#   ours:   mosta-sidecar failover app --to standby1 (multi-host --source naming the three nodes)
#   anchor: psql -c "SELECT pg_promote(true, 60)" on standby1
# and polls standby1 with a one-row INSERT every 10 ms. Measured: from the kill to the first INSERT standby1
# commits ("death to writable"), and for ours the command's own figures (its total time, and "writable after",
# from its start to the end of the promotion). The variants take turns; the median of BENCH_RUNS runs of each is
# printed. Goal (issue 13): a writable new primary < 5 s after the command.
#
# It then runs bench/switchover.sh (a switchover's write downtime) and bench/resync.sh (the re-sync after a
# failover against a full copy), so that one command prints the three figures of the issue.
#
# Settings: BENCH_FAILOVER_ONLY=1 (this figure alone), BENCH_RUNS (default 3), MOSTA_SIDECAR (default
# build/release/sidecar/mosta-sidecar, else build/sidecar/mosta-sidecar). Needs the mostajs extension installed (make install; bench/run-all does it).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-3}
binary=${MOSTA_SIDECAR:-build/release/sidecar/mosta-sidecar}
[ -x "$binary" ] || binary=build/sidecar/mosta-sidecar
[ -x "$binary" ] || { echo "failover.sh: no mosta-sidecar binary (build it first)" >&2; exit 1; }
work=$(mktemp -d)
dirs=()
pids=()
cleanup() {
	local pid dir
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for dir in "${dirs[@]}"; do scripts/pg-cluster stop "$dir" >/dev/null 2>&1 || true; done
	dirs=()
	pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

env_value() { sed -n "s/^export $2=//p" <<<"$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
db=bench_failover

# setup: three clusters, the catalog, the daemon until standby1 is observed sync, the load; sets p_port, s1_port,
# s2_port, p_dir
setup() {
	local out
	out=$(scripts/pg-cluster start)
	p_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
	p_port=$(env_value "$out" PGPORT)
	dirs+=("$p_dir")
	psql -X -q -h 127.0.0.1 -p "$p_port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null
	psql -X -q -h 127.0.0.1 -p "$p_port" -U postgres -d "$db" -c "CREATE EXTENSION mostajs" \
		-c "CREATE TABLE load (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())" >/dev/null
	out=$(MOSTA_CLUSTER_NAME=standby1 scripts/pg-cluster standby "$p_dir")
	dirs+=("$(env_value "$out" MOSTA_CLUSTER_DIR)")
	s1_port=$(env_value "$out" PGPORT)
	out=$(MOSTA_CLUSTER_NAME=standby2 scripts/pg-cluster standby "$p_dir")
	dirs+=("$(env_value "$out" MOSTA_CLUSTER_DIR)")
	s2_port=$(env_value "$out" PGPORT)
	on "$p_port" "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
	on "$p_port" "SELECT pg_reload_conf()" >/dev/null
	uri() { echo "host=127.0.0.1 port=$1 dbname=$db user=postgres"; }
	psql -X -q -h 127.0.0.1 -p "$p_port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -o /dev/null \
		-v p="$(uri "$p_port")" -v s1="$(uri "$s1_port")" -v s2="$(uri "$s2_port")" <<-'SQL'
		SELECT mosta_add_replica('app', 'primary', 'master', 'postgres', :'p');
		SELECT mosta_add_replica('app', 'standby1', 'slave', 'postgres', :'s1', lag_tolerance_ms => 0);
		SELECT mosta_add_replica('app', 'standby2', 'slave', 'postgres', :'s2', lag_tolerance_ms => 0);
	SQL
	PGHOST=127.0.0.1 PGPORT=$p_port PGUSER=postgres PGDATABASE=$db \
		"$binary" --status-interval 200ms --poll-interval 100ms 2>"$work/daemon.log" &
	daemon=$!
	pids+=("$daemon")
	local deadline=$((SECONDS + 60))
	until [ "$(on "$s1_port" "SELECT sync_state FROM mosta.replica_status WHERE replica = 'standby1'" 2>/dev/null)" = sync ]; do
		[ $SECONDS -lt $deadline ] || { echo "failover.sh: standby1 never observed sync" >&2; exit 1; }
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	(while psql -X -q -h 127.0.0.1 -p "$p_port" -U postgres -d "$db" -c "INSERT INTO load DEFAULT VALUES" \
		2>/dev/null; do :; done) &
	pids+=("$!")
	# the load is running: some commits acknowledged
	deadline=$((SECONDS + 30))
	until [ "$(on "$p_port" "SELECT count(*) >= 50 FROM load" 2>/dev/null)" = t ]; do
		[ $SECONDS -lt $deadline ] || { echo "failover.sh: the load does not commit" >&2; exit 1; }
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
}

on() { psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d "$db" -c "$2"; }

# one_run VARIANT: prints "death_to_writable_ms [command_total_ms command_writable_ms]"
one_run() {
	local variant=$1 killed writable out
	# this runs in a $(...) subshell: its clusters are stopped when it ends, whatever happens
	trap cleanup EXIT
	setup
	local postmaster
	postmaster=$(head -1 "$p_dir/data/postmaster.pid")
	killed=$(now_ms)
	kill -9 "$postmaster"
	# the daemon's source is gone: it only retries; stop it so that it does not compete for the CPU
	kill "$daemon" 2>/dev/null || true
	if [ "$variant" = ours ]; then
		"$binary" failover app --to standby1 \
			--source "host=127.0.0.1,127.0.0.1,127.0.0.1 port=$p_port,$s1_port,$s2_port dbname=$db user=postgres" \
			>"$work/failover.out" 2>&1 || { cat "$work/failover.out" >&2; exit 1; }
	else
		on "$s1_port" "SELECT pg_promote(true, 60)" >/dev/null
	fi
	local deadline=$((SECONDS + 60))
	until on "$s1_port" "INSERT INTO load DEFAULT VALUES" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || { echo "failover.sh: standby1 never writable" >&2; exit 1; }
		sleep 0.01 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	writable=$(now_ms)
	out="$((writable - killed))"
	if [ "$variant" = ours ]; then
		out="$out $(sed -n 's/^failover: done in \([0-9]*\) ms: .*writable after \([0-9]*\) ms.*/\1 \2/p' "$work/failover.out")"
	fi
	cleanup
	echo "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$work/ours"
: >"$work/anchor"
for run in $(seq 1 "$runs"); do
	# take turns: which variant goes first alternates
	if [ $((run % 2)) -eq 1 ]; then order="ours anchor"; else order="anchor ours"; fi
	for variant in $order; do
		result=$(one_run "$variant")
		echo "$result" >>"$work/$variant"
		echo "run $run $variant: $result" >&2
	done
done

ours=$(cut -d' ' -f1 "$work/ours" | median)
total=$(cut -d' ' -f2 "$work/ours" | median)
writable=$(cut -d' ' -f3 "$work/ours" | median)
anchor=$(cut -d' ' -f1 "$work/anchor" | median)
echo "failover: primary killed (kill -9) under load, standby1 (synchronous) promoted; median of $runs runs"
printf '  %-62s %8s ms\n' "anchor: death to writable, bare SELECT pg_promote(true, 60)" "$anchor"
printf '  %-62s %8s ms\n' "ours: death to writable, mosta-sidecar failover --to standby1" "$ours"
printf '  %-62s %8s ms\n' "  the command's total (checks, promote, catalog, repoint, log)" "$total"
printf '  %-62s %8s ms\n' "  the command's start to the end of the promotion" "$writable"
awk -v o="$ours" -v a="$anchor" 'BEGIN { printf "  ratio ours/anchor %53.2f\n", o / a }'
awk -v o="$ours" 'BEGIN { printf "  goal: writable < 5000 ms after the command: %s\n", (o < 5000 ? "met" : "NOT met") }'

# the other two figures of issue 13 (item 8) in the same command: switchover write downtime and the re-sync after
# a failover against a full copy (BENCH_FAILOVER_ONLY=1 leaves them out)
if [ "${BENCH_FAILOVER_ONLY:-0}" != 1 ]; then
	echo
	bash bench/switchover.sh
	echo
	bash bench/resync.sh
fi
