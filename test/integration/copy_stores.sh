#!/usr/bin/env bash
# copy_stores.sh: mosta-copy's SQLite and MongoDB destinations end to end, on the type zoo
# (test/integration/lib/copy_zoo.sql), in one run that reads PostgreSQL once (--jobs 2):
#   - SQLite: the file is the sidecar SQLite sink's layout (table names, declared types, primary keys, storage
#     classes: sqlite3 checks), plus mosta_copy_schema; no temporary is left; verify of the manifest agrees; a
#     restore from the file (--source sqlite:FILE --dest postgres --create-tables) ends with every table's
#     mosta_checksum equal to the source's; a SQLite file that is not a mosta-copy backup is refused, named;
#   - MongoDB (mosta-test-mongod, or MOSTA_TEST_MONGO_URI): one collection per table, named as the sidecar's sink
#     names them, documents shaped as it writes them (pymongo checks: Decimal128, dates, binary uuid, _id from the
#     key, an ObjectId for the keyless table), no temporary collection left, the older copy replaced only at the
#     end of a run, a run that fails leaves the previous collections as they were; the run reports the rows the
#     mapping does not hold exactly (zoo.values: its json column keeps its text as typed, its jsonb[] holds a
#     JSON-null element); verify checks each collection against what was written (exit 0) and catches a document
#     changed since.
# Also runs the SQLite and MongoDB gtests.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (scripts/pg-cluster run -- bash test/integration/copy_stores.sh),
# after the CMake build (MOSTA_COPY_BIN, MOSTA_COPY_TESTS override the binaries' paths). Prints "ok"/"not ok" per
# check, then "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/copy.sh
source test/integration/lib/copy.sh
tap_init copy_stores
require_cluster
require_pymongo

COPY=${MOSTA_COPY_BIN:-build/copy/mosta-copy}
COPY_TESTS=${MOSTA_COPY_TESTS:-build/test/cpp/copy/copy_tests}
[ -x "$COPY" ] || fail_setup "$COPY not found: cmake --build build -j2 --target mosta-copy"
[ -x "$COPY_TESTS" ] || fail_setup "$COPY_TESTS not found: cmake --build build -j2 --target copy_tests"
command -v sqlite3 >/dev/null || fail_setup "sqlite3 not found (apt-get install sqlite3)"

SOURCE=copy_stores_src
RESTORED=copy_stores_restored
server=
work=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-copy-stores.XXXXXX")
drop_databases() { dropdb --if-exists --force "$SOURCE" >/dev/null 2>&1; dropdb --if-exists --force "$RESTORED" >/dev/null 2>&1; }
cleanup() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	drop_databases
	rm -rf "$work"
}
drop_databases
trap cleanup EXIT
trap 'exit 1' INT TERM

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
check() { # check DESCRIPTION COMMAND...: one result, ok when COMMAND succeeds
	local description=$1
	shift
	if "$@"; then ok "$description"; else not_ok "$description"; fi
}

# The gtests.
if "$COPY_TESTS" --gtest_filter='SqliteBackup*:MongoBackup*' >"$work/gtest.log" 2>&1; then
	ok "SQLite and MongoDB gtests ($(grep -o 'PASSED .*' "$work/gtest.log"))"
else
	not_ok "SQLite and MongoDB gtests"
	tail -30 "$work/gtest.log" >&2
fi

require_test_mongod
start_mongo_target copy_stores
createdb "$SOURCE" || fail_setup "createdb $SOURCE"
sql -d "$SOURCE" -c "CREATE EXTENSION mostajs" -f test/integration/lib/copy_zoo.sql >/dev/null ||
	fail_setup "loading the zoo"
zoo_checksums "$SOURCE" >"$work/checksums.src"

backup=$work/backups/daily.sqlite
mkdir -p "$work/backups"
run_copy() { # run_copy LOG ARG...: the backup of the zoo to SQLite and MongoDB
	local log=$1
	shift
	"$COPY" --source db --source-dialect postgres --source-uri "dbname=$SOURCE" \
		--dest db --dest-dialect sqlite --dest-uri "$backup" --dest mongodb --dest-uri "$mongo_uri" \
		--create-tables --batch-size 2 --no-progress "$@" 2>"$work/$log"
}
if run_copy log.copy --jobs 2; then
	ok "mosta-copy to SQLite and MongoDB (--jobs 2) exits 0"
else
	not_ok "mosta-copy to SQLite and MongoDB (--jobs 2) exits 0"
	cat "$work/log.copy" >&2
fi
check "the run reports the zoo.values rows MongoDB does not hold exactly (json, jsonb[] JSON null)" \
	grep -q 'MongoDB copy of zoo.values: 1 of 4 rows are not held exactly (columns j, jba)' "$work/log.copy"
