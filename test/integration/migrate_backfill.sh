#!/usr/bin/env bash
# migrate_backfill.sh: `mosta-migrate backfill` and `status` (docs/migration.md, "Backfill"). A small data set of its
# own in mosta-test-mongod (users with self-references, some to users of a later batch; payments with items arrays
# and Decimal128 amounts; one user whose points are a string, one payment whose status the table's CHECK refuses,
# three payments of a buyer not in MongoDB yet) and a mapping of it; the tables as `mosta-migrate schema` creates
# them, plus that CHECK. Shows: the counts per table equal MongoDB's; the missing parent reported per key and
# applied once the parent exists and backfill runs again; each bad document rejected with its field (or SQLSTATE)
# while the rest of its batch is applied; a run killed with -9 in the middle of a batch and resumed ends identical to
# an uninterrupted one; a rerun (--again) touches no tuple; status reports it. Prints "migrate_backfill: N passed,
# N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/migrate.sh
source test/integration/lib/migrate.sh
tap_init migrate_backfill
require_cluster
require_migrate

use_database mosta_migrate_backfill_$$
killed_db=mosta_migrate_backfill_killed_$$
shop_db=mosta_migrate_backfill_shop_$$
term_db=mosta_migrate_backfill_term_$$
GATE_PID=
backfill_pid=
cleanup_extra() {
	[ -n "$backfill_pid" ] && kill -9 "$backfill_pid" 2>/dev/null && wait "$backfill_pid" 2>/dev/null
	migrate_cleanup
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$killed_db'" >/dev/null 2>&1
	dropdb --if-exists "$killed_db" >/dev/null 2>&1
	[ -n "$GATE_PID" ] && kill -9 "$GATE_PID" 2>/dev/null
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$term_db'" >/dev/null 2>&1
	dropdb --if-exists "$shop_db" >/dev/null 2>&1
	dropdb --if-exists "$term_db" >/dev/null 2>&1
}
createdb "$killed_db" || fail_setup "createdb $killed_db"
createdb "$shop_db" || fail_setup "createdb $shop_db"
createdb "$term_db" || fail_setup "createdb $term_db"

start_mongo_target backfill # mosta-test-mongod (lib/tap.sh): mongo_uri, server

mapping=$work/backfill.mapping.json
cat >"$mapping" <<'JSON'
{
  "name": "backfill_test",
  "source": {"database": "backfill"},
  "collections": [
    {"collection": "users", "table": "users", "id": {"policy": "objectid", "require_objectid": true},
     "fields": [
       {"path": "email", "column": "email", "type": "text"},
       {"path": "profile.displayName", "column": "display_name", "type": "text"},
       {"path": "createdAt", "column": "created_at", "type": "timestamp with time zone", "not_null": true, "bson": "date"},
       {"path": "referredBy", "column": "referred_by_id", "references": "users"},
       {"path": "points", "column": "points", "type": "bigint", "bson": "long"}
     ]},
    {"collection": "payments", "table": "payments", "id": {"policy": "objectid"},
     "fields": [
       {"path": "buyerId", "column": "buyer_id", "references": "users", "not_null": true},
       {"path": "amount.value", "column": "amount", "type": "numeric(38,18)", "not_null": true, "bson": "decimal"},
       {"path": "status", "column": "status", "type": "text", "not_null": true},
       {"path": "items", "child_table": {"table": "payment_items", "parent_column": "payment_id",
          "position_column": "position",
          "fields": [{"path": "sku", "column": "sku", "type": "text"}, {"path": "qty", "column": "qty", "type": "integer"}]}}
     ]}
  ]
}
JSON

