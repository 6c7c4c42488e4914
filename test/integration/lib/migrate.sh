# shellcheck shell=bash
# migrate.sh: what the migration scripts (test/integration/migrate_*.sh) share; sourced after tap.sh, once
# use_database has set db and work. The data set is test/integration/migrate/shop_data.py's, its mapping
# test/integration/migrate/shop.mapping.json (database "shop").
#
#   require_migrate            MIGRATE_BINARY = MOSTA_MIGRATE_BIN, else build/migrate/mosta-migrate (must exist);
#                              also require_pymongo and require_test_mongod
#   create_mostajs             CREATE EXTENSION mostajs in $db (the target; a failure fails the setup)
#   start_shop_mongo           a MongoDB with an empty database "shop" (tap.sh's start_mongo_target: mosta-test-mongod
#                              on a free port, or MOSTA_TEST_MONGO_URI): sets mongo_uri (.../shop), server, port
#   load_shop [ARG...]         loads the data set (shop_data.py ARGs: --scale, --users N, --orphans N, --seed N...);
#                              its JSON summary in $work/shop.json; a failure fails the setup
#   shop_count COLLECTION      the documents of COLLECTION the load reported
#   shop_child_rows TABLE      the rows of child table TABLE the load reported
#   start_shop_writer SECONDS [ARG...]
#                              shop_data.py --writer in the background (pid in writer_pid, summary in $work/writer.json)
#   wait_shop_writer           waits for it; 1 when it failed or reported write errors
#   writer_value EXPR          a value of the writer's summary (EXPR in Python over s, e.g. 's["counts"]["users"]')
#   mongo_py CODE              runs Python CODE with db (the shop database, pymongo) and bson's names imported
#   migrate CMD [ARG...]       mosta-migrate CMD $mapping ARGs, with --source $mongo_uri and --target "dbname=$db"
#                              added as CMD takes them; stderr in $work/migrate.CMD.err (the status is mosta-migrate's)
#   migrate_cleanup            kills the writer and the MongoDB server this file started (call it from cleanup_extra)

mapping=${mapping:-test/integration/migrate/shop.mapping.json}
shop_data=test/integration/migrate/shop_data.py
server=
writer_pid=

require_migrate() {
	require_pymongo
	require_test_mongod
	MIGRATE_BINARY=${MOSTA_MIGRATE_BIN:-build/migrate/mosta-migrate}
	[ -x "$MIGRATE_BINARY" ] || fail_setup "$MIGRATE_BINARY not found: cmake --build build -j2 --target mosta-migrate"
}

create_mostajs() { psql_db -c 'CREATE EXTENSION mostajs' >/dev/null || fail_setup "CREATE EXTENSION mostajs failed in $db"; }

start_shop_mongo() { start_mongo_target shop; }

load_shop() {
	"$python" "$shop_data" "${mongo_uri%/shop}/" shop --drop "$@" >"$work/shop.json" 2>"$work/shop.err" ||
		fail_setup "shop_data.py could not load the data set: $(cat "$work/shop.err")"
}

shop_count() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["counts"][sys.argv[2]])' "$work/shop.json" "$1"; }
shop_child_rows() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["children"][sys.argv[2]])' "$work/shop.json" "$1"; }

start_shop_writer() {
	local seconds=$1
	shift
	"$python" "$shop_data" "${mongo_uri%/shop}/" shop --writer "$seconds" "$@" >"$work/writer.json" 2>"$work/writer.err" &
	writer_pid=$!
}

wait_shop_writer() {
	local status=0
	wait "$writer_pid" || status=1
	writer_pid=
	[ "$status" -eq 0 ] && [ "$(writer_value 's["errors"]')" = 0 ] || {
		cat "$work/writer.err" "$work/writer.json" >&2
		return 1
	}
}

writer_value() { "$python" -c 'import json, sys; s = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/writer.json" "$1"; }

mongo_py() {
	"$python" -c "import sys, pymongo
from bson import ObjectId, Decimal128, Int64
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)['shop']
$1" "${mongo_uri%/shop}/"
}

migrate() {
	local command=$1
	shift
	local extra=()
	case $command in
	infer) extra=(--source "$mongo_uri") ;;
	backfill | follow | verify | shadow) extra=("$mapping" --source "$mongo_uri" --target "dbname=$db") ;;
	cutover | status) extra=("$mapping" --target "dbname=$db") ;;
	schema) if [[ " $* " == *" --apply "* ]]; then extra=("$mapping" --target "dbname=$db"); else extra=("$mapping"); fi ;;
	*) extra=("$mapping") ;;
	esac
	"$MIGRATE_BINARY" "$command" "${extra[@]}" "$@" 2>"$work/migrate.$command.err"
}

migrate_cleanup() {
	[ -n "$writer_pid" ] && kill -9 "$writer_pid" 2>/dev/null && wait "$writer_pid" 2>/dev/null
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	writer_pid=
	server=
}
