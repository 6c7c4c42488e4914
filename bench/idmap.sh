#!/usr/bin/env bash
# idmap.sh: bulk mapping throughput and id_map index size under each id
# policy (random v4, time-ordered v7, deterministic v5, objectid), against a
# plain INSERT of gen_random_uuid() rows into a table of the same shape and
# indexes. Prints ids/s, the size of the primary key (collection, legacy_id)
# and of the unique new_id index, and v7 / v4 ratios; run on a throwaway cluster.
#
# Workload: BENCH_IDS legacy ids (default 1,000,000), ObjectId-shaped and
# ascending as a backfill reads them (24 hex digits: a timestamp advancing one
# second per 100 ids, then a counter), mapped with mosta_map_ids in batches of
# BENCH_BATCH (default 10,000), one transaction per batch. id_map is emptied
# (TRUNCATE) before each policy, so each index holds that policy's ids only.
# The anchor inserts the same rows in the same batches: INSERT ... SELECT
# from unnest(ids), new_id DEFAULT gen_random_uuid(), no id_map logic.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

ids=${BENCH_IDS:-1000000}
batch=${BENCH_BATCH:-10000}
batches=$(((ids + batch - 1) / batch))

psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench_idmap"
export PGDATABASE=bench_idmap
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q <<'SQL'
CREATE EXTENSION mostajs;
CREATE TABLE anchor (collection text NOT NULL, legacy_id text NOT NULL, new_id uuid NOT NULL DEFAULT gen_random_uuid(),
                     created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (collection, legacy_id), UNIQUE (new_id));
-- legacy_ids returns batch b of the workload.
CREATE FUNCTION legacy_ids(b int, size int) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(lpad(to_hex(1600000000 + g / 100), 8, '0') || lpad(to_hex(g), 16, '0') ORDER BY g)
	  FROM generate_series(b * size, (b + 1) * size - 1) g
$$;
SQL

# run LABEL SQL_OF_ONE_BATCH(:b) TABLE: runs every batch, one transaction each; prints "label ns pkey_bytes newid_bytes".
run() {
	local label=$1 body=$2 table=$3 began elapsed
	q -c "TRUNCATE mosta.id_map, anchor" -c "CHECKPOINT"
	began=$(date +%s%N)
	q <<SQL
DO \$\$ BEGIN
  FOR b IN 0..$((batches - 1)) LOOP
    $body
    COMMIT;
  END LOOP;
END \$\$;
SQL
	elapsed=$(($(date +%s%N) - began))
	echo "$label $elapsed $(q -c "SELECT pg_relation_size('${table}_pkey') || ' ' || pg_relation_size('${table}_new_id_key')")"
}

results=()
for policy in random time-ordered deterministic objectid; do
	q -c "SELECT mosta_set_id_policy('c_$policy', '$policy')" >/dev/null
	results+=("$(run "$policy" "PERFORM mosta_map_ids('c_$policy', legacy_ids(b, $batch));" mosta.id_map)")
done
results+=("$(run "anchor" "INSERT INTO anchor (collection, legacy_id) SELECT 'c', u FROM unnest(legacy_ids(b, $batch)) u;" anchor)")

echo "idmap.sh: $ids ids, mosta_map_ids batches of $batch"
printf '%-15s %10s %12s %14s %16s\n' policy seconds ids/s "pkey MB" "new_id index MB"
for line in "${results[@]}"; do
	read -r label ns pkey newid <<<"$line"
	awk -v l="$label" -v ns="$ns" -v n="$ids" -v p="$pkey" -v u="$newid" \
		'BEGIN { printf "%-15s %10.2f %12.0f %14.1f %16.1f\n", l, ns / 1e9, n / (ns / 1e9), p / 1048576, u / 1048576 }'
done
read -r _ v4ns _ v4idx <<<"${results[0]}"
read -r _ v7ns _ v7idx <<<"${results[1]}"
read -r _ anns _ _ <<<"${results[4]}"
awk -v a="$v4ns" -v b="$v7ns" -v ia="$v4idx" -v ib="$v7idx" -v an="$anns" 'BEGIN {
	printf "v7 / v4: throughput %.2fx, new_id index size %.2fx\n", a / b, ib / ia
	printf "random (mosta_map_ids) / anchor (plain INSERT): throughput %.2fx\n", an / a
}'
