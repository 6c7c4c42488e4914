#!/usr/bin/env bash
# sidecar_verify_mongo.sh: "mosta-sidecar verify RULE" on a MongoDB target (docs/verification.md, "The MongoDB
# side"), against the in-memory MongoDB-wire test server mosta-test-mongod and the cluster of PGHOST/PGPORT/PGUSER
# (scripts/pg-cluster run). A cdc rule copies a table with int, bigint, numeric(12,2), text (NULL and ''), boolean,
# timestamptz (whole milliseconds), uuid, bytea, float8, int[] and jsonb columns and a generated column (never
# replicated: left out, which verify says), and a composite-key table with a json column (left out of the
# comparison, which verify says), into mongodb://127.0.0.1:PORT/verifydb; after "--once" (copy, then streamed
# changes) verify exits 0 with matching checksums equal to mosta_checksum's. Then the documents are tampered with
# through pymongo (one updated, one deleted, one inserted, in each collection): verify exits 1, names those keys
# and, under each updated one, the column that differs with both values. The binaries: MOSTA_SIDECAR_BIN, MOSTA_TEST_MONGOD_BIN (lib/tap.sh); pymongo is
# Debian's python3-pymongo (/usr/bin/python3). Prints "sidecar_verify_mongo: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_verify_mongo
require_cluster
require_sidecar
require_test_mongod
require_pymongo

use_database mosta_sidecar_verify_mongo_$$
server=
cleanup_extra() { [ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null; }

start_mongo_target verifydb # mosta-test-mongod, or MOSTA_TEST_MONGO_URI's server (lib/tap.sh)

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE accounts (
	id int PRIMARY KEY, big bigint, amount numeric(12,2), note text, active boolean, opened timestamptz,
	ref uuid, raw bytea, ratio float8, tags int[], data jsonb, half numeric GENERATED ALWAYS AS (amount / 2) STORED);
INSERT INTO accounts
SELECT i, i::bigint * 10000000000, i * 1.10, CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'n "' || i || '" é' END,
       i % 2 = 0, timestamptz '2024-05-01 10:30:00.25+02' + i * interval '1 day' + i * interval '1 millisecond',
       md5(i::text)::uuid, decode(md5(i::text), 'hex'),
       CASE i % 4 WHEN 0 THEN 1e20 WHEN 1 THEN 1e-5 WHEN 2 THEN i / 3.0 ELSE 1.0 END, ARRAY[i, NULL, -i],
       jsonb_build_object('i', i, 'list', jsonb_build_array(1.5, 'x', NULL), 'a.b', jsonb_build_object('$k', true))
  FROM generate_series(1, 40) i;
CREATE TABLE lines (order_id int, line int, qty numeric(12,2), note text, doc json, PRIMARY KEY (order_id, line));
INSERT INTO lines SELECT o, l, o * l * 0.5, 'o' || o, '{"b":1,  "a":2}' FROM generate_series(1, 5) o, generate_series(1, 3) l;
CREATE EXTENSION mostajs;
SQL

psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER" -v mongo="$mongo_uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['accounts', 'lines']);
SQL

run_once copy
psql_db <<'SQL' || not_ok "changes"
INSERT INTO accounts (id, amount, note, ratio, raw, data) VALUES (100, 1.00, '', 1.00, '\x', '"a string"');
UPDATE accounts SET amount = 2.000, note = NULL WHERE id = 5;
DELETE FROM accounts WHERE id = 6;
UPDATE lines SET qty = 9.99, note = NULL WHERE order_id = 2 AND line = 2;
DELETE FROM lines WHERE order_id = 3 AND line = 1;
SQL
run_once stream

verify() { PGDATABASE=$db "$BINARY" verify "$@" >"$work/verify.out" 2>"$work/verify.err"; }