check "no temporary file is left" test -z "$(find "$work/backups" -name '*mosta-tmp*')"
check "the manifest is next to the backup" test -s "$work/backups/daily.manifest.json"

# The SQLite file: the sink's layout.
q() { sqlite3 -batch -noheader "$backup" "$1" 2>&1; }
check "one SQLite table per PostgreSQL table, named schema.table, and mosta_copy_schema" test \
	"$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")" = \
	'app.tickets mosta_copy_schema zoo.Mixed Case zoo.customers zoo.empty zoo.events zoo.measures zoo.values'
check "declared types and primary key as the sink makes them (a domain or an enum has none)" test \
	"$(q "SELECT group_concat(name || ':' || type || ':' || pk, ',') FROM pragma_table_info('zoo.values')")" = \
	"id:INTEGER:1,customer_id:INTEGER:0,n:TEXT:0,n2:TEXT:0,f4:REAL:0,f8:REAL:0,i2:INTEGER:0,i8:INTEGER:0,b:INTEGER:0,t:TEXT:0,c:TEXT:0,vc:TEXT:0,ts:TEXT:0,tstz:TEXT:0,d:TEXT:0,iv:TEXT:0,tm:TEXT:0,by:BLOB:0,u:TEXT:0,j:TEXT:0,jb:TEXT:0,ia:TEXT:0,ta:TEXT:0,ma:TEXT:0,jba:TEXT:0,moods:TEXT:0,q::0,ip:TEXT:0"
check "a composite primary key (the partitioned zoo.measures: 300 rows under its root)" test \
	"$(q "SELECT group_concat(name || pk, ',') FROM pragma_table_info('zoo.measures'); SELECT count(*) FROM \"zoo.measures\"" | paste -sd' ')" = \
	"id1,region2,v0 300"
storage=$(q "SELECT b, typeof(by), hex(by), typeof(f8), typeof(q), jb FROM \"zoo.values\" WHERE id = 1;
	SELECT typeof(f4), f4 FROM \"zoo.values\" WHERE id = 2; SELECT typeof(f4), hex(f4) FROM \"zoo.values\" WHERE id = 3" |
	paste -sd' ')
check "storage classes: boolean 0/1, bytea BLOB, float REAL, NaN TEXT, domain INTEGER, JSON text, -0 a BLOB ($storage)" \
	test "$storage" = '1|blob|00FF10|real|integer|{"a": null, "b": [1, "x"]} text|NaN blob|2D30'

# verify: the SQLite file and the MongoDB collections against the manifest (a MongoDB copy against what was
# written: MongoStoredTables, docs/copy-stores.md).
"$COPY" verify "$work/backups/daily.manifest.json" >"$work/verify.out" 2>&1
status=$?
sqlite_lines=$(grep -c '^ok .*sqlite' "$work/verify.out")
if [ "$status" = 0 ] && [ "$sqlite_lines" -ge 8 ] && ! grep -E '^(MISMATCH|FAILED)' "$work/verify.out" >&2; then
	ok "verify exits 0: the SQLite file and each of its tables agree with the manifest ($sqlite_lines lines)"
else
	not_ok "verify exits 0: the SQLite file and each of its tables agree with the manifest (exit $status)"
	cat "$work/verify.out" >&2
fi
check "verify: every MongoDB collection agrees, zoo.values with what was written" test \
	"$(grep -cE '^ok mongodb.* (zoo|app)\.' "$work/verify.out")" = 7
# A document changed in MongoDB is caught.
"$python" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).get_default_database()["zoo.customers"].update_one({"_id": 2}, {"$set": {"name": "eve"}})' "$mongo_uri"
"$COPY" verify "$work/backups/daily.manifest.json" >"$work/verify2.out" 2>&1
status=$?
if [ "$status" = 1 ] && grep -qE '^MISMATCH mongodb.* zoo\.customers' "$work/verify2.out"; then
	ok "verify catches a document changed in the MongoDB copy (exit 1, the table named)"
else
	not_ok "verify catches a document changed in the MongoDB copy: exit $status"
	cat "$work/verify2.out" >&2
fi

# A restore from the SQLite file ends with the source's checksums.
createdb "$RESTORED" || fail_setup "createdb $RESTORED"
if "$COPY" --source "sqlite:$backup" --dest postgres --dest-uri "dbname=$RESTORED" --create-tables --no-progress \
	2>"$work/log.restore"; then
	ok "restore from the SQLite backup exits 0"
else
	not_ok "restore from the SQLite backup exits 0"
	cat "$work/log.restore" >&2
fi
sql -d "$RESTORED" -c "CREATE EXTENSION mostajs" >/dev/null
zoo_checksums "$RESTORED" >"$work/checksums.restored"
if diff -u "$work/checksums.src" "$work/checksums.restored" >&2; then
	ok "restored from SQLite: every table's row count and mosta_checksum equal the source's"
