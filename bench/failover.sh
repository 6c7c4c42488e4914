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
# The automatic case (issue 17, item 5; docs/ha.md): three nodes with their node agents on a 3-member etcd
# (test/integration/lib/ha_dcs.sh, the tests' harness: --dcs-ttl BENCH_TTL, default 10s, --poll-interval BENCH_POLL,
# default 1s, --synchronous on, lag_tolerance_ms 0), the write sampler trying one INSERT on every node every 20 ms;
# node1, the master, dies: node death (kill -9 of its agent AND its postmaster: the leader key goes when its lease
# expires) and postmaster death (kill -9 of the postmaster alone: its agent gives the key up). Measured per run: from
# the kill to the first commit on the new master, with its components: the kill to the leader key's deletion
# (etcdctl watch), the deletion to the key taken by a standby's agent (detection and race), the key taken to the
# first commit (promotion); medians of BENCH_RUNS runs. Goal (issue 17): node death to writable <= TTL + 2 s.
#
# The rule takeover (issue 17, item 5): two rule sidecars with --dcs (--dcs-ttl BENCH_TTL) on one cluster, rule r1
# (cdc) into a SQLite target; the holder of the rule's key is killed (kill -9) and a row committed at once: from the
# kill to the row in the target (applied by the other sidecar), with the rule key's deletion and its taking over.
#
# It then runs bench/switchover.sh (a switchover's write downtime) and bench/resync.sh (the re-sync after a
# failover against a full copy), so that one command prints the three figures of the issue.
#
# Settings: BENCH_FAILOVER_CASES (default "manual automatic takeover"), BENCH_FAILOVER_ONLY=1 (these figures alone, without
# switchover.sh and resync.sh), BENCH_RUNS (default 3), BENCH_TTL and BENCH_POLL (the automatic case), MOSTA_SIDECAR
# (default build/release/sidecar/mosta-sidecar, else build/sidecar/mosta-sidecar). Needs the mostajs extension
# installed (make install; bench/run-all does it) in PG_CONFIG's PostgreSQL, with the write lease (the automatic
# case preloads it), and etcd, python3-psycopg2 (scripts/install-deps).
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

# the automatic case's harness, shared with the tests: poll_until, env_value (tap.sh), the nodes, agents, sampler
# shellcheck source=../test/integration/lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=../test/integration/lib/ha_dcs.sh
source test/integration/lib/ha_dcs.sh
rmdir "$agent_root" # ha_dcs_init makes one per run
BINARY=$(realpath "$binary")
# a run that cannot set up stops the benchmark (tap.sh's counts and finish line mean nothing here)
fail_setup() {
	echo "failover.sh: $*" >&2
	exit 1
}
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

# on PORT SQL: lib/ha_nodes.sh's (sourced above)

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

manual_case() {
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
}

# The automatic case (issue 17, docs/ha.md): the harness of the automatic failover tests (test/integration/lib/
# ha_dcs.sh: a 3-member etcd, three nodes with the write lease preloaded, an agent each with --dcs, --dcs-ttl
# $BENCH_TTL (default 10s), --poll-interval $BENCH_POLL (default 1s, the agent's default), --synchronous on).
# auto_run VARIANT: node (kill -9 of node1's agent AND its postmaster: the leader key expires with the lease) or
# postmaster (kill -9 of the postmaster alone: its agent gives the key up at once); prints
# "total key_gone detect promote new_master" in ms: from the kill to the first commit on the new master, to the
# leader key's deletion (etcdctl watch), from it to the key taken again, from that to the first commit (the write
# sampler tries one INSERT on every node every 20 ms).
auto_run() {
	set +e
	dcs_ttl=${BENCH_TTL:-10s}
	dcs_poll=${BENCH_POLL:-1s}
	sampler_interval=0.02
	ha_dcs_init
	watcher=
	trap '[ -n "$watcher" ] && kill -- -"$watcher" 2>/dev/null; ha_dcs_cleanup' EXIT
	ha_dcs_start
	start_dcs_agents
	{ wait_leader 60 && [ "$leader" = node1 ]; } || fail_setup "node1's agent did not take the leader key"
	wait_ready 60 || fail_setup "no synchronous standby"
	# every event on the leader key with its time (unix ms): DELETE, PUT and its value
	ETCD_ENDPOINTS=$ETCD_ENDPOINTS setsid bash -c 'ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" watch "$1" |
		while IFS= read -r line; do t=${EPOCHREALTIME/./}; echo "$((t / 1000)) $line"; done' - \
		"$prefix/projects/app/leader" >"$work/watch" 2>/dev/null &
	watcher=$!
	start_sampler "$work/samples"
	written() { [ "$(awk '$2 == "node1" && $3 == "ok"' "$work/samples" | grep -c .)" -ge 20 ]; }
	poll_until 30 written || fail_setup "the sampler's writes do not commit on node1"
	local killed t
	t=${EPOCHREALTIME/./}
	killed=$((t / 1000))
	[ "$1" = node ] && kill -9 "${agent_pid[node1]}"
	kill -9 "$(postmaster_of node1)"
	if [ "$1" = node ]; then
		wait "${agent_pid[node1]}" 2>/dev/null
		unset "agent_pid[node1]"
	fi
	taken_over() { awk '$2 != "node1" && $3 == "ok"' "$work/samples" | grep -q .; }
	poll_until 120 taken_over || fail_setup "no new master within 120 s ($1)"
	stop_sampler
	kill -- -"$watcher" 2>/dev/null
	watcher=
	check_sampler "$work/samples" >/dev/null || echo "failover.sh: the sampler found two writable masters" >&2
	awk -v k="$killed" '
		FILENAME ~ /watch$/ && $1 >= k && $2 == "DELETE" && !gone { gone = $1 }
		FILENAME ~ /watch$/ && $1 >= k && $2 == "PUT" && gone && !taken { taken = $1 }
		FILENAME ~ /samples$/ && $2 != "node1" && $3 == "ok" && (!first || $6 < first) { first = $6; who = $2 }
		END { printf "%d %d %d %d %s\n", first - k, gone - k, taken - gone, first - taken, who }' \
		"$work/watch" "$work/samples"
}

