#!/usr/bin/env bash
# overhead.sh: what change capture costs the primary under pgbench's
# TPC-B-like workload. Variants, run in turn in every round:
#   (i)     no capture
#   (ii)    a mostajs slot consumed by pg_recvlogical (batch-bytes=65536)
#   (ii-w)  a wal2json slot consumed by pg_recvlogical (format-version=2)
#   (ii-w1) the same with wal2json's default format-version=1 (a message per transaction)
#   (ii-p)  a pgoutput slot (native logical replication's own plugin, binary
#           protocol) consumed by pg_recvlogical with its protocol options
#           (proto_version=1, publication_names=bench_pub: a publication of
#           the four pgbench tables): the floor of what a consuming slot costs
#   (iii)   mostajs trigger capture: mosta_capture_table() on the four tables
#   (iv)    a naive PL/pgSQL trigger inserting to_jsonb(NEW) into a log table
# Prints the median TPS of each and its overhead, 1 - TPS / TPS(i), the CPU
# time the server and the consumer spend per transaction (which other load on
# the machine moves less than TPS), and the ratios of overheads; run on a
# throwaway cluster.
#
# pgbench_history has no primary key: setup adds one (hid bigserial) for
# every variant alike, so the trigger variants can capture it and all
# variants run on the same tables (replica identity stays the default).
# A slot is created just before its run and dropped after it, so no consumer
# has old WAL to catch up on; "catch-up" is how long the consumer took, after
# pgbench ended, to decode the rest of the run's WAL (0 when it kept up).
# A CHECKPOINT precedes every run.
#
# With fsync on, TPS on a small VM swings with the disk from run to run; the
# CPU time per transaction is the steadier measure and its ratios are printed
# too.
#
# The mostajs slot's overhead is printed against wal2json's (the target: at
# most half of it) and against pgoutput's: pgoutput sends binary tuples and no
# text, so (ii-p) is what any consuming slot costs (the walsender waking,
# decoding and sending per commit); (ii)/(ii-p) near 1 says the mostajs plugin
# adds little on top of that floor.
#
# Settings: BENCH_SECONDS (per run, default 6), BENCH_ROUNDS (default 5),
# BENCH_CLIENTS (default 2), BENCH_PGBENCH_SCALE (pgbench -i -s, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

# A primary runs with fsync on: commits then wait for the disk, as they do in
# production, and capture competes for what CPU is left. (The throwaway
# cluster turns fsync off for test speed; MOSTA_PG_CONF overrides this.)
if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	MOSTA_PG_CONF="${MOSTA_PG_CONF-fsync = on}" exec scripts/pg-cluster run -- bash "$0" "$@"
fi

seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-5}
clients=${BENCH_CLIENTS:-2}
pgbench_scale=${BENCH_PGBENCH_SCALE:-10}
tables=(pgbench_accounts pgbench_tellers pgbench_branches pgbench_history)
work=$(mktemp -d)
consumer=""

cleanup() {
	if [ -n "$consumer" ]; then
		kill "$consumer" 2>/dev/null || true
		wait "$consumer" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench_overhead"
export PGDATABASE=bench_overhead
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

pgbench -i -q -s "$pgbench_scale" >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; exit 1; }
q <<'SQL'
ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY;
CREATE EXTENSION mostajs;
CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts, pgbench_tellers, pgbench_branches, pgbench_history;
CREATE TABLE naive_log (id bigserial PRIMARY KEY, table_name text, op text, row_data jsonb,
                        logged_at timestamptz DEFAULT now());
CREATE FUNCTION naive_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO naive_log (table_name, op, row_data) VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(OLD));
  ELSE
    INSERT INTO naive_log (table_name, op, row_data) VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(NEW));
  END IF;
  RETURN NULL;
END $$;
SQL

has_wal2json=1
[ -e "$(pg_config --pkglibdir)/wal2json.so" ] || has_wal2json=0
has_trigger_capture=1
[ -n "$(q -c "SELECT to_regprocedure('mosta_capture_table(regclass)')")" ] &&
	[ -n "$(q -c "SELECT to_regproc('mosta_uncapture_table')")" ] || has_trigger_capture=0

# The variants: key, label, kind.
keys=() labels=() kinds=()
variant() { keys+=("$1"); labels+=("$2"); kinds+=("$3"); }
variant "(i)" "no capture" none
variant "(ii)" "mostajs slot, pg_recvlogical" mostajs
if [ "$has_wal2json" = 1 ]; then
	variant "(ii-w)" "wal2json v2 slot, pg_recvlogical" wal2json2
	variant "(ii-w1)" "wal2json v1 slot, pg_recvlogical" wal2json1