else
	not_ok "restored from SQLite: every table's row count and mosta_checksum equal the source's"
fi

# A SQLite file that is not a mosta-copy backup.
sqlite3 "$work/other.sqlite" 'CREATE TABLE "public.t" (id INTEGER PRIMARY KEY)'
"$COPY" --source "sqlite:$work/other.sqlite" --dest postgres --dest-uri "dbname=$RESTORED" --no-progress \
	2>"$work/log.other"
status=$?
if [ "$status" = 1 ] && grep -q "other.sqlite is not a mosta-copy backup" "$work/log.other"; then
	ok "a SQLite file that is not a mosta-copy backup is refused (exit 1, named)"
else
	not_ok "a SQLite file that is not a mosta-copy backup is refused (exit 1, named): exit $status"
	cat "$work/log.other" >&2
fi

# MongoDB: the documents as the sidecar's sink writes them.
cat >"$work/mongo_check.py" <<'EOF'
import sys
import uuid

import pymongo
from bson import Decimal128, ObjectId

client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
db = client.get_default_database()


def check(description, condition, detail=""):
    print(("ok - " if condition else "not ok - ") + description + ("" if condition else f"  ({detail})"))


names = sorted(db.list_collection_names())
check("one collection per table, named as the sink names them, no temporary left",
      names == ["app.tickets", "zoo.Mixed Case", "zoo.customers", "zoo.empty", "zoo.events", "zoo.measures",
                "zoo.values"], names)
counts = {name: db[name].count_documents({}) for name in names}
check("document counts", counts == {"app.tickets": 2, "zoo.Mixed Case": 2, "zoo.customers": 3, "zoo.empty": 0,
                                    "zoo.events": 3, "zoo.measures": 300, "zoo.values": 4}, counts)
v = db["zoo.values"].find_one({"_id": 1}) or {}
check("_id is the primary key; numeric Decimal128 with its scale; bigint int64; boolean",
      v.get("n") == Decimal128("12.500") and v.get("i8") == 9223372036854775807 and v.get("b") is True, v)
check("timestamptz a date; uuid binary subtype 4; bytea binary; jsonb embedded; arrays; domain over int",
      v.get("tstz") is not None and v["tstz"].isoformat().startswith("2024-05-01T08:30:00.500")
      and v.get("u") == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") and v.get("by") == b"\x00\xff\x10"
      and v.get("jb") == {"b": [1, "x"], "a": None} and v.get("ia") == [1, None, 3] and v.get("q") == 5, v)
check("SQL NULL of a jsonb column is no field", "jb" not in (db["zoo.values"].find_one({"_id": 4}) or {"jb": 1}))
events = list(db["zoo.events"].find())
check("the keyless table's documents get ObjectIds", len(events) == 3
      and all(isinstance(e["_id"], ObjectId) for e in events), events)
m = db["zoo.measures"].find_one({"_id": {"id": 1, "region": "us"}})
check("a composite key is an embedded _id in key order", m is not None, m)
EOF
run_mongo_check() {
	"$python" "$work/mongo_check.py" "$mongo_uri" >"$work/mongo_check.out" 2>&1
	local status=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) not_ok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$work/mongo_check.out"
	[ "$status" = 0 ] || not_ok "mongo_check.py exits 0 (exit status $status)"
}
run_mongo_check

# A run that fails (a destination that cannot be written: the SQLite path is a directory) leaves the previous
# MongoDB copy as it was, and no temporary collection.
"$python" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).get_default_database()["zoo.values"].delete_one({"_id": 4})' "$mongo_uri"
backup=$work/backups # a directory
run_copy log.failed
status=$?
if [ "$status" = 1 ]; then ok "a run whose SQLite destination fails exits 1"; else not_ok "a run whose SQLite destination fails exits 1: exit $status"; fi
left=$("$python" -c 'import sys, pymongo; db = pymongo.MongoClient(sys.argv[1]).get_default_database(); print(db["zoo.values"].count_documents({}), sorted(n for n in db.list_collection_names() if "mosta-tmp" in n))' "$mongo_uri")
check "the failed run left the previous MongoDB copy as it was and no temporary collection ($left)" test "$left" = "3 []"

# The next good run replaces it.
backup=$work/backups/daily.sqlite
run_copy log.again --jobs 1
check "a second run exits 0" test $? = 0
check "and replaces the MongoDB copy (zoo.values has 4 documents again)" test \
	"$("$python" -c 'import sys, pymongo; print(pymongo.MongoClient(sys.argv[1]).get_default_database()["zoo.values"].count_documents({}))' "$mongo_uri")" = 4

if [ -n "$server" ]; then
	kill -TERM "$server"
	wait "$server" 2>/dev/null
	server=
fi
finish
