#!/usr/bin/env bash
# copy_roundtrip.sh: every source x destination pair of mosta-copy on the type zoo (lib/copy_zoo.sql), round trip
# equal by canonical checksum, against the cluster of PGHOST/PGPORT/PGUSER (scripts/pg-cluster run).
#   1. PostgreSQL -> SQLite + SQL dump + JSON file + JSON directory + MongoDB in ONE run: the manifest's checksum of
#      every table equals mosta_checksum() on the source (the extension computes it in the server, mosta-copy from
#      the rows it read), and `mosta-copy verify` reads every file back and agrees, also --against the source.
#   2. Each backup file (sqlite, sql-dump, json, json directory) restored into an empty database with
#      --create-tables: every table's mosta_checksum equals the source's; the restored schema (pg_dump
#      --schema-only: types, domains, sequences and their values, constraints, indexes, partitions, foreign keys)
#      equals the source's.
#   3. Each backup file copied to every file destination and to MongoDB: the new manifest lists the same rows and
#      checksums as the first, and verify agrees.
#   4. PostgreSQL -> PostgreSQL directly, with --jobs 2.
#   5. psql -f of the SQL dump (no mosta-copy involved) gives the same checksums.
# Prints "copy_roundtrip: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/copy.sh
source test/integration/lib/copy.sh
tap_init copy_roundtrip
require_cluster
require_pymongo
require_test_mongod
copy=${MOSTA_COPY_BIN:-build/copy/mosta-copy}
[ -x "$copy" ] || fail_setup "$copy not found: build mosta-copy first"