fi
variant "(ii-p)" "pgoutput slot, pg_recvlogical" pgoutput
[ "$has_trigger_capture" = 1 ] && variant "(iii)" "mostajs trigger capture" trigger
variant "(iv)" "naive PL/pgSQL to_jsonb trigger" naive
count=${#keys[@]}

# each_table template: the template once per captured table, %s standing for the table.
each_table() { local t; for t in "${tables[@]}"; do echo "${1//%s/$t}"; done; }

# start_consumer plugin options...: a slot and a pg_recvlogical streaming it to /dev/null.
start_consumer() {
	local plugin=$1 kv args=()
	shift
	for kv in "$@"; do args+=(-o "$kv"); done
	q -c "SELECT pg_create_logical_replication_slot('bench_consumer', '$plugin')" >/dev/null
	pg_recvlogical -d bench_overhead --start -S bench_consumer -f /dev/null --no-loop -s 1 -F 1 "${args[@]}" &
	consumer=$!
	for _ in $(seq 100); do
		[ "$(q -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'bench_consumer'")" = t ] && return
		sleep 0.1
	done
	echo "overhead.sh: pg_recvlogical did not start streaming" >&2
	exit 1
}

# wait_caught_up file: waits until the consumer has decoded all WAL flushed
# so far (up to 120 s) and appends how long that took to file.
wait_caught_up() {
	local flushed began caught_up=""
	flushed=$(q -c "SELECT pg_current_wal_flush_lsn()")
	began=$(date +%s%N)
	for _ in $(seq 1200); do
		caught_up=$(q -c "SELECT sent_lsn >= '$flushed' FROM pg_stat_replication r
		  JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'bench_consumer'")
		[ "$caught_up" = t ] && break
		sleep 0.1
	done
	if [ "$caught_up" = t ]; then
		awk -v n="$(($(date +%s%N) - began))" 'BEGIN { printf "%.1f\n", n / 1e9 }' >>"$1"
	else
		echo ">120" >>"$1"
	fi
}

# stop_consumer: stops the consumer and drops its slot.
stop_consumer() {
	if ! kill "$consumer" 2>/dev/null; then
		wait "$consumer" 2>/dev/null || true
		consumer=""
		echo "overhead.sh: pg_recvlogical stopped during the run (its error is above)" >&2
		exit 1
	fi
	wait "$consumer" 2>/dev/null || true
	consumer=""
	q -c "SELECT pg_drop_replication_slot('bench_consumer')" >/dev/null
}

setup() {
	case $1 in
	mostajs) start_consumer mostajs batch-bytes=65536 ;;
	wal2json2) start_consumer wal2json format-version=2 ;;
	wal2json1) start_consumer wal2json format-version=1 ;;
	pgoutput) start_consumer pgoutput proto_version=1 publication_names=bench_pub ;;
	trigger) q -c "$(each_table "SELECT mosta_capture_table('%s');")" >/dev/null ;;
	naive) q -c "$(each_table 'CREATE TRIGGER naive_capture AFTER INSERT OR UPDATE OR DELETE ON %s
	                 FOR EACH ROW EXECUTE FUNCTION naive_capture();')" ;;
	esac
}

# cpu_ticks: the CPU time (clock ticks) used so far by the server (the
# postmaster, its live children and the children it has reaped) and by the
# consumer, if one runs.
cpu_ticks() {
	local postmaster pid stat total=0
	postmaster=$(head -1 "$MOSTA_CLUSTER_DIR/data/postmaster.pid")
	for pid in $postmaster $(pgrep -P "$postmaster") $consumer; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		# the fields after "pid (comm) ": $12 utime, $13 stime, $14 cutime, $15 cstime
		total=$((total + $(awk -v with_children=$((pid == postmaster)) \
			'{ print $12 + $13 + with_children * ($14 + $15) }' <<<"${stat##*) }")))
	done
	echo "$total"
}

# teardown kind: undoes setup.
teardown() {
	case $1 in
	mostajs | wal2json2 | wal2json1 | pgoutput) stop_consumer ;;
	trigger)
		q -c "$(each_table "SELECT mosta_uncapture_table('%s');")" >/dev/null
		q -c "DO \$\$ BEGIN IF to_regclass('mosta.change_log') IS NOT NULL THEN TRUNCATE mosta.change_log; END IF; END \$\$" \
			>/dev/null
		;;
	naive)
		q -c "$(each_table 'DROP TRIGGER naive_capture ON %s;')" >/dev/null
		q -c "TRUNCATE naive_log" >/dev/null
		;;
	esac
}