schema_sql="
CREATE EXTENSION mostajs;
SELECT mosta_set_id_policy('users', 'objectid', true);
SELECT mosta_set_id_policy('payments', 'objectid', false);
CREATE TABLE users (id uuid PRIMARY KEY, legacy_object_id text NOT NULL UNIQUE, email text, display_name text,
  created_at timestamp with time zone NOT NULL, referred_by_id uuid REFERENCES users (id), points bigint,
  extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE payments (id uuid PRIMARY KEY, legacy_object_id text NOT NULL UNIQUE,
  buyer_id uuid NOT NULL REFERENCES users (id), amount numeric(38,18) NOT NULL,
  status text NOT NULL CHECK (status IN ('paid', 'pending', 'refunded')), extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE payment_items (payment_id uuid NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
  position integer NOT NULL, sku text, qty integer, extra jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (payment_id, position));"
psql_db -o /dev/null -c "$schema_sql" || fail_setup "schema"
psql -X -q -v ON_ERROR_STOP=1 -d "$killed_db" -o /dev/null -c "$schema_sql" || fail_setup "schema ($killed_db)"
psql -X -q -v ON_ERROR_STOP=1 -d "$term_db" -o /dev/null -c "$schema_sql" || fail_setup "schema ($term_db)"

# The data set: 3000 users (every 10th refers to the one before, every 50th to one 700 later: another batch),
# 2000 payments with 0-3 items; user 42's points are a string; payment 77's status is not allowed; payments 5, 6, 7
# name a buyer that is not in MongoDB yet (inserted later: $work/late.json).
# mongo_run CODE [ARG...]: Python CODE with db (the database "backfill", pymongo), sys.argv[2:] = ARGs
mongo_run() {
	local code=$1
	shift
	"$python" -c "import datetime, json, sys, pymongo
from bson import ObjectId, Decimal128, Int64
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)['backfill']
$code" "$mongo_uri" "$@"
}
mongo_run '
base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
def oid(kind, i):
    return ObjectId(ObjectId.from_datetime(base + datetime.timedelta(minutes=i)).binary[:4] + bytes([kind]) + i.to_bytes(7, "big"))
users = []
for i in range(3000):
    u = {"_id": oid(1, i), "createdAt": base + datetime.timedelta(minutes=i), "points": Int64(i * 10), "legacyFlag": i % 3}
    if i % 4: u["email"] = f"u{i}@example.com"
    if i % 5: u["profile"] = {"displayName": f"User {i}", "theme": "dark"}
    if i % 10 == 1: u["referredBy"] = oid(1, i - 1)
    if i % 50 == 7 and i + 700 < 3000: u["referredBy"] = oid(1, i + 700)
    users.append(u)
users[42]["points"] = "lots"
db.users.insert_many(users)
late = oid(1, 99999)
payments = []
for i in range(2000):
    p = {"_id": oid(2, i), "buyerId": oid(1, (i * 7) % 3000), "amount": {"value": Decimal128(f"{i}.{i % 100:02d}")},
         "status": ["paid", "pending", "refunded"][i % 3], "note": f"n{i}"}
    n = i % 4
    if n: p["items"] = [{"sku": f"s{i}-{k}", "qty": k + 1, "gift": k == 2} for k in range(n)]
    payments.append(p)
payments[77]["status"] = "bogus"
for i in (5, 6, 7): payments[i]["buyerId"] = late
db.payments.insert_many(payments)
held = [i for i in range(3000) if i % 50 == 7 and i + 700 < 3000]
json.dump({"late": str(late), "user42": str(oid(1, 42)), "payment77": str(oid(2, 77)), "user1500": str(oid(1, 1500)),
           "refs": sum(1 for u in users if "referredBy" in u),
           "kill_users": sum(1 for i in range(1500) if i != 42 and i not in held),
           "orphans": sorted(str(oid(2, i)) for i in (5, 6, 7)),
           "items": sum(i % 4 for i in range(2000) if i not in (5, 6, 7, 77))}, open(sys.argv[2], "w"))
' "$work/late.json" 2>"$work/load.err" || fail_setup "loading the data set: $(cat "$work/load.err")"
late() { "$python" -c 'import json, sys; print(eval(sys.argv[2], json.load(open(sys.argv[1]))))' "$work/late.json" "$1"; }

# fingerprint DB: every row of the three tables (ids included: objectid-policy uuids are the same in any database)
fingerprint() {
	psql -X -At -d "$1" -c "SELECT md5(string_agg(x, ';' ORDER BY x)) FROM (
	  SELECT u::text AS x FROM users u UNION ALL SELECT p::text FROM payments p UNION ALL SELECT i::text FROM payment_items i
	  UNION ALL SELECT concat_ws('|', collection, legacy_id, kind, field, parent_legacy_id, sqlstate) FROM mosta_migration.problems) t"
}
# tuples: where every row lies and which transaction wrote it (unchanged only if no tuple was touched)
tuples() {
	scalar "SELECT md5(string_agg(x, ';' ORDER BY x)) FROM (
	  SELECT ctid::text || xmin::text || legacy_object_id AS x FROM users UNION ALL
	  SELECT ctid::text || xmin::text || legacy_object_id FROM payments UNION ALL
	  SELECT ctid::text || xmin::text || payment_id::text || position FROM payment_items) t"
}

