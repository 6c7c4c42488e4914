#!/usr/bin/env bash
# mongod_pymongo.sh: the MongoDB-wire test server (mosta-test-mongod) checked by a second, independent
# driver, Debian's python3-pymongo (test/integration/mongod_pymongo.py: inserts, upserts, replaces,
# deletes, bulk writes, counts, aggregates, cursors, indexes, collections, errors). With
# MOSTA_TEST_MONGO_URI set the same checks run against that server (a real mongod) instead.
# Needs no PostgreSQL cluster.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init mongod_pymongo

require_pymongo

server=
work=$(mktemp -d)
cleanup() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

listening() { grep -q 'listening on' "$work/out"; }
server_gone() { ! kill -0 "$server" 2>/dev/null; }

if [ -n "${MOSTA_TEST_MONGO_URI:-}" ]; then
	uri=$MOSTA_TEST_MONGO_URI
	echo "# against MOSTA_TEST_MONGO_URI"
else
	require_test_mongod
	"$MONGOD_BINARY" --port 0 >"$work/out" 2>"$work/err" &
	server=$!
	if poll_until 20 listening; then
		ok "mosta-test-mongod starts and prints its port"
	else
		not_ok "mosta-test-mongod starts and prints its port"
		cat "$work/err" >&2
		finish
	fi
	uri="mongodb://$(sed -n 's/.*listening on //p' "$work/out" | head -1)/"
fi

timeout 120 "$python" test/integration/mongod_pymongo.py "$uri" >"$work/checks" 2>&1
status=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done <"$work/checks"
[ "$status" -eq 0 ] || not_ok "mongod_pymongo.py exits 0 (exit status $status)"

if [ -n "$server" ]; then
	kill -TERM "$server"
	if ! poll_until 10 server_gone; then
		not_ok "mosta-test-mongod exits on SIGTERM (still running after 10 s)"
	elif wait "$server"; then
		ok "mosta-test-mongod exits 0 on SIGTERM"
	else
		not_ok "mosta-test-mongod exits 0 on SIGTERM"
		cat "$work/err" >&2
	fi
	server=
	if [ -s "$work/err" ]; then
		not_ok "mosta-test-mongod wrote nothing to stderr"
		sed 's/^/    /' "$work/err"
	fi
fi
finish
