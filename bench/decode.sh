#!/usr/bin/env bash
# decode.sh: how fast the mostajs output plugin decodes one standard workload,
# against wal2json (format-version 1 and 2) and test_decoding decoding the
# very same WAL, through SQL (pg_logical_slot_peek_changes) and through the
# streaming protocol (pg_recvlogical to /dev/null). Prints seconds, changes/s
# and the ratio to wal2json format-version 2; run on a throwaway cluster.
#
# Workload (BENCH_SCALE=1): a table of bigint, int, text, numeric,
# timestamptz, jsonb and boolean; 1,000,000 inserts in 100 transactions,
# then 500,000 updates in 50 and 200,000 deletes in 20 (10,000 rows per
# transaction): 1,700,000 row changes. BENCH_SCALE scales the rows per
# transaction, not the number of transactions.
#
# Method: one slot per plugin is created before the workload, so every slot
# sees the same WAL. The SQL path peeks those slots (a peek does not consume,
# so runs can repeat); each streaming run decodes a fresh copy of its plugin's
# slot (pg_copy_logical_replication_slot) up to the workload's end LSN
# (--endpos), then drops it. Each measurement is repeated BENCH_RUNS times,
# the variants taking turns in a rotating order; the median is reported.
# "changes" are the row changes of the workload, whatever the number of
# messages a plugin packs them into.
#
# Settings: BENCH_SCALE (default 0.5; 1 is the full workload, a few minutes
# on 2 cores), BENCH_RUNS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

scale=${BENCH_SCALE:-0.5}
runs=${BENCH_RUNS:-3}
per_txn=$(awk -v s="$scale" 'BEGIN { n = int(10000 * s + 0.5); print (n < 1 ? 1 : n) }')
inserts=$((100 * per_txn))
updates=$((50 * per_txn))
deletes=$((20 * per_txn))
changes=$((inserts + updates + deletes))
transactions=170
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

has_wal2json=1
[ -e "$(pg_config --pkglibdir)/wal2json.so" ] || has_wal2json=0

# The variants: label, plugin, plugin options (key=value, space-separated).
labels=() plugins=() options=()
variant() { labels+=("$1"); plugins+=("$2"); options+=("$3"); }
variant "mostajs" mostajs ""
variant "mostajs batch-bytes=65536" mostajs "batch-bytes=65536"
variant "mostajs batch-bytes=1048576" mostajs "batch-bytes=1048576"
if [ "$has_wal2json" = 1 ]; then
	variant "wal2json v2" wal2json "format-version=2"
	variant "wal2json v2 include-types=0" wal2json "format-version=2 include-types=false"
	variant "wal2json v1" wal2json "format-version=1"
