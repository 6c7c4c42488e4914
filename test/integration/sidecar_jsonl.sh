#!/usr/bin/env bash
# sidecar_jsonl.sh: a cdc rule into a JSON archive target (dialect 'jsonl'), cluster of PGHOST/PGPORT/PGUSER as
# scripts/pg-cluster run provides. Declares rule 'arc' on tables t and u into an archive directory, runs
# "mosta-sidecar --once" (the initial copy), makes inserts, updates (one changing the key) and deletes in several
# transactions, two of them concurrent and committed in the opposite order of their start, runs "--once" again,
# then reads the archive (docs/sidecar.md "JSON archive", sidecar/src/sink/json_archive_sink.hpp) and checks: the
# copy is one transaction holding each table's shape (a mostajs.ddl message) before its rows; one
# JSON document per line, every line parseable; file names archive-<first commit LSN, 16 hex>.jsonl; each
# transaction a begin line (commit_lsn), its change documents (lsn, xid), a commit line (lsn = the begin's
# commit_lsn, end_lsn); end LSNs strictly increasing (commit order); the transactions with row changes are exactly
# the ones made, in commit order, with their ops, and as many insert/update/delete documents; each such
# transaction carries its commit time (the issue: "change documents with LSN and commit time"; docs/protocol.md
# names it "ts", sent with include-timestamp), within the time the changes were made. Then more changes and a
# third "--once": the archive of the second run is a prefix of the new one, and only the new transaction was
# appended (no duplicate). Rotation (64 MiB, the constant kJsonArchiveFileBytes of sidecar/src/app) is not tested. The
# binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "sidecar_jsonl: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_jsonl
require_cluster
require_sidecar

# lib/tap.sh: $db (created), $work, psql_db, scalar_or_error, run_once and the exit trap, which runs
# cleanup_extra (the concurrent session) and drops the slots, $db and $work
use_database mosta_sidecar_jsonl_$$
session=
cleanup_extra() {
	exec 3>&- 2>/dev/null
	[ -n "$session" ] && kill "$session" 2>/dev/null && wait "$session" 2>/dev/null
}
export PGTZ=UTC
# xact SQL: runs SQL in one transaction and prints its xid.
xact() { printf 'BEGIN;\n%s;\nSELECT pg_current_xact_id();\nCOMMIT;\n' "$1" | psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" 2>&1; }
archive=$work/archive

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
CREATE TABLE u (id int PRIMARY KEY, n numeric);
INSERT INTO t SELECT i, 'seed ' || i FROM generate_series(1, 5) i;
INSERT INTO u VALUES (10, 1.5), (11, NULL);
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v archive="$archive" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'archive', 'slave', 'jsonl', :'archive');
SELECT mosta_add_rule('arc', 'app', 'app', 'cdc', ARRAY['t', 'u']);
SQL

# The checker reads the archive and prints "PASS ..." / "FAIL ..." lines (turned into ok / not_ok below).
# Arguments: the archive directory, a JSON file of the expected transactions with row changes after the copy
# ([[xid, [[op, table], ...]], ...] in commit order), the time range of the changes (ts_from, ts_to) and,
# optionally, the concatenated archive of the previous run, which must be a prefix of this one.
cat >"$work/check.py" <<'PY'
import datetime, glob, json, os, re, sys

directory, expected_file, ts_from, ts_to = sys.argv[1:5]
previous_file = sys.argv[5] if len(sys.argv) > 5 else None
expected = json.load(open(expected_file))
results = []
def check(condition, description):
    print(("PASS " if condition else "FAIL ") + description)
    return condition
lsn_re = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
def lsn(text):
    if not isinstance(text, str) or not lsn_re.match(text):
        raise ValueError(f"not an LSN: {text!r}")
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)
def timestamp(text):
    return datetime.datetime.fromisoformat(text)

files = sorted(glob.glob(os.path.join(directory, "archive-*.jsonl")))
check(files and all(re.fullmatch(r"archive-[0-9A-F]{16}\.jsonl", os.path.basename(f)) for f in files),
      f"archive files named archive-<16 hex>.jsonl: {[os.path.basename(f) for f in files]}")
texts = [open(f, encoding="utf-8").read() for f in files]
text = "".join(texts)
if previous_file is not None:
    previous = open(previous_file, encoding="utf-8").read()
    check(len(previous) > 0 and text.startswith(previous) and len(text) > len(previous),
          f"the previous archive ({len(previous)} bytes) is a prefix of this one ({len(text)} bytes): appended only")

# one JSON document per line; streamed transactions are in format version 3: a row change names its relation
# document (relid), which the same file holds before it, and carries its values by position: read back as
# version 2's self-describing documents
def named(relation, values, key_only):
    names = [c["name"] for c in relation["columns"]]
    return {n: v for n, v in zip(names, values) if not key_only or n in relation.get("key", [])}
