#!/usr/bin/env bash
# recvlogical.sh: the mostajs output plugin over the streaming replication
# protocol, through pg_recvlogical: slot creation, streams with and without
# batch-bytes (the documents must be those SQL decoding gives, in order, each
# a valid JSON document), a bare boolean option, and option errors.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER/PGDATABASE (for example
# under scripts/pg-cluster run). Prints "ok"/"not ok" per check, then
# "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
RECVLOGICAL="$("$PG_CONFIG" --bindir)/pg_recvlogical"
DATABASE=${PGDATABASE:-postgres}
SLOT_BATCHED=mostajs_it_batched
SLOT_PLAIN=mostajs_it_plain
SLOT_ERRORS=mostajs_it_errors
TIMEOUT=60

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-recvlogical.XXXXXX")

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# check DESCRIPTION COMMAND...: runs the command, counts and prints the result.
check() {
	local description=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $description"
	else
		failed=$((failed + 1))
		echo "not ok - $description"
	fi
}

cleanup() {
	for slot in "$SLOT_BATCHED" "$SLOT_PLAIN" "$SLOT_ERRORS"; do
		sql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" \
			>/dev/null 2>&1
	done
	sql -c "DROP TABLE IF EXISTS it_orders" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

# recv SLOT ENDPOS OUTFILE [ARGS...]: streams SLOT up to ENDPOS into OUTFILE (stderr in OUTFILE.err).
recv() {
	local slot=$1 endpos=$2 out=$3
	shift 3
	timeout "$TIMEOUT" "$RECVLOGICAL" -d "$DATABASE" --slot="$slot" --start --no-loop -v -f - \
		--endpos="$endpos" "$@" >"$out" 2>"$out.err"
}

# same_documents EXPECTED ACTUAL: every line of ACTUAL is one valid JSON document, and the lines are EXPECTED's.
same_documents() {
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		expected = open(sys.argv[1], encoding="utf-8").read().splitlines()
		actual = open(sys.argv[2], encoding="utf-8").read().splitlines()
		for number, line in enumerate(actual, 1):
		    try:
		        json.loads(line)
		    except ValueError as error:
		        sys.exit(f"line {number} is not valid JSON ({error}): {line[:200]}")
		if len(actual) != len(expected):
		    sys.exit(f"{len(actual)} documents, expected {len(expected)}")
		for number, (want, got) in enumerate(zip(expected, actual), 1):
		    if want != got:
		        sys.exit(f"document {number} differs:\n  expected {want}\n  received {got}")
	EOF
}

# framed FILE: begin and commit documents pair up, every change or transactional message inside a pair.
framed() {
	python3 - "$1" <<-'EOF'
		import json, sys
		open_transaction = False
		for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
		    document = json.loads(line)
		    op = document["op"]
		    if op == "begin":
		        assert not open_transaction, "begin inside a transaction"
		        open_transaction = True
		    elif op == "commit":
		        assert open_transaction, "commit outside a transaction"
		        open_transaction = False
		    elif op == "message" and not document["transactional"]:
		        pass
		    else:
		        assert open_transaction, f"{op} outside a transaction"
		assert not open_transaction, "transaction left open"
	EOF
}

count_lines() { [ "$(grep -c '' "$1")" = "$2" ]; }
contains() { grep -qF -- "$2" "$1"; }

echo "# pg_recvlogical against ${PGHOST:-local}:${PGPORT:-5432}, database $DATABASE"

# slots: created through the replication protocol with the mostajs plugin
for slot in "$SLOT_BATCHED" "$SLOT_PLAIN"; do
	check "pg_recvlogical --create-slot -P mostajs creates $slot" \
		"$RECVLOGICAL" -d "$DATABASE" --slot="$slot" --create-slot -P mostajs
done
check "the slots are logical slots of the mostajs plugin" \
	[ "$(sql -c "SELECT count(*) FROM pg_replication_slots
		WHERE slot_name IN ('$SLOT_BATCHED', '$SLOT_PLAIN') AND plugin = 'mostajs' AND slot_type = 'logical'")" = 2 ]

# a few transactions
sql >/dev/null <<-'EOF'
	CREATE TABLE it_orders (id int PRIMARY KEY, item text, amount numeric(10, 2), at timestamptz, tags text[]);
	INSERT INTO it_orders
		SELECT i, 'item ' || i || E' with "quotes", a\\backslash\nand a newline, é', i * 1.25,
			'2024-05-01 12:30:00+00', ARRAY['a', 'b,c']
		FROM generate_series(1, 40) AS i;
	BEGIN;
	UPDATE it_orders SET amount = amount + 1 WHERE id <= 10;
	SAVEPOINT s;
	DELETE FROM it_orders WHERE id > 30;
	ROLLBACK TO SAVEPOINT s;
	DELETE FROM it_orders WHERE id = 40;
	COMMIT;
	SELECT 'message' FROM pg_logical_emit_message(false, 'mostajs.heartbeat', '{"beat": 1}');
	BEGIN;
	INSERT INTO it_orders VALUES (100, 'rolled back');
	ROLLBACK;
	BEGIN;
	SELECT 'message' FROM pg_logical_emit_message(true, 'app', 'in a transaction');
	TRUNCATE it_orders;
	COMMIT;
EOF
sql -c "SELECT data FROM pg_logical_slot_peek_changes('$SLOT_PLAIN', NULL, NULL, 'include-xids', '1')" \
	>"$WORK/expected"
endpos=$(sql -c "SELECT max(lsn) FROM pg_logical_slot_peek_changes('$SLOT_PLAIN', NULL, NULL)")
echo "# $(grep -c '' "$WORK/expected") documents from SQL decoding; end position $endpos"
check "SQL decoding gives (40 + 2) + (11 + 2) + 1 + (2 + 2) documents" count_lines "$WORK/expected" 60

# batched: the same documents, packed
check "pg_recvlogical --start -o include-xids=1 -o batch-bytes=4096 --endpos exits 0" \
	recv "$SLOT_BATCHED" "$endpos" "$WORK/batched" -o include-xids=1 -o batch-bytes=4096
check "batched: every line a valid JSON document, the same as SQL decoding's, in order" \
	same_documents "$WORK/expected" "$WORK/batched"
check "batched: begin/commit frame every change" framed "$WORK/batched"
# the message that ends with a commit carries the commit's LSN, as without
# batching, so pg_recvlogical stops on that WAL record rather than waiting
# for a keepalive (and a client confirming what it received confirms the
# whole transaction)
check "batched: the end position is reached by the commit's WAL record" \
	contains "$WORK/batched.err" "end position $endpos reached by WAL record at $endpos"
check "batched: the slot confirmed the end position" \
	[ "$(sql -c "SELECT confirmed_flush_lsn >= '$endpos' FROM pg_replication_slots WHERE slot_name = '$SLOT_BATCHED'")" = t ]

# unbatched: one document per message
check "pg_recvlogical --start -o include-xids=1 --endpos exits 0" \
	recv "$SLOT_PLAIN" "$endpos" "$WORK/plain" -o include-xids=1
check "unbatched: every line a valid JSON document, the same as SQL decoding's, in order" \
	same_documents "$WORK/expected" "$WORK/plain"
check "unbatched: the end position is reached by the commit's WAL record" \
	contains "$WORK/plain.err" "end position $endpos reached by WAL record at $endpos"
check "unbatched: nothing left in the slot" \
	[ "$(sql -c "SELECT count(*) FROM pg_logical_slot_peek_changes('$SLOT_PLAIN', NULL, NULL)")" = 0 ]

# a boolean option without a value means true
sql -c "INSERT INTO it_orders (id) VALUES (1), (2)"
endpos=$(sql -c "SELECT max(lsn) FROM pg_logical_slot_peek_changes('$SLOT_PLAIN', NULL, NULL)")
check "pg_recvlogical -o include-xids (no value) exits 0" \
	recv "$SLOT_PLAIN" "$endpos" "$WORK/bare" -o include-xids
check "bare include-xids: 4 documents, each with an xid" \
	python3 -c 'import json, sys
documents = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
sys.exit(not (len(documents) == 4 and all(isinstance(d.get("xid"), int) for d in documents)))' "$WORK/bare"

# errors: the plugin's own messages reach the client, which fails
check "pg_recvlogical --create-slot -P mostajs creates $SLOT_ERRORS" \
	"$RECVLOGICAL" -d "$DATABASE" --slot="$SLOT_ERRORS" --create-slot -P mostajs
# expect_error OPTION MESSAGE: streaming with OPTION fails with MESSAGE on stderr
expect_error() {
	if timeout "$TIMEOUT" "$RECVLOGICAL" -d "$DATABASE" --slot="$SLOT_ERRORS" --start --no-loop -f - \
		-o "$1" >"$WORK/error.out" 2>"$WORK/error.err"; then
		echo "# pg_recvlogical -o $1 succeeded"
		return 1
	fi
	grep -qF -- "$2" "$WORK/error.err" || { sed 's/^/# /' "$WORK/error.err"; return 1; }
}
check "an unknown option fails with the plugin's message" \
	expect_error foo=bar 'option "foo" = "bar" is unknown'
check "a bad boolean fails with the plugin's message" \
	expect_error include-xids=maybe 'could not parse value "maybe" for parameter "include-xids"'
check "an out-of-range batch-bytes fails with the plugin's message" \
	expect_error batch-bytes=-1 'could not parse value "-1" for parameter "batch-bytes"'
check "format-version 4 fails with the plugin's message" \
	expect_error format-version=4 'could not parse value "4" for parameter "format-version"'

for slot in "$SLOT_BATCHED" "$SLOT_PLAIN" "$SLOT_ERRORS"; do
	check "pg_recvlogical --drop-slot drops $slot" "$RECVLOGICAL" -d "$DATABASE" --slot="$slot" --drop-slot
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