# 1. backfill
if migrate backfill --batch 500 >"$work/out1"; then ok "backfill exits 0"; else not_ok "backfill exits 0: $(cat "$work/migrate.backfill.err")"; fi
sed 's/^/    /' "$work/out1"
got=$(scalar "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM payments) || ' ' || (SELECT count(*) FROM payment_items)")
expected="2999 1996 $(late items)"
if [ "$got" = "$expected" ]; then ok "rows per table: every document but the rejected and held back ones ($got)"; else not_ok "rows per table: '$got', expected '$expected'"; fi
got=$(scalar "SELECT count(*) FROM users u JOIN users r ON r.id = u.referred_by_id")
if [ "$got" = "$(late refs)" ]; then ok "self-references resolved, also those to a later batch ($got)"; else not_ok "resolved self-references: $got, expected $(late refs)"; fi
got=$(scalar "SELECT string_agg(legacy_id || ':' || field || ':' || parent_collection || ':' || parent_legacy_id, ' ' ORDER BY legacy_id) FROM mosta_migration.problems WHERE kind = 'missing_parent'")
expected=$(late '" ".join(f"{o}:buyerId:users:{late}" for o in orphans)')
if [ "$got" = "$expected" ]; then ok "a missing parent is reported per key (collection, legacy id, field, parent)"; else not_ok "missing parents: '$got', expected '$expected'"; fi
got=$(scalar "SELECT field || ':' || coalesce(sqlstate, '-') FROM mosta_migration.problems WHERE kind = 'rejected' AND legacy_id = '$(late user42)'")
if [ "$got" = "points:-" ]; then ok "a value the column cannot take rejects its document, naming the field (points)"; else not_ok "user 42's problem: '$got'"; fi
got=$(scalar "SELECT sqlstate || ':' || (message LIKE '%payments_status_check%') FROM mosta_migration.problems WHERE kind = 'rejected' AND legacy_id = '$(late payment77)'")
if [ "$got" = "23514:true" ]; then ok "a document PostgreSQL refuses (CHECK) is rejected with its SQLSTATE and message"; else not_ok "payment 77's problem: '$got'"; fi
got=$(scalar "SELECT count(*) FROM payments WHERE legacy_object_id = '$(late payment77)'")
got2=$(scalar "SELECT count(*) FROM users WHERE legacy_object_id = '$(late user42)'")
if [ "$got" = 0 ] && [ "$got2" = 0 ]; then ok "rejected documents are not written"; else not_ok "rejected documents written: $got $got2"; fi
got=$(scalar "SELECT extra->>'note' || ' ' || (SELECT extra::text FROM payment_items i WHERE i.payment_id = p.id AND position = 2) FROM payments p WHERE amount = 3.03")
if [ "$got" = 'n3 {"gift": true}' ]; then ok "unmapped fields land in extra (document and element)"; else not_ok "extra: '$got'"; fi
if grep -q "missing_parent documents: 3" "$work/out1" && grep -q "rejected documents: 2" "$work/out1"; then ok "the summary counts the documents not applied"; else not_ok "summary: $(cat "$work/out1")"; fi