documents, bad, relations = [], [], {}
for file_text in texts:
    relations = {}  # each file describes its own relations
    for number, line in enumerate(file_text.split("\n")[:-1], 1):
        try:
            document = json.loads(line)
            if not isinstance(document, dict) or not isinstance(document.get("op"), str):
                raise ValueError("not an object with a string op")
            if document["op"] == "relation":
                relations[document["relid"]] = document
                continue
            if "relid" in document:
                relation = relations[document["relid"]]
                document.update(schema=relation["schema"], table=relation["table"])
                if "new" in document:
                    document["new"] = named(relation, document["new"], False)
                if "old" in document:
                    document["old"] = named(relation, document["old"], relation["identity"] != "full")
            documents.append(document)
        except (ValueError, KeyError) as e:
            bad.append(f"line {number}: {e!r}: {line[:120]}")
check(text.endswith("\n") and not bad and documents,
      f"{len(documents)} lines, each one JSON document with an op" + (f"; {len(bad)} bad, first {bad[0]}" if bad else ""))

# files: each begins with a begin line whose commit_lsn names the file
names_ok = True
for f in files:
    with open(f, encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    names_ok &= first.get("op") == "begin" and os.path.basename(f) == f"archive-{lsn(first['commit_lsn']):016X}.jsonl"
check(names_ok, "each file starts with a begin line and is named after its commit_lsn")

# transactions: begin, changes, commit
transactions, structure = [], []
current = None
for document in documents:
    op = document["op"]
    if op == "begin":
        if current is not None: structure.append("begin inside a transaction")
        current = {"begin": document, "changes": []}
    elif op == "commit":
        if current is None: structure.append("commit outside a transaction"); continue
        current["commit"] = document
        transactions.append(current)
        current = None
    else:
        if current is None: structure.append(f"{op} outside a transaction"); continue
        current["changes"].append(document)
if current is not None: structure.append("the archive ends inside a transaction")
lsns_ok = True
try:
    for tx in transactions:
        begin, commit = tx["begin"], tx["commit"]
        tx["commit_lsn"], tx["lsn"], tx["end_lsn"] = lsn(begin["commit_lsn"]), lsn(commit["lsn"]), lsn(commit["end_lsn"])
        if tx["commit_lsn"] != tx["lsn"] or tx["end_lsn"] < tx["lsn"]:
            structure.append(f"commit lsn {commit['lsn']} / end_lsn {commit['end_lsn']} vs begin {begin['commit_lsn']}")
except (KeyError, ValueError) as e:
    lsns_ok = False
    structure.append(f"begin/commit LSN fields: {e}")
check(transactions and not structure,
      f"{len(transactions)} transactions, each begin (commit_lsn) / changes / commit (lsn = commit_lsn, end_lsn)"
      + (f"; {structure[:3]}" if structure else ""))
if lsns_ok:
    ends = [tx["end_lsn"] for tx in transactions]
    check(all(a < b for a, b in zip(ends, ends[1:])), "end LSNs strictly increasing: transactions in commit order")
    commit_lsns = [tx["commit_lsn"] for tx in transactions]
    check(len(set(commit_lsns)) == len(commit_lsns), "no transaction archived twice (distinct commit_lsn)")

# the first transaction is the initial copy: each table's shape (its CREATE TABLE mostajs.ddl message), then its
# seed rows as inserts
copy = transactions[0] if transactions else {"changes": []}
seed = [(c.get("table") or (c.get("content") or {}).get("table"), c.get("op"), c.get("prefix")) for c in copy["changes"]]
check(seed == [("t", "message", "mostajs.ddl")] + [("t", "insert", None)] * 5
      + [("u", "message", "mostajs.ddl")] + [("u", "insert", None)] * 2,
      f"the first transaction is the initial copy (each table's shape message, then its rows: 7 inserts): {seed}")

# the streamed transactions with row changes: exactly the expected ones, in commit order
rows = [tx for tx in transactions[1:] if any(c["op"] in ("insert", "update", "delete") for c in tx["changes"])]
actual = [[tx["changes"][0].get("xid"), [[c["op"], c.get("table")] for c in tx["changes"] if c["op"] != "message"]]
          for tx in rows]
check(actual == expected, f"transactions with row changes, in commit order: {len(actual)} (expected {len(expected)})"
      + ("" if actual == expected else f"\n  archive  {actual}\n  expected {expected}"))
for op in ("insert", "update", "delete"):
    got = sum(1 for tx in rows for c in tx["changes"] if c["op"] == op)
    want = sum(1 for _, changes in expected for o, _ in changes if o == op)
    check(got == want, f"{op} documents: {got} (expected {want})")
fields = [c for tx in rows for c in tx["changes"]]
try:
    fields_ok = all(lsn(c["lsn"]) <= tx["lsn"] and c.get("xid") == tx["changes"][0].get("xid")
                    for tx in rows for c in tx["changes"])
except (KeyError, ValueError) as e:
    fields_ok = False
check(fields and fields_ok, f"every streamed change document has its lsn (at most its commit's) and xid ({len(fields)})")
keyed = [c for tx in rows for c in tx["changes"] if c["op"] == "update" and "old" in c]
check(len(keyed) == 1 and keyed[0].get("old") == {"id": 101} and keyed[0]["new"]["id"] == 1101,
      f"the key change is an update with old: {[(c.get('old'), c.get('new')) for c in keyed]}")

# commit time on each transaction with row changes (begin or commit "ts"), within the time of the changes
low, high = timestamp(ts_from), timestamp(ts_to)
times = []
for tx in rows:
    ts = tx["begin"].get("ts", tx["commit"].get("ts"))
    try:
        times.append(low <= timestamp(ts) <= high)
    except (TypeError, ValueError):
        times.append(False)
check(rows and all(times), f"each transaction carries its commit time (ts): {sum(times)} of {len(rows)}")
PY

# run_check ARGS...: runs the checker; its PASS/FAIL lines become results.
run_check() {
	local line
	python3 "$work/check.py" "$@" >"$work/check.out" 2>&1 || not_ok "archive checker ran: $(tail -1 "$work/check.out")"
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "${line#PASS }" ;;
		"FAIL "*) not_ok "${line#FAIL }" ;;
		*) echo "    $line" ;;
		esac
	done <"$work/check.out"
}
# archive_text prints the archive, files in name order.
archive_text() { cat "$archive"/archive-*.jsonl 2>/dev/null; }