for ((round = 0; round < rounds; round++)); do
	for ((k = 0; k < count; k++)); do
		i=$(((k + round) % count))
		q -c "CHECKPOINT" >/dev/null
		setup "${kinds[$i]}"
		cpu_before=$(cpu_ticks)
		pgbench -c "$clients" -j "$clients" -T "$seconds" >"$work/pgbench.log" 2>&1 ||
			{ cat "$work/pgbench.log" >&2; exit 1; }
		[ -n "$consumer" ] && wait_caught_up "$work/catchup.$i"
		cpu_after=$(cpu_ticks)
		teardown "${kinds[$i]}"
		sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.log" >>"$work/tps.$i"
		transactions=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.log")
		awk -v t="$((cpu_after - cpu_before))" -v hz="$(getconf CLK_TCK)" -v n="$transactions" \
			'BEGIN { print t / hz / n * 1e6 }' >>"$work/cpu.$i"
	done
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
base_tps=$(median "$work/tps.0")
base_cpu=$(median "$work/cpu.0")
declare -A overhead cpu_overhead
printf 'pgbench TPC-B-like, scale %d, %d clients, %d s per run, %d rounds alternating the variants; medians\n' \
	"$pgbench_scale" "$clients" "$seconds" "$rounds"
printf '%-8s %-33s %6s %11s %8s %9s %7s %8s\n' variant "" TPS "(min-max)" overhead "CPU us/tx" "CPU +" catch-up
for ((i = 0; i < count; i++)); do
	key=${keys[$i]}
	tps=$(median "$work/tps.$i")
	cpu=$(median "$work/cpu.$i")
	overhead[$key]=$(awk -v t="$tps" -v b="$base_tps" 'BEGIN { print 1 - t / b }')
	cpu_overhead[$key]=$(awk -v c="$cpu" -v b="$base_cpu" 'BEGIN { print c / b - 1 }')
	catchup=""
	[ -f "$work/catchup.$i" ] && catchup="$(sort -n "$work/catchup.$i" | sed -n "$(((rounds + 1) / 2))p") s"
	[ "$key" = "(iv)" ] && [ "$has_trigger_capture" = 0 ] &&
		printf '%-8s %-33s %s\n' "(iii)" "mostajs trigger capture" "trigger capture: not available in this build"
	printf '%-8s %-33s %6.0f %11s %7.1f%% %9.0f %6.1f%% %8s\n' "$key" "${labels[$i]}" "$tps" \
		"$(sort -n "$work/tps.$i" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "(%.0f-%.0f)", lo, hi }')" \
		"$(awk -v o="${overhead[$key]}" 'BEGIN { print 100 * o }')" "$cpu" \
		"$(awk -v o="${cpu_overhead[$key]}" 'BEGIN { print 100 * o }')" "$catchup"
done
echo "overhead = 1 - TPS / TPS(i); CPU us/tx = CPU time of the server and the consumer per transaction"
echo "(less sensitive to other load on the machine than TPS); catch-up = consumer still decoding after pgbench ended"
[ "$has_wal2json" = 1 ] || echo "wal2json is not installed (scripts/install-deps installs it): no (ii-w)"

# ratio a b: the overhead of a over that of b, by TPS and by CPU.
ratio() {
	awk -v a="${overhead[$1]}" -v b="${overhead[$2]}" -v ca="${cpu_overhead[$1]}" -v cb="${cpu_overhead[$2]}" 'BEGIN {
		printf "%s (by CPU %s)", b <= 0 ? "n/a" : sprintf("%.2f", a / b), cb <= 0 ? "n/a" : sprintf("%.2f", ca / cb) }'
}
[ "$has_wal2json" = 1 ] &&
	echo "overhead (ii)/(ii-w) = $(ratio "(ii)" "(ii-w)"), (ii)/(ii-w1) = $(ratio "(ii)" "(ii-w1)"); target <= 0.5 vs (ii-w)"
echo "overhead (ii)/(ii-p) = $(ratio "(ii)" "(ii-p)") (mostajs against pgoutput, the floor of a consuming slot)"
[ "$has_wal2json" = 1 ] &&
	echo "floor: overhead (ii-p)/(ii-w) = $(ratio "(ii-p)" "(ii-w)") (pgoutput against wal2json v2: the least a slot can cost, relative to wal2json's)"
[ "$has_trigger_capture" = 1 ] && echo "overhead (iii)/(iv) = $(ratio "(iii)" "(iv)"); target <= 0.5"
exit 0