# 2. status
if migrate status >"$work/status" && grep -q "payments: backfill done, 2000 documents" "$work/status" && grep -q "missing_parent 3, rejected 1" "$work/status"; then
	ok "status shows the checkpoints and the problems"
else
	not_ok "status: $(cat "$work/status" "$work/migrate.status.err")"
fi
got=$(migrate status --json | "$python" -c 'import json, sys; s = json.load(sys.stdin); c = {x["collection"]: x for x in s["collections"]}
print(c["payments"]["problems"]["missing_parent"]["count"], c["payments"]["problems"]["missing_parent"]["first"][0]["field"], c["users"]["checkpoint"]["done"])')
if [ "$got" = "3 buyerId True" ]; then ok "status --json"; else not_ok "status --json: '$got'"; fi

# 3. kill -9 in the middle of a batch, then resume: identical to the uninterrupted run. The stall is a trigger that
# blocks the insert of user 1500 (the 4th batch of 500) until the test kills the run: not a timing.
psql -X -q -d "$killed_db" -o /dev/null -c "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN /* --allow-sleep: holds the batch open until the test kills the run */ PERFORM pg_sleep(300); RETURN NEW; END \$\$;
  CREATE TRIGGER stall BEFORE INSERT ON users FOR EACH ROW WHEN (NEW.legacy_object_id = '$(late user1500)') EXECUTE FUNCTION stall();"
"$MIGRATE_BINARY" backfill "$mapping" --source "$mongo_uri" --target "dbname=$killed_db" --batch 500 >/dev/null 2>"$work/killed.err" &
backfill_pid=$!
checkpoint_moved() { [ "$(psql -X -At -d "$killed_db" -c "SELECT documents FROM mosta_migration.checkpoints WHERE collection = 'users' AND NOT done" 2>/dev/null)" = 1500 ]; }
stalled() { [ "$(psql -X -At -d "$killed_db" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'INSERT INTO \"public\".\"users\"%'" 2>/dev/null)" = 1 ]; }
if poll_until 30 checkpoint_moved && poll_until 30 stalled; then ok "the killed run committed 3 batches, the 4th in flight"; else not_ok "checkpoint before the kill: $(cat "$work/killed.err")"; fi
{
	kill -9 "$backfill_pid"
	wait "$backfill_pid"
} 2>/dev/null
backfill_pid=
psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$killed_db' AND pid <> pg_backend_pid()" >/dev/null
psql -X -q -d "$killed_db" -c "DROP TRIGGER stall ON users" >/dev/null
got=$(psql -X -At -d "$killed_db" -c "SELECT count(*) FROM users")
if [ "$got" = "$(late kill_users)" ]; then ok "after kill -9: the committed batches only ($got users)"; else not_ok "users after the kill: $got, expected $(late kill_users)"; fi
if "$MIGRATE_BINARY" backfill "$mapping" --source "$mongo_uri" --target "dbname=$killed_db" --batch 500 >"$work/resumed" 2>"$work/resumed.err"; then ok "the resumed run exits 0"; else not_ok "resumed run: $(cat "$work/resumed.err")"; fi
if grep -q "users: done, read 1500" "$work/resumed"; then ok "the resumed run starts at the checkpoint (reads the last 1500 users)"; else not_ok "resumed run: $(cat "$work/resumed")"; fi
a=$(fingerprint "$db")
b=$(fingerprint "$killed_db")
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "killed and resumed: the same rows and problems as the uninterrupted run"; else not_ok "fingerprints differ: $a $b"; fi

# 3b. SIGTERM stops the run after the batch being written commits. The gate: the insert of user 1500 waits for an
# advisory lock the test holds (in a psql coprocess) until it has sent the signal.
psql -X -q -d "$term_db" -o /dev/null -c "CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END \$\$;
  CREATE TRIGGER gate BEFORE INSERT ON users FOR EACH ROW WHEN (NEW.legacy_object_id = '$(late user1500)') EXECUTE FUNCTION gate();"
coproc GATE { psql -X -q -At -d "$term_db"; }
echo "SELECT pg_advisory_lock(4242); SELECT 'locked';" >&"${GATE[1]}"
line=
while [ "$line" != locked ] && read -r -t 30 line <&"${GATE[0]}"; do :; done
"$MIGRATE_BINARY" backfill "$mapping" --source "$mongo_uri" --target "dbname=$term_db" --batch 500 >"$work/term.out" 2>"$work/term.err" &
backfill_pid=$!
gated() { [ "$(psql -X -At -d "$term_db" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"public\".\"users\"%'" 2>/dev/null)" = 1 ]; }
if [ "$line" = locked ] && poll_until 30 gated; then
	if "$MIGRATE_BINARY" backfill "$mapping" --source "$mongo_uri" --target "dbname=$term_db" >/dev/null 2>"$work/second.err"; then
		not_ok "a second backfill of the same mapping runs alongside the first"
	elif grep -q 'another backfill of mapping "backfill_test" is running' "$work/second.err"; then
		ok "a second backfill of the same mapping is refused while one runs"
	else
		not_ok "second backfill: $(cat "$work/second.err")"
	fi
	kill -TERM "$backfill_pid"
	echo "SELECT pg_advisory_unlock(4242);" >&"${GATE[1]}"
	status=0
	wait "$backfill_pid" || status=$?
	backfill_pid=
	got=$(psql -X -At -d "$term_db" -c "SELECT documents || ' ' || done FROM mosta_migration.checkpoints WHERE collection = 'users'")
	if [ "$status" = 1 ] && grep -q "stopped by a signal" "$work/term.out" && [ "$got" = "2000 false" ]; then
		ok "SIGTERM: the batch in flight commits, then the run stops (exit 1, checkpoint 2000)"
	else
		not_ok "SIGTERM: status $status, checkpoint '$got': $(cat "$work/term.out" "$work/term.err")"
	fi
else
	not_ok "SIGTERM: the run did not reach the gate ($line): $(cat "$work/term.err")"
fi
eval "exec ${GATE[1]}>&-" # closing psql's input ends it
wait "$GATE_PID" 2>/dev/null
GATE_PID=
if "$MIGRATE_BINARY" backfill "$mapping" --source "$mongo_uri" --target "dbname=$term_db" >/dev/null 2>"$work/term2.err" &&
	[ "$(fingerprint "$term_db")" = "$(fingerprint "$db")" ]; then
	ok "after SIGTERM the next run completes, identical to the uninterrupted run"
else
	not_ok "after SIGTERM: $(cat "$work/term2.err")"
fi

# 4. a rerun changes nothing: done collections are skipped; --again reads everything and touches no tuple
before=$(tuples)
if migrate backfill --batch 500 >"$work/out2" && grep -q "users: done before" "$work/out2"; then ok "a rerun skips the collections done"; else not_ok "rerun: $(cat "$work/out2")"; fi
if migrate backfill --batch 700 --again >"$work/out3" && grep -q "payments: done, read 2000, applied 0, unchanged 1996, missing parent 3, rejected 1" "$work/out3"; then
	ok "--again reads everything again: nothing applied, all unchanged"
else
	not_ok "--again: $(cat "$work/out3" "$work/migrate.backfill.err")"
fi
after=$(tuples)
if [ -n "$before" ] && [ "$before" = "$after" ]; then ok "--again touches no tuple (ctid and xmin of every row unchanged)"; else not_ok "tuples changed: $before $after"; fi
got=$(scalar "SELECT min(attempts) FROM mosta_migration.problems WHERE kind = 'missing_parent'")
if [ "$got" -ge 3 ]; then ok "problems seen again count their attempts ($got)"; else not_ok "attempts: $got"; fi

# 5. the parent arrives: the documents held back are applied by the next run
mongo_run 'db.users.insert_one({"_id": ObjectId(sys.argv[2]), "createdAt": datetime.datetime(2024, 6, 1)})' "$(late late)" 2>"$work/late.err" || not_ok "inserting the late user: $(cat "$work/late.err")"
if migrate backfill --again --collections users >"$work/out4"; then ok "backfill --again --collections users exits 0"; else not_ok "backfill users: $(cat "$work/migrate.backfill.err")"; fi
got=$(scalar "SELECT (SELECT count(*) FROM payments) || ' ' || (SELECT count(*) FROM mosta_migration.problems WHERE kind = 'missing_parent')")
if [ "$got" = "1999 0" ]; then ok "the held-back payments are applied once their buyer exists, their problems cleared"; else not_ok "payments, missing parents: '$got' ($(cat "$work/out4"))"; fi

# 5b. the Applier's unit tests against PostgreSQL (test/cpp/migrate/apply_pg_test.cpp; they skip without a server)
tests_binary=${MOSTA_MIGRATE_TESTS_BIN:-build/test/cpp/migrate/migrate_tests}
if [ ! -x "$tests_binary" ]; then
	ok "# SKIP $tests_binary not built"
elif MOSTA_MIGRATE_TEST_CONNINFO="dbname=$killed_db" "$tests_binary" --gtest_filter='ApplyPg.*' >"$work/apply_pg.out" 2>&1 &&
	grep -q "PASSED.* 8 tests" "$work/apply_pg.out"; then
	ok "the Applier's tests against PostgreSQL pass (8)"
else
	not_ok "apply_pg_test: $(tail -30 "$work/apply_pg.out")"
fi

# 6. the shop data set (test/integration/migrate) through its mapping and `schema --apply`: every document of every
# collection and every element of every child table arrives, nothing held back or rejected
mapping=test/integration/migrate/shop.mapping.json
mongo_uri=${mongo_uri%/backfill}/shop
db=$shop_db
load_shop --orphans 0
if psql_db -o /dev/null -c "CREATE EXTENSION mostajs" && migrate schema --apply >/dev/null; then ok "shop: schema --apply"; else not_ok "shop: schema --apply: $(cat "$work/migrate.schema.err")"; fi
if migrate backfill --batch 300 >"$work/shop.out"; then ok "shop: backfill exits 0"; else not_ok "shop: backfill: $(cat "$work/migrate.backfill.err")"; fi
differences=
while read -r collection table; do
	[ "$(scalar "SELECT count(*) FROM $table")" = "$(shop_count "$collection")" ] || differences+=" $collection→$table:$(scalar "SELECT count(*) FROM $table")/$(shop_count "$collection")"
done < <("$python" -c 'import json, sys
for c in json.load(open(sys.argv[1]))["collections"]: print(c["collection"], c.get("table", c["collection"]))' "$mapping")
while read -r table; do
	[ "$(scalar "SELECT count(*) FROM $table")" = "$(shop_child_rows "$table")" ] || differences+=" $table:$(scalar "SELECT count(*) FROM $table")/$(shop_child_rows "$table")"
done < <("$python" -c 'import json, sys
for c in json.load(open(sys.argv[1]))["collections"]:
    for f in c["fields"]:
        if "child_table" in f: print(f["child_table"]["table"])' "$mapping")
problems=$(scalar "SELECT count(*) FROM mosta_migration.problems")
if [ -z "$differences" ] && [ "$problems" = 0 ]; then ok "shop: rows per table and child table equal MongoDB's documents and elements"; else not_ok "shop: differences:$differences; problems $problems: $(scalar "SELECT string_agg(collection || ' ' || legacy_id || ' ' || field || ' ' || message, E'\n') FROM (SELECT * FROM mosta_migration.problems LIMIT 5) p")"; fi

finish
