#!/usr/bin/env bash
# mongod_change_streams.sh: change streams of the MongoDB-wire test server (mosta-test-mongod) checked with
# pymongo (test/integration/mongod_change_streams.py): every operation type and its fields, resume after a token
# (none lost, none repeated), start_after, startAtOperationTime, updateLookup, $match, database and cluster
# streams, drop + invalidate, a getMore that waits for another client's write, and ChangeStreamHistoryLost (286)
# against a second server started with a small --oplog-size. Needs no PostgreSQL cluster.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init mongod_change_streams

require_pymongo
require_test_mongod

servers=()
work=$(mktemp -d)
cleanup() {
	local pid
	for pid in "${servers[@]}"; do
		kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_server NAME [ARG...]: mosta-test-mongod on a free port; prints its URI.
start_server() {
	local name=$1
	shift
	"$MONGOD_BINARY" --port 0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
	servers+=($!)
	listening() { grep -qs 'listening on .*:[0-9]' "$work/$name.out"; }
	poll_until 20 listening || fail_setup "mosta-test-mongod ($name) did not start: $(cat "$work/$name.err")"
}
start_server main
start_server small --oplog-size 5
uri="mongodb://$(sed -n 's/.*listening on //p' "$work/main.out" | head -1)/"
small_uri="mongodb://$(sed -n 's/.*listening on //p' "$work/small.out" | head -1)/"

if "$MONGOD_BINARY" --oplog-size 0 >/dev/null 2>"$work/bad.err"; then
	not_ok "--oplog-size 0 is refused"
else
	grep -q 'oplog-size needs a positive number' "$work/bad.err" && ok "--oplog-size 0 is refused with a message" ||
		not_ok "--oplog-size 0 is refused with a message ($(cat "$work/bad.err"))"
fi

timeout 120 "$python" test/integration/mongod_change_streams.py "$uri" "$small_uri" >"$work/checks" 2>&1
status=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done <"$work/checks"
[ "$status" -eq 0 ] && ok "mongod_change_streams.py exits 0" || not_ok "mongod_change_streams.py exits 0 (exit status $status)"

for name in main small; do
	if [ -s "$work/$name.err" ]; then
		not_ok "mosta-test-mongod ($name) wrote nothing to stderr"
		sed 's/^/    /' "$work/$name.err"
	else
		ok "mosta-test-mongod ($name) wrote nothing to stderr"
	fi
done
finish
