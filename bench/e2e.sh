#!/usr/bin/env bash
# e2e.sh: end-to-end catch-up, Postgres -> SQLite through mosta-sidecar against
# PostgreSQL's native logical replication Postgres -> Postgres (a publication
# and a subscription between two local clusters), in the same run on the same
# changes; then the sidecar's peak memory while it applies one big transaction.
# Starts its own two throwaway clusters (scripts/pg-cluster start/stop).
#
# Workload (the one of decode.sh; BENCH_SCALE=1): a table of bigint, int,
# text, numeric, timestamptz, jsonb and boolean; 1,000,000 inserts in 100
# transactions, then 500,000 updates in 50 and 200,000 deletes in 20 (10,000
# rows per transaction): 1,700,000 row changes. BENCH_SCALE scales the rows
# per transaction, not the number of transactions. Each round uses new ids.
#
# Catch-up. Both consumers follow the publisher's database bench_e2e from
# before the workload: the subscription bench_sub (subscriber cluster, table
# copied while empty, then ALTER SUBSCRIPTION ... DISABLE) and the sidecar
# rule e2e into one SQLite slave (a first "mosta-sidecar --once" on the empty
# table took the initial copy and created its slot). With both stopped,
# a round generates the workload and notes pg_current_wal_lsn(); then, one
# after the other (the order alternates between rounds), each consumer is
# started and timed until it has caught up:
#   native:  from ALTER SUBSCRIPTION ... ENABLE until the publisher's slot
#            bench_sub has confirmed_flush_lsn >= that LSN (polled every 20
#            ms inside the server), then DISABLE again;
#   sidecar: "mosta-sidecar --once" from start to exit (connect, read the
#            catalog, stream up to its heartbeat, flush, confirm, status).
# After each round the row count and sum(n) of the SQLite table and of the
# subscriber's table are checked against the publisher's. The median of
# BENCH_RUNS rounds is reported as changes/s; the ratio is sidecar / native
# (higher is better; target 2.5). For reading the sidecar's time, two more
# lines: "decode only", a copy of its slot streamed with its plugin options by
# pg_recvlogical to /dev/null (before either consumer runs; the floor the
# server's decoding and sending put under the sidecar), and the sidecar's own
# CPU time.
#
# Fairness: both targets are durable. The subscriber runs with fsync = on and
# the subscription with synchronous_commit = on (170 commits: a flush each,
# and the flush position it confirms is then exact, not up to the apply
# worker's 1 s nap late); SQLite runs with synchronous=FULL, as the sidecar
# opens it. The publisher keeps pg-cluster's fsync = off (it only decodes).
# The publisher's walsender decodes for both (pgoutput / mostajs) on the same
# two cores as the consumer. Two fixed delays that are not catch-up are taken
# out: the subscriber runs with wal_retrieve_retry_interval = 100ms (else the
# launcher waits up to 5 s before restarting an apply worker it stopped
# less than 5 s before), and the sidecar with --poll-interval 100ms (its
# --once exit is noticed at that granularity: the default, 1 s, adds up to a
# second after the rule has caught up; while catching up the stream is not
# idle for that long, so the setting should change nothing else).
#
# Mongo target (a measure of the driver path, not of MongoDB): a second rule,
# e2e_mongo, from the same table into a mongodb replica (project bench_mongo)
# on mosta-test-mongod, the project's in-memory MongoDB-wire test server
# (test/support/mongod), started by the script. Its own slot and its own
# initial copy; in each round, after the native and SQLite consumers, it is
# timed the same way ("mosta-sidecar --once" from start to exit) with the rule
# e2e disabled, and e2e_mongo is disabled while everything else runs, so the
# SQLite figures are those of a sidecar with one target, as before. After each
# round its document count and sum(n) are checked against the source (through
# Debian's /usr/bin/python3 and python3-pymongo, not through the sidecar). The
# test server is one thread keeping every document in memory (the rows left
# after BENCH_RUNS rounds: 800,000 per round at BENCH_SCALE=1); its peak RSS is
# printed. Its rate says what the sidecar's Mongo sink and libmongoc cost plus
# what this test server costs, nothing about a real mongod.
#
# Three targets (the cost of fan-out on the primary): a third rule,
# e2e_three, from the same table into a project bench3 of three replicas, an
# SQLite file, an SQL dump and a JSON archive; its own initial copy, disabled
# while everything else runs, then timed in each round after the SQLite one
# ("mosta-sidecar --once", the other rules disabled). While the SQLite rule e2e
# (one target) and the rule e2e_three run, the CPU time (utime + stime of
# /proc/PID/stat) of every walsender of the publisher serving the sidecar
# (pg_stat_activity: backend_type walsender, database bench_e2e,
# application_name mosta-sidecar; polled every 0.5 s, each one's stat read
# every 50 ms until it exits) is summed; the ratio of the two sums is the
# primary's decoding cost of three targets over that of one, on the same WAL
# (target: at most 1.2; with one slot per target it is about 3). No slot name
# is assumed, so it measures one slot per target and one slot per rule alike.
# The SQLite file of e2e_three is checked against the source too.
#
# PostgreSQL target (the issue-15 goal: PG -> PG through the sidecar at least
# as fast as native logical replication on the same WAL): a rule e2e_pg from
# the same table into a postgres replica (project bench_pg), the database
# bench_pg on the SUBSCRIBER cluster (fsync = on, the same durability as the
# subscription), where the sink creates the table from the initial copy's
# shape. Its own slot and initial copy; in each round, after the native and
# SQLite consumers, timed like them ("mosta-sidecar --once", the other rules
# disabled) and checked (count, sum(n)) against the source. The subscriber
# cluster is checkpointed before native's run and before the target's, so
# neither pays for flushing what the other wrote. Printed with its
# ratio native / it (target: at least 1).
#
# Peak RSS: for each size of BENCH_RSS_ROWS (default 250,000 and 1,000,000),
# one transaction inserting that many rows, then "mosta-sidecar --once" under
# /usr/bin/time -v ("Maximum resident set size"); also its peak during the
# catch-up rounds and with nothing to apply. Target: under 50 MB and
# independent of the transaction's size.
#
# Targets printed with each figure (issue 11): catch-up into SQLite at least
# 2.5x native, the PostgreSQL target at least 1x native (issue 15), the Mongo
# target at least 1.5x native, walsender CPU of three
# targets at most 1.2x that of one, peak RSS under 50 MB.
#
# Settings: BENCH_SCALE (default 1), BENCH_RUNS (default 3), BENCH_RSS_ROWS
# (default "250000 1000000"), MOSTA_SIDECAR (default the Release build
# build/release/sidecar/mosta-sidecar, which bench/run-all builds),
# BENCH_MONGO (default 1; 0 leaves the Mongo target out), BENCH_PG (default
# 1; 0 leaves the PostgreSQL target out), BENCH_THREE
# (default 1; 0 leaves the three-target rule out), MOSTA_TEST_MONGOD
# (default build/release/test/support/mosta-test-mongod, which bench/run-all
# builds too). The default run takes about 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
rss_sizes=${BENCH_RSS_ROWS:-250000 1000000}
sidecar=${MOSTA_SIDECAR:-build/release/sidecar/mosta-sidecar}
mongo=${BENCH_MONGO:-1}
three=${BENCH_THREE:-1}
pg_target=${BENCH_PG:-1}
test_mongod=${MOSTA_TEST_MONGOD:-build/release/test/support/mosta-test-mongod}
per_txn=$(awk -v s="$scale" 'BEGIN { n = int(10000 * s + 0.5); print (n < 1 ? 1 : n) }')
inserts=$((100 * per_txn))
updates=$((50 * per_txn))
deletes=$((20 * per_txn))
changes=$((inserts + updates + deletes))
transactions=170