verify r1
status=$?
sed 's/^/    /' "$work/verify.out" "$work/verify.err"
if [ "$status" -eq 0 ]; then ok "verify exits 0 on a faithful copy"; else not_ok "verify exits 0 on a faithful copy (got $status)"; fi
if grep -q "^target app/mongo (mongodb $mongo_uri)$" "$work/verify.out"; then ok "the MongoDB target is named"; else not_ok "the MongoDB target is named"; fi
if grep -Eq '^  public.accounts +40 +40 +[0-9a-f]{16} +[0-9a-f]{16} +match$' "$work/verify.out"; then
	ok "accounts: counts and matching checksums"
else
	not_ok "accounts: counts and matching checksums"
fi
if grep -Eq '^  public.lines +14 +14 +[0-9a-f]{16} +[0-9a-f]{16} +match$' "$work/verify.out"; then
	ok "lines (composite key): counts and matching checksums"
else
	not_ok "lines (composite key): counts and matching checksums"
fi
source_sum=$(scalar "SELECT checksum FROM mosta_checksum('accounts', ARRAY['id', 'big', 'amount', 'note', 'active', 'opened', 'ref', 'raw', 'ratio', 'tags', 'data'])")
if grep -q "${source_sum:0:16}.*${source_sum:0:16}  match" "$work/verify.out"; then
	ok "the printed checksums are mosta_checksum's"
else
	not_ok "the printed checksums are mosta_checksum's"
fi
if grep -Eq '^    not compared \(json .*\): doc$' "$work/verify.out"; then ok "the json column is said to be left out"; else not_ok "the json column is said to be left out"; fi
if grep -q '^    not compared (generated columns are not replicated): half$' "$work/verify.out"; then ok "the generated column is said to be left out"; else not_ok "the generated column is said to be left out"; fi

# tamper with the documents: one changed, one deleted, one added, in each collection
"$python" - "$mongo_uri" <<'PY' || not_ok "tampering"
import sys
import pymongo
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000).get_database("verifydb")
db.accounts.update_one({"_id": 12}, {"$set": {"note": "changed"}})
db.accounts.delete_one({"_id": 20})
db.accounts.insert_one({"_id": 777, "id": 777, "note": "intruder"})
db.lines.update_one({"_id": {"order_id": 4, "line": 2}}, {"$set": {"note": "changed"}})
db.lines.delete_one({"_id": {"order_id": 5, "line": 3}})
db.lines.insert_one({"_id": {"order_id": 9, "line": 1}, "order_id": 9, "line": 1})
PY
verify r1
status=$?
sed 's/^/    /' "$work/verify.out" "$work/verify.err"
if [ "$status" -eq 1 ]; then ok "verify exits 1 on tampered documents"; else not_ok "verify exits 1 on tampered documents (got $status)"; fi
if grep -Eq '^  public.accounts +40 +40 .*MISMATCH$' "$work/verify.out"; then ok "accounts: the mismatch is reported"; else not_ok "accounts: the mismatch is reported"; fi
if grep -Eq '^  public.lines +14 +14 .*MISMATCH$' "$work/verify.out"; then ok "lines: the mismatch is reported"; else not_ok "lines: the mismatch is reported"; fi
for expected in 'different: +12' 'missing on target: 20' 'extra on target: +777' 'different: +4,2' \
	'missing on target: 5,3' 'extra on target: +9,1'; do
	if grep -Eq "^    $expected\$" "$work/verify.out"; then ok "named: $expected"; else not_ok "named: $expected"; fi
done
if [ "$(grep -Ec '^    (different|missing|extra)' "$work/verify.out")" -eq 6 ]; then ok "no other key is named"; else not_ok "no other key is named"; fi
# under each changed key, the column that differs with both values (note of accounts 12 is NULL: 12 % 3 = 0)
if grep -E -A2 '^    different: +12$' "$work/verify.out" | grep -q '^      column note: source NULL, target "changed"$' &&
	grep -E -A2 '^    different: +4,2$' "$work/verify.out" | grep -q '^      column note: source "o4", target "changed"$' &&
	[ "$(grep -c '^      column ' "$work/verify.out")" -eq 2 ]; then
	ok "the differing column of each changed key is named with both values"
else
	not_ok "the differing column of each changed key is named with both values"
fi

finish
