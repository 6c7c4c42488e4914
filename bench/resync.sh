#!/usr/bin/env bash
# resync.sh: what the re-sync by key-range checksums (docs/verification.md, "Re-sync after a lost slot") moves,
# against the full copy it replaces, when a rule's slot is lost (as after a failover: the new primary has no
# logical slot) while its targets hold data and < 1% of the rows changed meanwhile. Run on a throwaway cluster.
#
# Workload (BENCH_ROWS=200000): a table of int key, bigint, text, timestamptz (ms) and jsonb with BENCH_ROWS rows,
# and a table of uuid key with BENCH_ROWS / 10; a cdc rule into a SQLite file and (when mosta-test-mongod is
# built) MongoDB. Method:
#   1. "mosta-sidecar --once": the initial copy into every target (timed: the full copy);
#   2. the slot is dropped and BENCH_CHANGED_PERMILLE per mille of the rows change (0.6 of it updates, 0.2
#      inserts, 0.2 deletes), which no slot sees;
#   3. "mosta-sidecar --once" again: the slot is created anew and each target re-synced (timed), its activity row
#      (action resync) giving the ranges compared and differing and the rows deleted and re-copied.
# Prints, per target: rows a full copy moves, rows the re-sync moved (deleted + re-copied), the ratio (goal >= 10x),
# and the times of both runs; then checks with "mosta-sidecar verify" that the targets equal the source.
#
# Settings: BENCH_ROWS (default 200000), BENCH_CHANGED_PERMILLE (default 5, i.e. 0.5%); MOSTA_SIDECAR and
# MOSTA_TEST_MONGOD (default: the Release builds of bench/run-all, else build/'s).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

rows=${BENCH_ROWS:-200000}
permille=${BENCH_CHANGED_PERMILLE:-5}
# the Release build bench/run-all makes when there is one (build/ is built without optimization)
binary=${MOSTA_SIDECAR:-build/release/sidecar/mosta-sidecar}
[ -x "$binary" ] || binary=build/sidecar/mosta-sidecar
mongod=${MOSTA_TEST_MONGOD:-build/release/test/support/mosta-test-mongod}
[ -x "$mongod" ] || mongod=build/test/support/mosta-test-mongod
[ -x "$binary" ] || { echo "resync.sh: $binary not found: build mosta-sidecar first" >&2; exit 1; }
db=mosta_bench_resync
work=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
	                            WHERE database = '$db' AND NOT active" >/dev/null 2>&1 || true
	dropdb --if-exists "$db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export MOSTA_DATA_DIR=$work PGTZ=UTC
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
scalar() { psql -X -At -d "$db" -c "$1"; }

createdb "$db"
sql -v rows="$rows" <<'SQL'
CREATE TABLE item (id int PRIMARY KEY, qty bigint, label text, at timestamptz, attrs jsonb);
CREATE TABLE tag (u uuid PRIMARY KEY, item int, name text);
INSERT INTO item SELECT g, g * 7, 'item ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 s',
       jsonb_build_object('g', g, 'even', g % 2 = 0)
  FROM generate_series(1, :rows) g;
INSERT INTO tag SELECT md5(g::text)::uuid, g, 'tag ' || g FROM generate_series(1, :rows / 10) g;
CREATE EXTENSION mostajs;
SQL
targets="lite"
mongo_uri=
if [ -x "$mongod" ]; then
	"$mongod" --port 0 >"$work/mongod.out" 2>"$work/mongod.err" &
	server=$!
	for _ in $(seq 1 200); do
		grep -qs 'listening on .*:[0-9]' "$work/mongod.out" && break
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by its count
	done
	port=$(sed -n 's/.*listening on 127\.0\.0\.1://p' "$work/mongod.out" | head -1)
	[ -n "$port" ] && mongo_uri="mongodb://127.0.0.1:$port/bench" && targets="lite mongo"
fi
sql -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" -v lite="$work/bench.db" <<'SQL'
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['public.item', 'public.tag']);
SQL
[ -n "$mongo_uri" ] && scalar "SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', '$mongo_uri')" >/dev/null

# once LABEL: one "mosta-sidecar --once" run; prints its wall time in ms
once() {
	local start end
	start=$(date +%s%N)
	PGDATABASE=$db "$binary" --once 2>"$work/log.$1" || { cat "$work/log.$1" >&2; exit 1; }
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}

copy_ms=$(once copy)
source_rows=$(scalar "SELECT (SELECT count(*) FROM item) + (SELECT count(*) FROM tag)")
scalar "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$db'" >/dev/null
changed=$((rows * permille / 1000))
sql -v n="$changed" -v rows="$rows" <<'SQL'
UPDATE item SET qty = qty + 1, label = 'changed' WHERE id IN (SELECT (g * 7919) % :rows + 1 FROM generate_series(1, :n * 6 / 10) g);
INSERT INTO item SELECT :rows + g, g, 'new', NULL, NULL FROM generate_series(1, :n * 2 / 10) g;
DELETE FROM item WHERE id IN (SELECT (g * 104729) % :rows + 1 FROM generate_series(1, :n * 2 / 10) g) AND label <> 'changed';
SQL
resync_ms=$(once resync)

printf '%-8s %12s %12s %10s %9s %14s %12s\n' target full_copy resync_moved ratio ranges differing resync_ms
for target in $targets; do
	IFS='|' read -r deleted recopied compared differing ms < <(scalar "SELECT concat_ws('|', d->>'rows_deleted',
	    d->>'rows_recopied', d->>'ranges_compared', d->>'ranges_differing', d->>'ms')
	  FROM (SELECT detail AS d FROM mosta.activity WHERE action = 'resync' AND detail->>'replica' = '$target'
	         ORDER BY id DESC LIMIT 1) x")
	moved=$((deleted + recopied))
	ratio=$(awk -v a="$source_rows" -v b="$moved" 'BEGIN { printf "%.1fx", (b > 0 ? a / b : 0) }')
	printf '%-8s %12s %12s %10s %9s %14s %12s\n' "$target" "$source_rows" "$moved" "$ratio" "$compared" "$differing" "$ms"
done
echo "wall time: initial copy run ${copy_ms} ms, re-sync run ${resync_ms} ms ($changed of $rows item rows changed; $binary)"
if PGDATABASE=$db "$binary" verify r1 >"$work/verify.out" 2>&1; then
	echo "verify: every target equals the source"
else
	cat "$work/verify.out"
	exit 1
fi