use_database mosta_copy_rt_$$
extra_dbs=()
cleanup_extra() {
	[ -n "${server:-}" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	for d in "${extra_dbs[@]}"; do dropdb --if-exists "$d" >/dev/null 2>&1; done
}
new_database() { # new_database NAME: an empty database with the extension (for mosta_checksum)
	extra_dbs+=("$1")
	createdb "$1" && psql -X -q -d "$1" -c "CREATE EXTENSION mostajs" >/dev/null
}

psql_db -o /dev/null -f test/integration/lib/copy_zoo.sql || { not_ok "the zoo loads"; finish; }
psql_db -c "CREATE EXTENSION mostajs" >/dev/null || { not_ok "CREATE EXTENSION mostajs"; finish; }
start_mongo_target copy_rt
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
manifest=$work/backup/daily.manifest.json

# 1. one read, five destinations
mkdir -p "$work/backup"
if "$copy" --source-dialect postgres --source-uri "$uri" --create-tables --batch-size 7 \
	--dest db --dest-dialect sqlite --dest-uri "$work/backup/daily.sqlite" \
	--dest sql-dump --dest-file "$work/backup/daily.sql" \
	--dest json --dest-file "$work/backup/daily.json" \
	--dest json --dest-file "$work/backup/tables/" \
	--dest mongodb --dest-uri "$mongo_uri" >"$work/out" 2>&1; then
	ok "one run writes sqlite, sql-dump, json, a json directory and mongodb"
else
	not_ok "one run writes sqlite, sql-dump, json, a json directory and mongodb"; sed 's/^/  /' "$work/out"; finish
fi
[ -f "$manifest" ] && ok "the manifest is written next to the first file" || { not_ok "manifest at $manifest"; ls -R "$work/backup"; finish; }
expected=$(zoo_checksums "$db")
actual=$(manifest_checksums "$manifest")
[ "$expected" = "$actual" ] && ok "the manifest's checksums equal mosta_checksum on the source ($(wc -l <<<"$actual") tables)" ||
	{ not_ok "the manifest's checksums equal mosta_checksum on the source"; diff <(echo "$expected") <(echo "$actual") | sed 's/^/  /'; }
grep -q '^zoo.measures 300 ' <<<"$actual" && ok "the partitioned table is copied once, under its root, with its 300 rows" ||
	not_ok "partitioned table under its root"
! grep -q 'measures_eu' <<<"$actual" && ok "partitions are not copied on their own" || not_ok "partitions copied on their own"
grep -q '^zoo.empty 0 0000' <<<"$actual" && ok "the empty table is in the manifest with 0 rows" || not_ok "empty table"
! grep -rqs 'mosta.replicas\|"schema":"mosta"' "$work/backup/daily.json" && ok "the extension's own tables are not copied" ||
	not_ok "the extension's tables are copied"
/usr/bin/python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$work/backup/daily.json" && ok "the JSON export is one valid JSON document" || not_ok "the JSON export is valid JSON"
if "$copy" verify "$manifest" >"$work/verify" 2>&1; then ok "verify reads every file back and agrees"; else
	not_ok "verify agrees"; sed 's/^/  /' "$work/verify"; fi
if "$copy" verify "$manifest" --against "$uri" >"$work/verify" 2>&1; then ok "verify --against the source agrees"; else
	not_ok "verify --against the source agrees"; sed 's/^/  /' "$work/verify"; fi
source_schema=$(zoo_schema "$db")

# 2. restores
n=0
for source in "sqlite:$work/backup/daily.sqlite" "sql-dump:$work/backup/daily.sql" "json:$work/backup/daily.json" \
	"json:$work/backup/tables/"; do
	n=$((n + 1))
	target=${db}_r$n
	label=${source%%:*}
	[ "${source: -1}" = / ] && label="$label directory"
	new_database "$target"
	if ! "$copy" --source "$source" --dest postgres --dest-uri "host=$PGHOST port=$PGPORT dbname=$target user=$PGUSER" \
		--create-tables >"$work/out" 2>&1; then
		not_ok "restore from $label ($source)"; sed 's/^/  /' "$work/out"; continue
	fi
	got=$(zoo_checksums "$target")
	[ "$got" = "$expected" ] && ok "restore from $label: every table's checksum equals the source's" ||
		{ not_ok "restore from $label: checksums"; diff <(echo "$expected") <(echo "$got") | sed 's/^/  /'; }
	restored_schema=$(zoo_schema "$target")
	[ "$restored_schema" = "$source_schema" ] && ok "restore from $label: the schema equals the source's (pg_dump --schema-only)" ||
		{ not_ok "restore from $label: schema"; diff <(echo "$source_schema") <(echo "$restored_schema") | head -30 | sed 's/^/  /'; }
done

# 3. every file source to every destination kind
for source in "sqlite:$work/backup/daily.sqlite" "sql-dump:$work/backup/daily.sql" "json:$work/backup/daily.json"; do
	kind=${source%%:*}
	out=$work/from-$kind
	mkdir -p "$out"
	if "$copy" --source "$source" --create-tables --manifest "$out/m.json" \
		--dest sqlite --dest-file "$out/c.sqlite" --dest sql-dump --dest-file "$out/c.sql" \
		--dest json --dest-file "$out/c.json" --dest mongodb --dest-uri "${mongo_uri}_$kind" >"$work/out" 2>&1; then
		ok "$kind -> sqlite, sql-dump, json, mongodb"
	else
		not_ok "$kind -> sqlite, sql-dump, json, mongodb"; sed 's/^/  /' "$work/out"; continue
	fi
	[ "$(manifest_checksums "$out/m.json")" = "$actual" ] && ok "$kind -> every destination: the same rows and checksums as the first backup" ||
		not_ok "$kind -> every destination: rows and checksums"
	"$copy" verify "$out/m.json" >"$work/verify" 2>&1 && ok "$kind -> every destination: verify agrees" ||
		{ not_ok "$kind -> every destination: verify"; sed 's/^/  /' "$work/verify"; }
done

# 4. PostgreSQL -> PostgreSQL, two jobs
new_database "${db}_direct"
if "$copy" --source-dialect postgres --source-uri "$uri" --jobs 2 --create-tables --dest postgres \
	--dest-uri "host=$PGHOST port=$PGPORT dbname=${db}_direct user=$PGUSER" >"$work/out" 2>&1; then
	got=$(zoo_checksums "${db}_direct")
	[ "$got" = "$expected" ] && ok "postgres -> postgres --jobs 2: checksums equal" ||
		{ not_ok "postgres -> postgres: checksums"; diff <(echo "$expected") <(echo "$got") | sed 's/^/  /'; }
else
	not_ok "postgres -> postgres --jobs 2"; sed 's/^/  /' "$work/out"
fi

# 5. the SQL dump is plain SQL psql restores alone
new_database "${db}_psql"
if psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -d "${db}_psql" -f "$work/backup/daily.sql" >"$work/out" 2>&1; then
	got=$(zoo_checksums "${db}_psql")
	[ "$got" = "$expected" ] && ok "psql -f of the SQL dump: checksums equal" ||
		{ not_ok "psql -f of the SQL dump: checksums"; diff <(echo "$expected") <(echo "$got") | sed 's/^/  /'; }
else
	not_ok "psql -f of the SQL dump"; sed 's/^/  /' "$work/out"
fi
finish