fi
variant "test_decoding" test_decoding ""
count=${#labels[@]}

psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench_decode"
export PGDATABASE=bench_decode
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q <<'SQL'
CREATE EXTENSION mostajs;
CREATE TABLE bench_rows (id bigint PRIMARY KEY, n int, label text, amount numeric(14,2),
                         at timestamptz, doc jsonb, flag boolean);
SQL
for plugin in $(printf '%s\n' "${plugins[@]}" | sort -u); do
	q -c "SELECT pg_create_logical_replication_slot('bench_$plugin', '$plugin')" >/dev/null
done
start_lsn=$(q -c "SELECT pg_current_wal_lsn()")

began=$(date +%s%N)
q <<SQL
DO \$\$ BEGIN
  FOR b IN 0..99 LOOP
    INSERT INTO bench_rows
    SELECT g, g % 1000, 'row ' || g || ' of the decoding benchmark', (g * 1.37)::numeric(14,2),
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
           jsonb_build_object('k', g, 'tag', 'bench', 'even', g % 2 = 0), g % 3 = 0
      FROM generate_series(b * $per_txn + 1, (b + 1) * $per_txn) g;
    COMMIT;
  END LOOP;
  FOR b IN 0..49 LOOP
    UPDATE bench_rows SET n = n + 1, amount = amount + 0.5, at = at + interval '1 hour', flag = NOT flag
     WHERE id > b * $per_txn AND id <= (b + 1) * $per_txn;
    COMMIT;
  END LOOP;
  FOR b IN 0..19 LOOP
    DELETE FROM bench_rows WHERE id > $inserts - (b + 1) * $per_txn AND id <= $inserts - b * $per_txn;
    COMMIT;
  END LOOP;
END \$\$;
SQL
generated=$(($(date +%s%N) - began))
end_lsn=$(q -c "SELECT pg_current_wal_lsn()")
wal_mb=$(q -c "SELECT round(pg_wal_lsn_diff('$end_lsn', '$start_lsn') / 1048576.0)")

# sql_args turns "k=v k2=v2" into ", 'k', 'v', 'k2', 'v2'".
sql_args() {
	local args="" kv
	for kv in $1; do args+=", '${kv%%=*}', '${kv#*=}'"; done
	echo "$args"
}

# decode_sql i: peeks variant i's slot up to the end LSN; prints nanoseconds and messages.
decode_sql() {
	local began rows
	began=$(date +%s%N)
	rows=$(q -c "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_${plugins[$1]}', '$end_lsn', NULL$(sql_args "${options[$1]}"))")
	echo "$(($(date +%s%N) - began)) $rows"
}

# decode_stream i: streams a fresh copy of variant i's slot to /dev/null up to the end LSN; prints nanoseconds.
decode_stream() {
	local began elapsed kv args=()
	for kv in ${options[$1]}; do args+=(-o "$kv"); done
	q -c "SELECT pg_copy_logical_replication_slot('bench_${plugins[$1]}', 'bench_stream')" >/dev/null
	began=$(date +%s%N)
	pg_recvlogical -d bench_decode --start -S bench_stream -f /dev/null --endpos="$end_lsn" --no-loop "${args[@]}"
	elapsed=$(($(date +%s%N) - began))
	q -c "SELECT pg_drop_replication_slot('bench_stream')" >/dev/null
	echo "$elapsed"
}

# One untimed decode first, so no plugin pays for a cold cache; its spill counts are one decode's.
decode_sql "$((count - 1))" >/dev/null
read -r spill_txns spill_mb < <(q -F ' ' -c "SELECT spill_txns, round(spill_bytes / 1048576.0)
  FROM pg_stat_replication_slots WHERE slot_name = 'bench_test_decoding'")
work_mem=$(q -c "SHOW logical_decoding_work_mem")

for ((run = 0; run < runs; run++)); do
	for ((k = 0; k < count; k++)); do
		i=$(((k + run) % count))
		read -r ns rows < <(decode_sql "$i")
		echo "$ns" >>"$work/sql.$i"
		echo "$rows" >"$work/rows.$i"
	done
	for ((k = 0; k < count; k++)); do
		i=$(((k + run) % count))
		decode_stream "$i" >>"$work/stream.$i"
	done
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1e9 }'; }
anchor=-1
for ((i = 0; i < count; i++)); do
	[ "${labels[$i]}" = "wal2json v2" ] && anchor=$i
done

printf 'workload: %d row changes (%d inserts, %d updates, %d deletes in %d transactions), %s MB of WAL, generated in %.1f s\n' \
	"$changes" "$inserts" "$updates" "$deletes" "$transactions" "$wal_mb" "$(awk -v n="$generated" 'BEGIN { print n / 1e9 }')"
printf 'median of %d runs; sql = SELECT count(*) FROM pg_logical_slot_peek_changes, stream = pg_recvlogical to /dev/null\n' "$runs"
printf '%-30s %-6s %9s %8s %12s %8s\n' "plugin / variant" path messages seconds changes/s "vs w2j v2"
for path in sql stream; do
	for ((i = 0; i < count; i++)); do
		seconds=$(median "$work/$path.$i")
		ratio=n/a
		[ "$anchor" -ge 0 ] && ratio=$(awk -v a="$(median "$work/$path.$anchor")" -v s="$seconds" 'BEGIN { printf "%.2f", a / s }')
		messages=-
		[ "$path" = sql ] && messages=$(cat "$work/rows.$i")
		printf '%-30s %-6s %9s %8.2f %12.0f %8s\n' "${labels[$i]}" "$path" "$messages" "$seconds" \
			"$(awk -v c="$changes" -v s="$seconds" 'BEGIN { print c / s }')" "$ratio"
	done
done
[ "$has_wal2json" = 1 ] || echo "wal2json is not installed (scripts/install-deps installs it): no ratios"
echo "targets: mostajs / wal2json v2 >= 1.5 through sql, >= 2 streaming with batch-bytes"
echo "reorder buffer: logical_decoding_work_mem = $work_mem; one decode spilled $spill_txns transactions," \
	"$spill_mb MB to disk; every plugin decodes the same transactions and pays the same spill"