automatic_case() {
	local variant run result
	for variant in node postmaster; do
		: >"$work/auto-$variant"
		for run in $(seq 1 "$runs"); do
			result=$( (auto_run "$variant") ) || exit 1
			echo "$result" >>"$work/auto-$variant"
			echo "run $run automatic, $variant death: $result" >&2
		done
	done
	local ttl=${BENCH_TTL:-10s}
	echo "automatic failover (agents on etcd, --dcs-ttl $ttl, --poll-interval ${BENCH_POLL:-1s}, --synchronous on):"
	echo "node1 killed under the write sampler's writes; median of $runs runs"
	for variant in node postmaster; do
		if [ "$variant" = node ]; then
			echo "  node death: kill -9 of node1's agent AND its postmaster (the leader key expires with the lease)"
		else
			echo "  postmaster death: kill -9 of node1's postmaster alone (its agent gives the leader key up)"
		fi
		local f=$work/auto-$variant
		printf '    %-60s %8s ms\n' "death to the first commit on the new master" "$(cut -d' ' -f1 "$f" | median)"
		printf '    %-60s %8s ms\n' "  death to the leader key's deletion" "$(cut -d' ' -f2 "$f" | median)"
		printf '    %-60s %8s ms\n' "  deletion to the key taken by a standby's agent (detection)" "$(cut -d' ' -f3 "$f" | median)"
		printf '    %-60s %8s ms\n' "  key taken to the first commit (promotion)" "$(cut -d' ' -f4 "$f" | median)"
		echo "    new masters: $(cut -d' ' -f5 "$f" | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')"
	done
	awk -v t="$(cut -d' ' -f1 "$work/auto-node" | median)" -v ttl="${ttl%s}" \
		'BEGIN { printf "  goal (issue 17): node death to writable <= TTL + 2 s = %d ms: %s\n", ttl * 1000 + 2000,
		         (t <= ttl * 1000 + 2000 ? "met" : "NOT met") }'
}