# 1. The initial copy.
run_once copy
if [ -n "$(archive_text)" ]; then ok "archive written by the initial copy"; else not_ok "archive written by the initial copy"; fi

# 2. Changes, with two concurrent transactions committed in the opposite order of their start.
ts_from=$(scalar_or_error "SELECT to_json(now()) #>> '{}'")
x1=$(xact "INSERT INTO t SELECT i, 'one ' || i FROM generate_series(101, 110) i")
mkfifo "$work/a.in"
psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" <"$work/a.in" >"$work/a.out" 2>&1 &
session=$!
exec 3>"$work/a.in"
echo "BEGIN; INSERT INTO t VALUES (201, 'a'), (202, 'a'), (203, 'a'); UPDATE t SET v = 'a' WHERE id = 1; SELECT 'xa ' || pg_current_xact_id();" >&3
deadline=$((SECONDS + 30))
until grep -q '^xa ' "$work/a.out" || [ $SECONDS -ge $deadline ] || ! kill -0 "$session" 2>/dev/null; do
	sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
done
xa=$(sed -n 's/^xa //p' "$work/a.out")
xb=$(xact "UPDATE t SET v = 'b' WHERE id BETWEEN 2 AND 3; DELETE FROM t WHERE id = 4; INSERT INTO u VALUES (1, 2.5)")
echo "COMMIT;" >&3
exec 3>&-
wait "$session"
session=
x4=$(xact "UPDATE t SET id = id + 1000 WHERE id = 101; DELETE FROM t WHERE id BETWEEN 105 AND 107; DELETE FROM u WHERE id = 1")
ts_to=$(scalar_or_error "SELECT to_json(clock_timestamp()) #>> '{}'")
if [ -n "$x1" ] && [ -n "$xa" ] && [ -n "$xb" ] && [ -n "$x4" ] && [ "$xa" -lt "$xb" ]; then
	ok "changes made (xids $x1, $xa started before $xb, $x4)"
else
	not_ok "changes made (xids '$x1' '$xa' '$xb' '$x4')"
	cat "$work/a.out" >&2
fi
cat >"$work/expected.2" <<JSON
[[$x1, [$(for _ in $(seq 10); do printf '["insert","t"],'; done | sed 's/,$//')]],
 [$xb, [["update","t"],["update","t"],["delete","t"],["insert","u"]]],
 [$xa, [["insert","t"],["insert","t"],["insert","t"],["update","t"]]],
 [$x4, [["update","t"],["delete","t"],["delete","t"],["delete","t"],["delete","u"]]]]
JSON
run_once changes
run_check "$archive" "$work/expected.2" "$ts_from" "$ts_to"
archive_text >"$work/archive.2"

# 3. More changes: the next run appends them only.
x5=$(xact "INSERT INTO t SELECT i, 'five' FROM generate_series(300, 304) i; UPDATE t SET v = 'five!' WHERE id = 300; DELETE FROM t WHERE id = 301")
ts_to=$(scalar_or_error "SELECT to_json(clock_timestamp()) #>> '{}'")
{
	sed '$ s/]]$/],/' "$work/expected.2"
	echo " [$x5, [[\"insert\",\"t\"],[\"insert\",\"t\"],[\"insert\",\"t\"],[\"insert\",\"t\"],[\"insert\",\"t\"],[\"update\",\"t\"],[\"delete\",\"t\"]]]]"
} >"$work/expected.3"
run_once more
run_check "$archive" "$work/expected.3" "$ts_from" "$ts_to" "$work/archive.2"
new=$(archive_text | tail -c +$(($(wc -c <"$work/archive.2") + 1)) | grep -c "\"xid\":$x5,")
if [ "$new" = 7 ]; then ok "the third run appended the new transaction's 7 changes"; else not_ok "the third run appended the new transaction's 7 changes: $new"; fi

finish
