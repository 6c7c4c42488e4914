#!/usr/bin/env bash
# copy.sh: mosta-copy's fan-out backup and its restore against the standard tools doing the same one after the
# other, on the same database, in the same run (docs/copy.md). Run on a throwaway cluster.
#
# Database (BENCH_ROWS=1000000 rows in all): the e2e.sh table (bigint, int, text, numeric, timestamptz, jsonb,
# boolean) with 70% of the rows, and two wide tables (20 columns: integers, floats, numeric, text, varchar,
# timestamps, date, uuid, bytea, boolean, jsonb, int[] and a few NULLs) with 15% each.
#
# Backup: mosta-copy reads the database once and writes a SQLite file, an SQL dump and a JSON export in one run
# (--create-tables). The anchors do the same three jobs with the standard tools, one after the other:
#   pg_dump      pg_dump -Fp -f FILE (plain SQL)
#   sqlite       each table exported with psql's \copy ... TO (CSV) and loaded with sqlite3's ".import --csv"
#                into a table created with the same declared types, in one sqlite3 run
#   json         COPY (SELECT row_to_json(t) FROM t) TO STDOUT per table, into one file
# The ratio is mosta-copy / (pg_dump + sqlite + json) (goal: at most 0.8).
#
# Restore into an empty database: mosta-copy --source sql-dump:FILE --dest postgres --create-tables (the default,
# one transaction) against psql -f of the pg_dump file (goal: at most 1.0); then the same with --jobs 2 (tables and
# index builds in parallel, as pg_restore -j); all end with the same row counts (checked).
#
# Peak RSS (max resident set of the mosta-copy process, /usr/bin/time) for the full database and for one with a
# quarter of the rows: flat in table size means the two are close.
#
# The median of BENCH_RUNS runs (default 3) of each is printed. MOSTA_COPY: the binary (default: the Release build
# of bench/run-all, else build/'s).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

rows=${BENCH_ROWS:-1000000}
runs=${BENCH_RUNS:-3}
binary=${MOSTA_COPY:-build/release/copy/mosta-copy}
[ -x "$binary" ] || binary=build/copy/mosta-copy
[ -x "$binary" ] || { echo "copy.sh: $binary not found: build mosta-copy first" >&2; exit 1; }
db=mosta_bench_copy
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	for d in "$db" "${db}_small" "${db}_r1" "${db}_r2" "${db}_r3"; do dropdb --if-exists "$d" >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export PGTZ=UTC

# make_database NAME ROWS
make_database() {
	createdb "$1"
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" -v main=$(($2 * 70 / 100)) -v wide=$(($2 * 15 / 100)) <<'SQL'
CREATE TABLE bench_items (id bigint PRIMARY KEY, k int, label text, n numeric, at timestamptz, attrs jsonb,
                          flag boolean);
INSERT INTO bench_items SELECT g, g % 1000, 'item number ' || g, g * 1.25,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 s',
       jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 7)), g % 2 = 0
  FROM generate_series(1, :main) g;
CREATE TABLE bench_wide_a (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision,
                           n numeric(12,2), t1 text, t2 text, v varchar(40), ts timestamp, tz timestamptz, d date,
                           u uuid, by bytea, b boolean, j jsonb, ia int[], t3 text, n2 numeric);
INSERT INTO bench_wide_a SELECT g, g % 30000, g, g::bigint * 1000003, g / 3.0, g / 7.0, g / 100.0, md5(g::text),
       'row ' || g, 'v' || g, timestamp '2020-01-01' + g * interval '1 min', timestamptz '2020-01-01 00:00+00' + g * interval '1 s',
       date '2000-01-01' + g % 9000, md5(g::text)::uuid, decode(md5(g::text), 'hex'), g % 3 = 0,
       jsonb_build_object('n', g), ARRAY[g, g + 1, g + 2], CASE WHEN g % 5 = 0 THEN NULL ELSE 'x' || g END, g
  FROM generate_series(1, :wide) g;
CREATE TABLE bench_wide_b (LIKE bench_wide_a INCLUDING ALL);
INSERT INTO bench_wide_b SELECT * FROM bench_wide_a;
ANALYZE;
SQL
}

# seconds CMD...: runs CMD, prints its wall time in seconds
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

tables="bench_items bench_wide_a bench_wide_b"
sqlite_types() { # the declared types mosta-copy's SQLite file has, so both SQLite files are alike
	cat <<'SQL'
CREATE TABLE bench_items (id INTEGER PRIMARY KEY, k INTEGER, label TEXT, n TEXT, at TEXT, attrs TEXT, flag INTEGER);
CREATE TABLE bench_wide_a (id INTEGER PRIMARY KEY, i2 INTEGER, i4 INTEGER, i8 INTEGER, f4 REAL, f8 REAL, n TEXT,
  t1 TEXT, t2 TEXT, v TEXT, ts TEXT, tz TEXT, d TEXT, u TEXT, by BLOB, b INTEGER, j TEXT, ia TEXT, t3 TEXT, n2 TEXT);
CREATE TABLE bench_wide_b (id INTEGER PRIMARY KEY, i2 INTEGER, i4 INTEGER, i8 INTEGER, f4 REAL, f8 REAL, n TEXT,
  t1 TEXT, t2 TEXT, v TEXT, ts TEXT, tz TEXT, d TEXT, u TEXT, by BLOB, b INTEGER, j TEXT, ia TEXT, t3 TEXT, n2 TEXT);
SQL
}