die() { echo "e2e.sh: $*" >&2; exit 1; }
[ -x "$sidecar" ] || die "$sidecar not found: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release -j2 --target mosta-sidecar (or set MOSTA_SIDECAR)"
sidecar=$(realpath "$sidecar")
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install time"
if [ "$mongo" = 1 ]; then
	[ -x "$test_mongod" ] || die "$test_mongod not found: cmake --build build/release -j2 --target mosta-test-mongod (or set MOSTA_TEST_MONGOD, or BENCH_MONGO=0)"
	test_mongod=$(realpath "$test_mongod")
	/usr/bin/python3 -c 'import pymongo' 2>/dev/null || die "/usr/bin/python3 has no pymongo: apt-get install python3-pymongo (or BENCH_MONGO=0)"
fi

work=$(mktemp -d)
# the sidecar writes file targets only under its data directory (--data-dir, MOSTA_DATA_DIR)
export MOSTA_DATA_DIR=$work
pub_dir="" sub_dir="" mongod_pid=""
cleanup() {
	local dir
	if [ -n "$mongod_pid" ]; then
		kill -9 "$mongod_pid" 2>/dev/null || true
		wait "$mongod_pid" 2>/dev/null || true
	fi
	for dir in "$sub_dir" "$pub_dir"; do
		[ -n "$dir" ] && [ -f "$dir/.mosta-cluster" ] && scripts/pg-cluster stop "$dir" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cluster_port DIR: the port of the pg-cluster in DIR.
cluster_port() { scripts/pg-cluster env "$1" | sed -n 's/^export PGPORT=//p'; }
pub_dir=$(mktemp -d)
scripts/pg-cluster start "$pub_dir" >/dev/null
sub_dir=$(mktemp -d)
MOSTA_PG_CONF="fsync = on
wal_retrieve_retry_interval = 100ms" scripts/pg-cluster start "$sub_dir" >/dev/null
pub_port=$(cluster_port "$pub_dir")
sub_port=$(cluster_port "$sub_dir")
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=bench_e2e PGTZ=UTC
unset MOSTA_SOURCE_URI
pub() { PGPORT=$pub_port psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
sub() { PGPORT=$sub_port psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
source_uri="host=127.0.0.1 port=$pub_port user=postgres dbname=bench_e2e"
lite=$work/bench.db
lite3=$work/three.db
mongo_uri=""
if [ "$mongo" = 1 ]; then
	"$test_mongod" --port 0 >"$work/mongod.out" 2>"$work/mongod.err" &
	mongod_pid=$!
	for ((i = 0; i < 200; i++)); do
		grep -qs 'listening on' "$work/mongod.out" && break
		kill -0 "$mongod_pid" 2>/dev/null || { cat "$work/mongod.err" >&2; die "mosta-test-mongod exited"; }
		sleep 0.1
	done
	grep -q 'listening on' "$work/mongod.out" || die "mosta-test-mongod did not print its port within 20 s"
	mongo_uri="mongodb://$(sed -n 's/.*listening on //p' "$work/mongod.out" | head -1)/bench_e2e"
fi

table_sql='CREATE TABLE bench_rows (id bigint PRIMARY KEY, n int, label text, amount numeric(14,2),
                         at timestamptz, doc jsonb, flag boolean);'
pub -d postgres -c "CREATE DATABASE bench_e2e"
sub -d postgres -c "CREATE DATABASE bench_e2e"
pub -v uri="$source_uri" -v lite="$lite" >/dev/null <<SQL
CREATE EXTENSION mostajs;
$table_sql
CREATE PUBLICATION bench_pub FOR TABLE bench_rows;
SELECT mosta_add_replica('bench', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('bench', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('e2e', 'bench', 'bench', 'cdc', ARRAY['bench_rows']);
SQL
if [ "$mongo" = 1 ]; then
	pub -v uri="$mongo_uri" >/dev/null <<SQL
SELECT mosta_add_replica('bench_mongo', 'mongo', 'master', 'mongodb', :'uri');
SET client_min_messages = warning;
SELECT mosta_add_rule('e2e_mongo', 'bench', 'bench_mongo', 'cdc', ARRAY['bench_rows'], enabled => false);
SQL
fi
rules="e2e"
[ "$mongo" = 1 ] && rules="$rules e2e_mongo"
if [ "$pg_target" = 1 ]; then
	sub -d postgres -c "CREATE DATABASE bench_pg"
	pub -v uri="host=127.0.0.1 port=$sub_port user=postgres dbname=bench_pg" >/dev/null <<SQL
SELECT mosta_add_replica('bench_pg', 'pg', 'master', 'postgres', :'uri');
SET client_min_messages = warning;
SELECT mosta_add_rule('e2e_pg', 'bench', 'bench_pg', 'cdc', ARRAY['bench_rows'], enabled => false);
SQL
	rules="$rules e2e_pg"
fi
if [ "$three" = 1 ]; then
	mkdir "$work/archive3"
	pub -v lite="$lite3" -v dump="$work/three.sql" -v archive="$work/archive3" >/dev/null <<SQL
SELECT mosta_add_replica('bench3', 'lite3', 'slave', 'sqlite', :'lite');
SELECT mosta_add_replica('bench3', 'dump3', 'slave', 'sqldump', :'dump');
SELECT mosta_add_replica('bench3', 'archive3', 'slave', 'jsonl', :'archive');
SET client_min_messages = warning;
SELECT mosta_add_rule('e2e_three', 'bench', 'bench3', 'cdc', ARRAY['bench_rows'], enabled => false);
SQL
	rules="$rules e2e_three"
fi
PGOPTIONS="-c client_min_messages=warning" sub <<SQL
$table_sql
CREATE SUBSCRIPTION bench_sub CONNECTION '$source_uri' PUBLICATION bench_pub
  WITH (synchronous_commit = 'on');
SQL

# wait_until RUNNER CONDITION SECONDS: runs a boolean query (on pub or sub) every 20 ms inside the server until it is true.
wait_until() {
	local runner=$1 condition=$2 seconds=$3
	"$runner" <<SQL
DO \$\$ DECLARE deadline timestamptz := clock_timestamp() + interval '$seconds seconds'; BEGIN
  WHILE NOT coalesce(($condition), false) LOOP
    IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'e2e.sh: timed out waiting for: %', \$c\$$condition\$c\$; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
END \$\$;
SQL
}
native_slot_inactive="SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'bench_sub'"

# The subscription's initial copy (of the empty table), then it stops.
wait_until sub "SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate <> 'r'" 120
sub -c "ALTER SUBSCRIPTION bench_sub DISABLE"
wait_until pub "$native_slot_inactive" 60

# sample_walsenders STOP OUT: until the file STOP exists, finds the walsenders serving the sidecar (every
# 0.5 s) and reads each one's CPU time (utime + stime, clock ticks) from /proc/PID/stat every 50 ms, keeping
# the last value read of those that exited; then writes "TICKS WALSENDERS" to OUT.
sample_walsenders() {
	local stop=$1 out=$2 n=0 pid stat total=0 fields
	local -A ticks=()
	while :; do
		if ((n % 10 == 0)) || [ -e "$stop" ]; then
			for pid in $(pub -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender'
			                      AND datname = 'bench_e2e' AND application_name = 'mosta-sidecar'"); do
				[ -n "${ticks[$pid]:-}" ] || ticks[$pid]=0
			done
		fi
		for pid in "${!ticks[@]}"; do
			read -r stat 2>/dev/null <"/proc/$pid/stat" || continue # exited: its last value stays
			# the fields after "pid (comm) ": state first, then ..., utime 12th, stime 13th
			read -r -a fields <<<"${stat##*) }"
			ticks[$pid]=$((fields[11] + fields[12]))
		done
		[ -e "$stop" ] && break
		n=$((n + 1))
		sleep 0.05
	done
	for pid in "${!ticks[@]}"; do total=$((total + ticks[$pid])); done
	echo "$total ${#ticks[@]}" >"$out"
}

# run_sidecar LABEL: mosta-sidecar --once under /usr/bin/time; prints nanoseconds, peak RSS (kB), CPU seconds,
# and the CPU seconds and number of the walsenders that served it.
run_sidecar() {
	local label=$1 began elapsed sampler status=0
	rm -f "$work/stop.$label"
	sample_walsenders "$work/stop.$label" "$work/walsenders.$label" &
	sampler=$!
	began=$(date +%s%N)
	/usr/bin/time -v -o "$work/time.$label" "$sidecar" --once --poll-interval 100ms --source "$source_uri" \
		2>"$work/log.$label" || status=$?
	elapsed=$(($(date +%s%N) - began))
	touch "$work/stop.$label"
	wait "$sampler"
	if [ "$status" != 0 ]; then
		cat "$work/log.$label" >&2
		die "mosta-sidecar --once ($label) failed"
	fi
	echo "$elapsed $(awk -F': ' '/Maximum resident set size/ { rss = $2 } /(User|System) time/ { cpu += $2 }
		END { print rss, cpu }' "$work/time.$label") $(awk -v hz="$(getconf CLK_TCK)" '{ print $1 / hz, $2 }' \
		"$work/walsenders.$label")"
}

# The sidecar's initial copy (of the empty table) creates its slot (one per target: mosta_rule_targets()).
out=$(run_sidecar copy)
read -r _ idle_rss _ <<<"$out"
sidecar_slot=$(pub -At -c "SELECT slot FROM mosta_rule_targets('e2e')")
[ -n "$sidecar_slot" ] || die "the sidecar's slot is not in mosta_rule_targets('e2e')"

# only_rule RULE: enables RULE and disables the others; the sidecar --once runs enabled rules only.
only_rule() {
	local rule calls=""
	for rule in $rules; do
		[ "$rule" = "$1" ] && continue
		calls="$calls mosta_disable_rule('$rule'),"
	done
	pub -c "SELECT $calls mosta_enable_rule('$1')" >/dev/null
}
if [ "$mongo" = 1 ]; then
	# the Mongo target's own slot and initial copy (of the empty table)
	only_rule e2e_mongo
	run_sidecar mongo_copy >/dev/null
	only_rule e2e
	[ -n "$(pub -At -c "SELECT slot FROM mosta_rule_targets('e2e_mongo')")" ] ||
		die "the Mongo target's slot is not in mosta_rule_targets('e2e_mongo')"
fi
if [ "$pg_target" = 1 ]; then
	# the PostgreSQL target's own slot and initial copy (of the empty table: the sink creates it)
	only_rule e2e_pg
	run_sidecar pg_copy >/dev/null
	only_rule e2e
	[ -n "$(pub -At -c "SELECT slot FROM mosta_rule_targets('e2e_pg')")" ] ||
		die "the PostgreSQL target's slot is not in mosta_rule_targets('e2e_pg')"
fi
if [ "$three" = 1 ]; then
	# the three targets' own slot(s) and initial copies (of the empty table)
	only_rule e2e_three
	run_sidecar three_copy >/dev/null
	only_rule e2e
	[ "$(pub -At -c "SELECT count(*) FROM mosta_rule_targets('e2e_three')")" = 3 ] ||
		die "mosta_rule_targets('e2e_three') does not list three targets"
fi

# run_native: the subscription from ENABLE until its slot confirmed END_LSN; prints nanoseconds.
run_native() {
	local end_lsn=$1 began elapsed
	began=$(date +%s%N)
	sub -c "ALTER SUBSCRIPTION bench_sub ENABLE"
	wait_until pub "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'bench_sub'" 1800
	elapsed=$(($(date +%s%N) - began))
	sub -c "ALTER SUBSCRIPTION bench_sub DISABLE"
	wait_until pub "$native_slot_inactive" 60
	echo "$elapsed"
}

# decode_only END_LSN: streams a copy of the sidecar's slot, with the sidecar's plugin options, to
# /dev/null up to END_LSN with pg_recvlogical; prints nanoseconds. Not part of either consumer's time:
# the floor that decoding and sending alone put under the sidecar's catch-up.
decode_only() {
	local began elapsed
	pub -c "SELECT pg_copy_logical_replication_slot('$sidecar_slot', 'bench_decode_only')" >/dev/null
	began=$(date +%s%N)
	PGPORT=$pub_port pg_recvlogical -d bench_e2e --start -S bench_decode_only -f /dev/null --endpos="$1" --no-loop \
		-o format-version=3 -o include-lsn=on -o include-xids=on -o include-timestamp=on -o batch-bytes=65536 \
		-o partition-root=on -o include-tables=public.bench_rows
	elapsed=$(($(date +%s%N) - began))
	pub -c "SELECT pg_drop_replication_slot('bench_decode_only')" >/dev/null
	echo "$elapsed"
}

# workload ROUND: the standard workload on ids of its own; prints nanoseconds.
workload() {
	local base=$(($1 * inserts)) began
	began=$(date +%s%N)
	pub <<SQL
DO \$\$ BEGIN
  FOR b IN 0..99 LOOP
    INSERT INTO bench_rows
    SELECT g, g % 1000, 'row ' || g || ' of the decoding benchmark', (g * 1.37)::numeric(14,2),
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
           jsonb_build_object('k', g, 'tag', 'bench', 'even', g % 2 = 0), g % 3 = 0
      FROM generate_series($base + b * $per_txn + 1, $base + (b + 1) * $per_txn) g;
    COMMIT;
  END LOOP;
  FOR b IN 0..49 LOOP
    UPDATE bench_rows SET n = n + 1, amount = amount + 0.5, at = at + interval '1 hour', flag = NOT flag
     WHERE id > $base + b * $per_txn AND id <= $base + (b + 1) * $per_txn;
    COMMIT;
  END LOOP;
  FOR b IN 0..19 LOOP
    DELETE FROM bench_rows WHERE id > $base + $inserts - (b + 1) * $per_txn AND id <= $base + $inserts - b * $per_txn;
    COMMIT;
  END LOOP;
END \$\$;
SQL
	echo $(($(date +%s%N) - began))
}

# check LABEL: the SQLite table and the subscriber's table hold the publisher's rows (count, sum(n)).
check() {
	local source lite_rows native_rows
	source=$(pub -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	lite_rows=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("%d %d" % db.execute("SELECT count(*), coalesce(sum(n), 0) FROM \"public.bench_rows\"").fetchone())' "$lite")
	native_rows=$(sub -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	[ "$lite_rows" = "$source" ] || die "$1: SQLite holds '$lite_rows' (rows, sum(n)), the source '$source'"
	[ "$native_rows" = "$source" ] || die "$1: the subscriber holds '$native_rows' (rows, sum(n)), the source '$source'"
}

# process_ticks PID: the CPU time (utime + stime, clock ticks) PID has used so far.
process_ticks() {
	local stat fields
	read -r stat <"/proc/$1/stat"
	read -r -a fields <<<"${stat##*) }"
	echo $((fields[11] + fields[12]))
}

# check_three LABEL: the SQLite file of the rule e2e_three holds the publisher's rows (count, sum(n)).
check_three() {
	local source rows
	source=$(pub -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	rows=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("%d %d" % db.execute("SELECT count(*), coalesce(sum(n), 0) FROM \"public.bench_rows\"").fetchone())' "$lite3")
	[ "$rows" = "$source" ] || die "$1: the SQLite target of e2e_three holds '$rows' (rows, sum(n)), the source '$source'"
}

# check_pg LABEL: the PostgreSQL target (database bench_pg on the subscriber) holds the publisher's rows.
check_pg() {
	local source rows
	source=$(pub -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	rows=$(sub -d bench_pg -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	[ "$rows" = "$source" ] || die "$1: the PostgreSQL target holds '$rows' (rows, sum(n)), the source '$source'"
}

# check_mongo LABEL: the Mongo target holds the publisher's rows (document count, sum(n)), read with pymongo.
check_mongo() {
	local source mongo_rows
	source=$(pub -c "SELECT count(*) || ' ' || coalesce(sum(n), 0) FROM bench_rows")
	mongo_rows=$(/usr/bin/python3 -c 'import pymongo, sys
client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
rows = client.get_default_database()["bench_rows"]
total = list(rows.aggregate([{"$group": {"_id": None, "count": {"$sum": 1}, "n": {"$sum": "$n"}}}]))
print("%d %d" % ((total[0]["count"], total[0]["n"]) if total else (0, 0)))' "$mongo_uri")
	[ "$mongo_rows" = "$source" ] || die "$1: the Mongo target holds '$mongo_rows' (documents, sum(n)), the source '$source'"
}

for ((run = 0; run < runs; run++)); do
	pub -c "CHECKPOINT"
	start_lsn=$(pub -c "SELECT pg_current_wal_lsn()")
	workload "$run" >>"$work/generated"
	end_lsn=$(pub -c "SELECT pg_current_wal_lsn()")
	pub -c "SELECT round(pg_wal_lsn_diff('$end_lsn', '$start_lsn') / 1048576.0)" >>"$work/wal_mb"
	pub -c "CHECKPOINT"
	decode_only "$end_lsn" >>"$work/decode"
	if ((run % 2 == 0)); then order="native sidecar"; else order="sidecar native"; fi
	for consumer in $order; do
		if [ "$consumer" = native ]; then
			# the subscriber starts clean: the previous round's PostgreSQL-target writes are not native's to flush
			sub -d postgres -c "CHECKPOINT"
			run_native "$end_lsn" >>"$work/native"
		else
			out=$(run_sidecar "round$run")
			read -r ns rss cpu ws_cpu ws_count <<<"$out"
			echo "$ns" >>"$work/sidecar"
			echo "$rss" >>"$work/catchup_rss"
			echo "$cpu" >>"$work/sidecar_cpu"
			echo "$ws_cpu $ws_count" >>"$work/ws_one"
		fi
	done
	check "round $((run + 1))"
	three_note=""
	if [ "$three" = 1 ]; then
		only_rule e2e_three
		out=$(run_sidecar "three$run")
		only_rule e2e
		read -r ns rss cpu ws_cpu ws_count <<<"$out"
		echo "$ns" >>"$work/three"
		echo "$rss" >>"$work/three_rss"
		echo "$ws_cpu $ws_count" >>"$work/ws_three"
		check_three "round $((run + 1))"
		three_note=$(printf ', 3 targets %.2f s (walsender CPU %s s, 1 target %s s)' \
			"$(awk -v n="$ns" 'BEGIN { print n / 1e9 }')" "$ws_cpu" "$(tail -1 "$work/ws_one" | cut -d' ' -f1)")
	fi
	pg_note=""
	if [ "$pg_target" = 1 ]; then
		only_rule e2e_pg
		# the subscriber starts clean: native's 1.7M rows just written there are not the target's to flush
		sub -d postgres -c "CHECKPOINT"
		out=$(run_sidecar "pg$run")
		only_rule e2e
		read -r ns rss cpu _ <<<"$out"
		echo "$ns" >>"$work/pg"
		echo "$cpu" >>"$work/pg_cpu"
		echo "$rss" >>"$work/pg_rss"
		check_pg "round $((run + 1))"
		pg_note=$(printf ', PostgreSQL target %.2f s' "$(awk -v n="$ns" 'BEGIN { print n / 1e9 }')")
	fi
	mongo_note=""
	if [ "$mongo" = 1 ]; then
		only_rule e2e_mongo
		mongod_before=$(process_ticks "$mongod_pid")
		out=$(run_sidecar "mongo$run")
		mongod_after=$(process_ticks "$mongod_pid")
		only_rule e2e
		read -r ns rss cpu ws_cpu _ <<<"$out"
		echo "$ns" >>"$work/mongo"
		echo "$ws_cpu" >>"$work/mongo_ws"
		echo "$rss" >>"$work/mongo_rss"
		echo "$cpu" >>"$work/mongo_cpu"
		awk -v t="$((mongod_after - mongod_before))" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }' >>"$work/mongod_cpu"
		check_mongo "round $((run + 1))"
		mongo_note=$(printf ', Mongo (test server) %.2f s' "$(awk -v n="$ns" 'BEGIN { print n / 1e9 }')")
	fi
	printf 'round %d: native %.2f s, sidecar %.2f s (%s first)%s%s%s\n' $((run + 1)) \
		"$(tail -1 "$work/native" | awk '{ print $1 / 1e9 }')" "$(tail -1 "$work/sidecar" | awk '{ print $1 / 1e9 }')" \
		"${order%% *}" "$three_note" "$pg_note" "$mongo_note" >&2
done
mongod_hwm="" mongod_docs=""
if [ "$mongo" = 1 ]; then
	mongod_hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$mongod_pid/status")
	mongod_docs=$(pub -c "SELECT count(*) FROM bench_rows")
fi

# Peak RSS: one transaction of N rows (new ids), then mosta-sidecar --once.
base=$((runs * inserts))
for rows in $rss_sizes; do
	pub <<SQL
INSERT INTO bench_rows
SELECT g, g % 1000, 'row ' || g || ' of the decoding benchmark', (g * 1.37)::numeric(14,2),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
       jsonb_build_object('k', g, 'tag', 'bench', 'even', g % 2 = 0), g % 3 = 0
  FROM generate_series($base + 1, $base + $rows) g;
SQL
	base=$((base + rows))
	out=$(run_sidecar "txn$rows")
	echo "$rows $out" >>"$work/rss"
done
# the subscriber catches up too, so that every row count agrees
end_lsn=$(pub -c "SELECT pg_current_wal_lsn()")
run_native "$end_lsn" >/dev/null
check "big transactions"
out=$(run_sidecar idle)
read -r _ idle_rss_after _ <<<"$out"

# median_plain FILE: the median of plain numbers (seconds)
median_plain() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1e9 }'; }
native_s=$(median "$work/native")
sidecar_s=$(median "$work/sidecar")
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

printf 'workload: %d row changes (%d inserts, %d updates, %d deletes in %d transactions), %s MB of WAL, generated in %.1f s (median)\n' \
	"$changes" "$inserts" "$updates" "$deletes" "$transactions" "$(sort -n "$work/wal_mb" | sed -n 1p)" "$(median "$work/generated")"
printf 'catch-up, median of %d rounds (rows = row changes caught up; both consumers checked equal to the source)\n' "$runs"
printf '%-52s %8s %10s\n' consumer seconds rows/s
printf '%-52s %8.2f %10.0f\n' "native: subscription (pgoutput) -> PostgreSQL" "$native_s" \
	"$(awk -v c="$changes" -v s="$native_s" 'BEGIN { print c / s }')"
printf '%-52s %8.2f %10.0f\n' "mosta-sidecar --once (mostajs) -> SQLite" "$sidecar_s" \
	"$(awk -v c="$changes" -v s="$sidecar_s" 'BEGIN { print c / s }')"
printf '%-52s %8.2f %10.0f\n' "  (decode only: pg_recvlogical, mostajs -> /dev/null)" "$(median "$work/decode")" \
	"$(awk -v c="$changes" -v s="$(median "$work/decode")" 'BEGIN { print c / s }')"
printf '%-52s %8.2f\n' "  (CPU time of mosta-sidecar, user + system)" \
	"$(sort -n "$work/sidecar_cpu" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')"
printf 'ratio sidecar / native: %s (target: at least 2.5)\n' "$(awk -v n="$native_s" -v s="$sidecar_s" 'BEGIN { printf "%.2f", n / s }')"
if [ "$three" = 1 ]; then
	# median of a column of FILE (plain numbers, not nanoseconds)
	median_col() { cut -d' ' -f"$2" "$1" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
	ws_one=$(median_col "$work/ws_one" 1)
	ws_three=$(median_col "$work/ws_three" 1)
	echo "walsender CPU (utime + stime of the publisher's walsenders serving mosta-sidecar, /proc/PID/stat; same WAL):"
	printf '  %-50s %8.2f s  (%s walsender(s))\n' "rule e2e, 1 target (SQLite)" "$ws_one" "$(median_col "$work/ws_one" 2)"
	printf '  %-50s %8.2f s  (%s walsender(s); catch-up %.2f s)\n' "rule e2e_three, 3 targets (SQLite, dump, archive)" \
		"$ws_three" "$(median_col "$work/ws_three" 2)" "$(median "$work/three")"
	printf 'walsender CPU, 3 targets / 1 target: %sx (target <= 1.2)\n' \
		"$(awk -v a="$ws_three" -v b="$ws_one" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')"
fi
if [ "$pg_target" = 1 ]; then
	pg_s=$(median "$work/pg")
	echo "PostgreSQL target (database bench_pg on the subscriber cluster, fsync = on); checked equal to the source:"
	printf '%-52s %8.2f %10.0f\n' "mosta-sidecar --once (mostajs) -> PostgreSQL" "$pg_s" \
		"$(awk -v c="$changes" -v s="$pg_s" 'BEGIN { print c / s }')"
	printf '%-52s %8.2f\n' "  (CPU time of mosta-sidecar, user + system)" "$(median_plain "$work/pg_cpu")"
	printf 'ratio PostgreSQL target / native: %s (target: at least 1); mosta-sidecar peak RSS %s MB\n' \
		"$(awk -v n="$native_s" -v s="$pg_s" 'BEGIN { printf "%.2f", n / s }')" "$(mb "$(sort -n "$work/pg_rss" | tail -1)")"
fi
if [ "$mongo" = 1 ]; then
	mongo_s=$(median "$work/mongo")
	echo "Mongo target (driver path against mosta-test-mongod, not a measure of MongoDB); checked equal to the source:"
	printf '%-52s %8.2f %10.0f\n' "mosta-sidecar --once (mostajs) -> mosta-test-mongod" "$mongo_s" \
		"$(awk -v c="$changes" -v s="$mongo_s" 'BEGIN { print c / s }')"
	printf '%-52s %8.2f\n' "  (CPU time of mosta-sidecar, user + system)" \
		"$(sort -n "$work/mongo_cpu" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')"
	printf '%-52s %8.2f\n' "  (CPU time of mosta-test-mongod, user + system)" \
		"$(sort -n "$work/mongod_cpu" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')"
	printf '%-52s %8.2f\n' "  (CPU time of the walsender serving it)" "$(median_plain "$work/mongo_ws")"
	# the three processes share the machine's cores: their CPU summed over the cores is the shortest catch-up
	# possible here, whatever the pipelining, and native / that is the highest ratio this machine allows
	cpu_floor=$(awk -v a="$(median_plain "$work/mongo_ws")" -v b="$(median_plain "$work/mongo_cpu")" \
		-v c="$(median_plain "$work/mongod_cpu")" -v n="$(nproc)" 'BEGIN { printf "%.2f", (a + b + c) / n }')
	printf '%-52s %8.2f  (native / it: %s)\n' "  (their CPU / $(nproc) cores: the floor on this machine)" "$cpu_floor" \
		"$(awk -v n="$native_s" -v f="$cpu_floor" 'BEGIN { printf "%.2f", n / f }')"
	printf 'ratio Mongo (test server) / native: %s (target: at least 1.5); mosta-sidecar peak RSS %s MB; mosta-test-mongod peak RSS %s MB holding %d documents\n' \
		"$(awk -v n="$native_s" -v s="$mongo_s" 'BEGIN { printf "%.2f", n / s }')" \
		"$(mb "$(sort -n "$work/mongo_rss" | tail -1)")" "$(mb "$mongod_hwm")" "$mongod_docs"
fi
echo "mosta-sidecar peak RSS (/usr/bin/time -v, maximum resident set size):"
printf '  %-44s %8s MB\n' "initial copy of the empty table" "$(mb "$idle_rss")"
printf '  %-44s %8s MB\n' "catch-up rounds (largest)" "$(mb "$(sort -n "$work/catchup_rss" | tail -1)")"
while read -r rows ns rss _; do
	printf '  %-44s %8s MB  (%.1f s)\n' "one transaction of $rows inserts" "$(mb "$rss")" "$(awk -v n="$ns" 'BEGIN { print n / 1e9 }')"
done <"$work/rss"
printf '  %-44s %8s MB\n' "nothing to apply" "$(mb "$idle_rss_after")"
echo "target: under 50 MB, independent of the transaction's size"