# takeover_run: two rule sidecars with --dcs (--dcs-ttl BENCH_TTL) on one cluster, rule r1 (cdc) into a SQLite
# target; the holder of P/rules/r1 is killed (kill -9) and a marker row committed at once; prints "total key_gone
# taken new_holder" in ms: from the kill to the marker in the SQLite target (applied by the other sidecar), to the
# rule key's deletion, from it to the key taken by the other sidecar.
takeover_run() {
	set +e
	# globals: the EXIT trap runs after the function's locals are gone
	tk_work=$(mktemp -d)
	tk_pids=()
	tk_watcher=
	p_dir=
	trap 'for p in "${tk_pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
		[ -n "$tk_watcher" ] && kill -- -"$tk_watcher" 2>/dev/null
		scripts/etcd-cluster stop "$tk_work/etcd" >/dev/null 2>&1
		[ -n "$p_dir" ] && scripts/pg-cluster stop "$p_dir" >/dev/null 2>&1
		rm -rf "$tk_work"' EXIT
	local rwork=$tk_work out p_port etcd
	out=$(scripts/etcd-cluster start "$rwork/etcd" 3) || fail_setup "etcd"
	etcd=$(env_value "$out" ETCD_ENDPOINTS)
	out=$(scripts/pg-cluster start) || fail_setup "pg-cluster start"
	p_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
	p_port=$(env_value "$out" PGPORT)
	local dsn="host=127.0.0.1 port=$p_port dbname=postgres user=postgres"
	psql -X -q -d "$dsn" -v ON_ERROR_STOP=1 -o /dev/null -v uri="$dsn" -v lite="$rwork/app.db" <<-'SQL' || fail_setup "catalog"
		SET client_min_messages = warning;
		CREATE EXTENSION mostajs;
		CREATE TABLE takeover (id int PRIMARY KEY);
		INSERT INTO takeover VALUES (0);
		SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
		SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
		SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['takeover']);
	SQL
	local name key=/bench-takeover/rules/r1
	declare -A sidecar
	for name in side-a side-b; do
		MOSTA_DATA_DIR=$rwork PGHOST=127.0.0.1 PGPORT=$p_port PGUSER=postgres PGDATABASE=postgres \
			"$BINARY" --dcs "etcd://$etcd/bench-takeover" --dcs-ttl "${BENCH_TTL:-10s}" --name "$name" \
			2>"$rwork/log.$name" &
		sidecar[$name]=$!
		tk_pids+=("$!")
	done
	holder() { ETCDCTL_API=3 etcdctl --endpoints "$etcd" --command-timeout=2s get --print-value-only "$key" 2>/dev/null; }
	in_target() {
		[ "$(sqlite3 -readonly "$rwork/app.db" "SELECT count(*) FROM \"public.takeover\" WHERE id = $1" 2>/dev/null)" = 1 ]
	}
	poll_until 60 in_target 0 || fail_setup "the rule does not apply (holder '$(holder)')"
	local first
	first=$(holder)
	[ -n "$first" ] || fail_setup "nobody holds $key"
	ETCD_ENDPOINTS=$etcd setsid bash -c 'ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" watch "$1" |
		while IFS= read -r line; do t=${EPOCHREALTIME/./}; echo "$((t / 1000)) $line"; done' - "$key" \
		>"$rwork/watch" 2>/dev/null &
	tk_watcher=$!
	local t killed
	t=${EPOCHREALTIME/./}
	killed=$((t / 1000))
	kill -9 "${sidecar[$first]}"
	wait "${sidecar[$first]}" 2>/dev/null
	psql -X -q -d "$dsn" -c "INSERT INTO takeover VALUES (1)" >/dev/null || fail_setup "the marker row"
	if ! poll_until 60 in_target 1; then
		tail -n 5 "$rwork"/log.side-* >&2
		fail_setup "the marker never reached the target after the takeover"
	fi
	t=${EPOCHREALTIME/./}
	local applied=$((t / 1000))
	awk -v k="$killed" -v a="$applied" -v first="$first" '
		$1 >= k && $2 == "DELETE" && !gone { gone = $1 }
		$1 >= k && $2 == "PUT" && gone && !taken { taken = $1; want = 1; next }
		want == 1 { want = 2; next }
		want == 2 { who = $2; want = 0 }
		END { printf "%d %d %d %s\n", a - k, gone - k, taken - gone, who }' "$rwork/watch"
}

takeover_case() {
	local run result f=$work/takeover
	: >"$f"
	for run in $(seq 1 "$runs"); do
		result=$( (takeover_run) ) || exit 1
		echo "$result" >>"$f"
		echo "run $run rule takeover: $result" >&2
	done
	echo "rule takeover (two sidecars with --dcs, --dcs-ttl ${BENCH_TTL:-10s}, rule r1 into SQLite): the holder killed (kill -9),"
	echo "a row committed at once; median of $runs runs"
	printf '  %-62s %8s ms\n' "kill to the row in the target, applied by the other sidecar" "$(cut -d' ' -f1 "$f" | median)"
	printf '  %-62s %8s ms\n' "  kill to the rule key's deletion" "$(cut -d' ' -f2 "$f" | median)"
	printf '  %-62s %8s ms\n' "  deletion to the key taken by the other sidecar" "$(cut -d' ' -f3 "$f" | median)"
}

cases=${BENCH_FAILOVER_CASES:-manual automatic takeover}
for case_name in $cases; do
	case $case_name in
	manual) manual_case ;;
	automatic) automatic_case ;;
	takeover) takeover_case ;;
	*) echo "failover.sh: unknown case $case_name in BENCH_FAILOVER_CASES (manual, automatic, takeover)" >&2; exit 2 ;;
	esac
	echo
done
# the other two figures of issue 13 (item 8) in the same command: switchover write downtime and the re-sync after
# a failover against a full copy (BENCH_FAILOVER_ONLY=1 leaves them out)
if [ "${BENCH_FAILOVER_ONLY:-0}" != 1 ]; then
	echo
	bash bench/switchover.sh
	echo
	bash bench/resync.sh
fi