anchor_pg_dump() { pg_dump -Fp -f "$work/anchor.sql" "$db"; }
anchor_sqlite() {
	rm -f "$work/anchor.sqlite"
	local t
	for t in $tables; do psql -X -q -d "$db" -c "\\copy $t TO '$work/$t.csv' WITH (FORMAT csv)"; done
	{
		sqlite_types
		for t in $tables; do echo ".import --csv $work/$t.csv $t"; done
	} | sqlite3 "$work/anchor.sqlite"
	rm -f "$work"/*.csv
}
anchor_json() {
	local t
	: >"$work/anchor.json"
	for t in $tables; do psql -X -q -d "$db" -c "COPY (SELECT row_to_json(t) FROM $t t) TO STDOUT" >>"$work/anchor.json"; done
}
mosta_backup() {
	rm -rf "$work/m" && mkdir -p "$work/m"
	${measure:-} "$binary" --quiet --source-dialect postgres --source-uri "dbname=$1" --create-tables --batch-size 1000 \
		--dest sqlite --dest-file "$work/m/daily.sqlite" --dest sql-dump --dest-file "$work/m/daily.sql" \
		--dest json --dest-file "$work/m/daily.json"
}

echo "copy.sh: building the database ($rows rows)"
make_database "$db" "$rows"
make_database "${db}_small" $((rows / 4))

declare -a t_dump t_sqlite t_json t_mosta t_restore_mosta t_restore_jobs t_restore_psql
for run in $(seq "$runs"); do
	t_dump+=("$(seconds anchor_pg_dump)")
	t_sqlite+=("$(seconds anchor_sqlite)")
	t_json+=("$(seconds anchor_json)")
	t_mosta+=("$(seconds mosta_backup "$db")")
	dropdb --if-exists "${db}_r1"; createdb "${db}_r1"
	t_restore_mosta+=("$(seconds "$binary" --quiet --source "sql-dump:$work/m/daily.sql" --dest postgres \
		--dest-uri "dbname=${db}_r1" --create-tables)")
	dropdb --if-exists "${db}_r3"; createdb "${db}_r3"
	t_restore_jobs+=("$(seconds "$binary" --quiet --jobs 2 --source "sql-dump:$work/m/daily.sql" --dest postgres \
		--dest-uri "dbname=${db}_r3" --create-tables)")
	dropdb "${db}_r3"
	dropdb --if-exists "${db}_r2"; createdb "${db}_r2"
	t_restore_psql+=("$(seconds psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -d "${db}_r2" -f "$work/anchor.sql")")
	for t in $tables; do
		a=$(psql -X -At -d "${db}_r1" -c "SELECT count(*) FROM $t")
		b=$(psql -X -At -d "${db}_r2" -c "SELECT count(*) FROM $t")
		[ "$a" = "$b" ] || { echo "copy.sh: restored $t has $a rows, psql's $b" >&2; exit 1; }
	done
	echo "copy.sh: run $run: mosta-copy ${t_mosta[-1]} s, pg_dump ${t_dump[-1]} s, csv+sqlite3 ${t_sqlite[-1]} s, json ${t_json[-1]} s; restore ${t_restore_mosta[-1]} s (--jobs 2: ${t_restore_jobs[-1]} s) vs psql -f ${t_restore_psql[-1]} s"
done
m() { printf '%s\n' "$@" | median; }
dump=$(m "${t_dump[@]}"); lite=$(m "${t_sqlite[@]}"); json=$(m "${t_json[@]}"); mosta=$(m "${t_mosta[@]}")
rm_=$(m "${t_restore_mosta[@]}"); rj=$(m "${t_restore_jobs[@]}"); rp=$(m "${t_restore_psql[@]}")
anchors=$(echo "$dump + $lite + $json" | bc)
printf 'backup  : mosta-copy (sqlite + sql-dump + json, one read) %.2f s; pg_dump %.2f + csv->sqlite3 %.2f + json %.2f = %.2f s; ratio %.2fx (goal <= 0.8)\n' \
	"$mosta" "$dump" "$lite" "$json" "$anchors" "$(echo "$mosta / $anchors" | bc -l)"
printf 'restore : mosta-copy from its SQL dump %.2f s; psql -f of pg_dump %.2f s; ratio %.2fx (goal <= 1.0)\n' \
	"$rm_" "$rp" "$(echo "$rm_ / $rp" | bc -l)"
printf 'restore : mosta-copy --jobs 2 %.2f s; ratio %.2fx\n' "$rj" "$(echo "$rj / $rp" | bc -l)"
ls -l "$work/m" "$work/anchor.sql" "$work/anchor.sqlite" "$work/anchor.json" | awk 'NF > 5 {print "  " $5, $NF}'

# peak RSS for a quarter of the rows and for all of them
rss() { measure="/usr/bin/time -f %M -o $work/rss" mosta_backup "$1" && cat "$work/rss"; }
small=$(rss "${db}_small"); full=$(rss "$db")
printf 'peak RSS: %d kB at %d rows, %d kB at %d rows (ratio %.2f; flat is ~1)\n' "$small" $((rows / 4)) "$full" "$rows" \
	"$(echo "$full / $small" | bc -l)"
