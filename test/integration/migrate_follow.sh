#!/usr/bin/env bash
# migrate_follow.sh: the change-stream catch-up and the cutover (docs/migration.md, "Catch-up and cutover"), on the
# shop data set in mosta-test-mongod. follow before any backfill is refused; backfill runs while shop_data.py's writer
# inserts, updates, replaces and deletes; a follower started after it is killed with -9 mid-stream and restarted;
# once the writer has stopped, `follow --until-caught-up` exits 0 and every collection is equal in both stores (the
# same legacy ids, the mapped scalar values and references of every document, as many child rows per parent as
# array elements: nothing lost, nothing doubled). A child that arrives before its parent is held back, then applied
# when the parent arrives in a later batch; a document whose _id has no legacy id form is a problem, not a stop.
# Then: a second follower refused while one runs, a cutover with a running follower (it drains, sets
# stopped_at, both exit 0), follow refused after the cutover, --reset-cutover follows again, a cutover with no
# follower (refused without --source, drains itself with it), a dropped collection stopping the catch-up, and a
# position the oplog no longer holds (ChangeStreamHistoryLost) failing with the way out, which then works: backfill
# --again records a new start and follow --until-caught-up leaves the stores equal. A position moved under a
# running follower stops it; the cutover that follows replays every change from the start, and the stores are still
# equal (replay is idempotent).
# Prints "migrate_follow: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init migrate_follow
require_cluster

# lib/tap.sh: $db, $work, psql_db, scalar, the exit trap (which calls cleanup_extra)
use_database mosta_migrate_follow_$$
# shellcheck source=lib/migrate.sh
source test/integration/lib/migrate.sh
require_migrate
follower=
cleanup_extra() {
	[ -n "$follower" ] && kill -9 "$follower" 2>/dev/null && wait "$follower" 2>/dev/null
	migrate_cleanup
}

start_shop_mongo
load_shop --scale 0.2
psql_db -c "CREATE EXTENSION mostajs" || fail_setup "CREATE EXTENSION mostajs"
migrate schema --apply >/dev/null || fail_setup "mosta-migrate schema --apply: $(cat "$work/migrate.schema.err")"

# start_follower LABEL: a follower in the background (pid in follower, stderr in $work/follow.LABEL.err)
start_follower() {
	"$MIGRATE_BINARY" follow "$mapping" --source "$mongo_uri" --target "dbname=$db" --batch-ms 50 \
		>"$work/follow.$1.out" 2>"$work/follow.$1.err" &
	follower=$!
}
applied() { scalar "SELECT applied FROM mosta_migration.stream WHERE mapping = 'shop'"; }
applied_above() { [ "$(applied)" -gt "$1" ] 2>/dev/null; }
follower_gone() { ! kill -0 "$follower" 2>/dev/null; }

# compare: every mapped collection of MongoDB against its table (legacy ids, scalar columns, references by their
# legacy id, child rows per parent); prints the differences (at most 10) and fails when there is any.
compare() {
	"$python" - "${mongo_uri%/shop}/" "$mapping" "$db" <<'PY'
import json, subprocess, sys
from decimal import Decimal
import pymongo
from bson import ObjectId, Decimal128, Int64

uri, mapping_path, dbname = sys.argv[1:4]
mapping = json.load(open(mapping_path))
mongo = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)[mapping["source"]["database"]]
by_name = {c["collection"]: c for c in mapping["collections"]}
scalar_types = ("text", "integer", "bigint", "smallint", "boolean")

def q(name):
    return '"' + name + '"'

def legacy(value):
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, (int, Int64)) and not isinstance(value, bool):
        return str(int(value))
    return value

def at(doc, path):
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc

def mongo_value(field, doc):
    value = at(doc, field["path"])
    if "child_table" in field:
        return len(value) if isinstance(value, list) else 0
    if "references" in field:
        return legacy(value) if value is not None else None
    if value is None:
        return None
    if field["type"].startswith("numeric"):
        return Decimal(str(value.to_decimal() if isinstance(value, Decimal128) else value)).normalize()
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Int64):
        return int(value)
    return value

def pg_rows(collection):
    table, ident = q(collection["table"]), q(collection["id"].get("column", "id"))
    columns = ["t." + q(collection["id"].get("legacy_column", "legacy_object_id"))]
    fields = []
    for field in collection["fields"]:
        if "child_table" in field:
            child = field["child_table"]
            columns.append("(SELECT count(*) FROM %s c WHERE c.%s = t.%s)" % (
                q(child["table"]), q(child.get("parent_column", "parent_id")), ident))
        elif "references" in field and "column" in field:
            columns.append("(SELECT legacy_id FROM mosta.id_map m WHERE m.collection = '%s' AND m.new_id = t.%s)" % (
                field["references"], q(field["column"])))
        elif "column" in field and (field["type"] in scalar_types or field["type"].startswith("numeric")):
            columns.append("t." + q(field["column"]))
        else:
            continue
        fields.append(field)
    sql = "SELECT coalesce(json_agg(json_build_array(%s)), '[]') FROM %s t" % (", ".join(columns), table)
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    rows = {}
    for row in json.loads(out, parse_float=Decimal):
        values = []
        for field, value in zip(fields, row[1:]):
            if value is not None and "column" in field and field.get("type", "").startswith("numeric"):
                value = Decimal(value).normalize()
            values.append(value)
        rows[row[0]] = values
    return fields, rows

differences = []
for collection in mapping["collections"]:
    fields, rows = pg_rows(collection)
    docs = {legacy(d["_id"]): d for d in mongo[collection["collection"]].find()}
    name = collection["collection"]
    for key in sorted(set(docs) - set(rows)):
        differences.append(f"{name} {key}: in MongoDB, not in PostgreSQL")
    for key in sorted(set(rows) - set(docs)):
        differences.append(f"{name} {key}: in PostgreSQL, not in MongoDB")
    for key in sorted(set(docs) & set(rows)):
        for field, pg in zip(fields, rows[key]):
            want = mongo_value(field, docs[key])
            if want != pg:
                differences.append(f"{name} {key} {field['path']}: MongoDB {want!r}, PostgreSQL {pg!r}")
    print(f"# {name}: {len(docs)} documents, {len(rows)} rows")
for line in differences[:10]:
    print("# " + line)
sys.exit(1 if differences else 0)
PY
}

# 1. follow needs the position backfill records
if migrate follow --until-caught-up >/dev/null; then
	not_ok "follow before backfill is refused"
elif grep -q "backfill" "$work/migrate.follow.err"; then
	ok "follow before backfill is refused, naming backfill"
else
	not_ok "follow before backfill: $(cat "$work/migrate.follow.err")"
fi

# 2. backfill while the writer writes, a follower killed with -9 mid-stream, then caught up
start_shop_writer 60 --ops 800 --rate 200
if migrate backfill >/dev/null; then ok "backfill under concurrent writes exits 0"; else
	not_ok "backfill exits 0: $(tail -5 "$work/migrate.backfill.err")"
fi
start_token=$(scalar "SELECT start_token FROM mosta_migration.stream WHERE mapping = 'shop'")
if [ -n "$start_token" ]; then ok "backfill recorded the change-stream start ($start_token)"; else
	not_ok "no stream row after backfill"
fi

start_follower 1
if poll_until 30 applied_above 0; then
	kill -9 "$follower"
	wait "$follower" 2>/dev/null
	follower=
	ok "follower killed with -9 mid-stream (after $(applied) events$(kill -0 "$writer_pid" 2>/dev/null && echo ", the writer still writing"))"
else
	not_ok "the follower applied nothing within 30 s: $(tail -5 "$work/follow.1.err")"
fi
start_follower 2
if wait_shop_writer; then ok "the writer made $(writer_value 's["operations"]') writes without an error"; else
	not_ok "the writer failed"
fi
before=$(applied)
kill -TERM "$follower"
if poll_until 30 follower_gone && wait "$follower"; then ok "the restarted follower stops at SIGTERM with status 0"; else
	not_ok "the restarted follower at SIGTERM: $(tail -5 "$work/follow.2.err")"
fi
follower=
if migrate follow --until-caught-up >"$work/caught_up.out"; then
	ok "follow --until-caught-up exits 0: $(cat "$work/caught_up.out")"
else
	not_ok "follow --until-caught-up: $(tail -5 "$work/migrate.follow.err")"
fi
if [ "$(applied)" -ge "$before" ]; then ok "the applied count never goes back"; else not_ok "applied $before → $(applied)"; fi
if compare; then ok "after the catch-up every collection is equal (keys, values, child rows)"; else
	not_ok "MongoDB and PostgreSQL differ after the catch-up"
fi
if migrate verify >"$work/verify.out"; then ok "mosta-migrate verify is green after the catch-up"; else
	not_ok "verify after the catch-up: $(tail -15 "$work/verify.out" "$work/migrate.verify.err")"
fi
problems=$(scalar "SELECT count(*) FROM mosta_migration.problems WHERE mapping = 'shop'")
if [ "$problems" = 0 ]; then ok "no problem left (missing parents were retried)"; else
	not_ok "$problems problems left: $(scalar "SELECT string_agg(collection || ' ' || legacy_id || ' ' || message, '; ') FROM mosta_migration.problems")"
fi

# 2b. a child that arrives before its parent is held back, then applied once the parent arrives (in another batch)
mongo_py '
import datetime
now = datetime.datetime.now(datetime.timezone.utc)
db.funds_ledger.insert_one({"_id": ObjectId("65f000000000000000000001"), "userId": db.users.find_one()["_id"],
    "paymentId": ObjectId("65f000000000000000000002"), "kind": "credit", "amount": Decimal128("1.5"),
    "currency": "EUR", "createdAt": now})' || not_ok "inserting an orphan ledger entry"
held() { scalar "SELECT count(*) FROM mosta_migration.problems WHERE kind = 'missing_parent' AND legacy_id = '65f000000000000000000001'"; }
if migrate follow --until-caught-up >/dev/null && [ "$(held)" = 1 ]; then
	ok "a ledger entry whose payment is not there yet is held back as a missing parent"
else
	not_ok "the orphan ledger entry: held $(held); $(tail -3 "$work/migrate.follow.err")"
fi
mongo_py '
import datetime
now = datetime.datetime.now(datetime.timezone.utc)
db.payments.insert_one({"_id": ObjectId("65f000000000000000000002"), "buyerId": db.users.find_one()["_id"],
    "amount": {"value": Decimal128("1.5"), "currency": "EUR"}, "provider": "other", "direction": "in",
    "status": "completed", "items": [], "createdAt": now})' || not_ok "inserting the missing payment"
ledger_payment() { scalar "SELECT mosta_legacy_id('payments', payment_id) FROM funds_ledger_entries WHERE legacy_object_id = '65f000000000000000000001'"; }
if migrate follow --until-caught-up >/dev/null && [ "$(held)" = 0 ] &&
	[ "$(ledger_payment)" = 65f000000000000000000002 ]; then
	ok "once its payment arrives the held-back entry is read again and applied, referencing it"
else
	not_ok "the held-back entry after its parent: held $(held), payment '$(ledger_payment)'"
fi

# 2c. a document whose _id has no legacy id form (a double) is a 'rejected' problem, not a stop; its delete clears it
bad_id() { scalar "SELECT count(*) FROM mosta_migration.problems WHERE kind = 'rejected' AND field = '_id' AND legacy_id LIKE '%2.5%'"; }
mongo_py 'db.templates.insert_one({"_id": 2.5, "slug": "bad-id"})' || not_ok "inserting a document with a double _id"
if migrate follow --until-caught-up >/dev/null && [ "$(bad_id)" = 1 ]; then
	ok "a document whose _id is a double is recorded as rejected, and follow goes on"
else
	not_ok "a double _id: problems $(bad_id); $(tail -3 "$work/migrate.follow.err")"
fi
mongo_py 'db.templates.delete_one({"_id": 2.5})' || not_ok "deleting the document with a double _id"
if migrate follow --until-caught-up >/dev/null && [ "$(bad_id)" = 0 ]; then
	ok "its delete clears the problem"
else
	not_ok "after deleting the double _id: problems $(bad_id)"
fi

# 3. cutover with a running follower
start_follower 3
follower_locked() { grep -qs "following database" "$work/follow.3.err"; }
poll_until 30 follower_locked || not_ok "the third follower did not start: $(cat "$work/follow.3.err")"
if migrate follow --until-caught-up >/dev/null; then
	not_ok "a second follower of the same mapping is refused"
elif grep -q "another follower of mapping shop is running" "$work/migrate.follow.err"; then
	ok "a second follower of the same mapping is refused"
else
	not_ok "a second follower: $(cat "$work/migrate.follow.err")"
fi
start_shop_writer 30 --ops 150 --seed 17
wait_shop_writer || not_ok "the second writer failed"
if migrate cutover --timeout 30 >"$work/cutover.out"; then
	ok "cutover with a running follower exits 0: $(tail -1 "$work/cutover.out")"
else
	not_ok "cutover: $(cat "$work/cutover.out" "$work/migrate.cutover.err")"
fi
if poll_until 30 follower_gone && wait "$follower"; then ok "the follower drained and exited 0"; else
	not_ok "the follower after the cutover: $(tail -5 "$work/follow.3.err")"
fi
follower=
if grep -q "stopped for the cutover" "$work/follow.3.out"; then ok "the follower says it stopped for the cutover"; else
	not_ok "follower output: $(cat "$work/follow.3.out")"
fi
if [ "$(scalar "SELECT stopped_at IS NOT NULL FROM mosta_migration.stream WHERE mapping = 'shop'")" = t ]; then
	ok "stopped_at is set"
else
	not_ok "stopped_at is not set"
fi
if compare; then ok "after the cutover every collection is equal"; else not_ok "the stores differ after the cutover"; fi

# 4. follow is refused after the cutover; --reset-cutover follows again
if migrate follow --until-caught-up >/dev/null; then
	not_ok "follow after the cutover is refused"
elif grep -q "cutover of mapping shop happened at" "$work/migrate.follow.err" &&
	grep -q -- "--reset-cutover" "$work/migrate.follow.err"; then
	ok "follow after the cutover is refused, naming its time and --reset-cutover"
else
	not_ok "follow after the cutover: $(cat "$work/migrate.follow.err")"
fi
mongo_py 'db.users.update_one({}, {"$set": {"email": "after-cutover@shop.test"}}); db.chats.delete_one({})' ||
	not_ok "writes after the cutover"
if migrate follow --reset-cutover --until-caught-up >/dev/null && compare; then
	ok "follow --reset-cutover follows again and catches up"
else
	not_ok "follow --reset-cutover: $(tail -5 "$work/migrate.follow.err")"
fi

# 4b. a position moved under a running follower (another process wrote it) stops it without applying; following
# again from there (here: back to the start) replays every change idempotently
start_follower 4
follower_started() { grep -qs "following database" "$work/follow.4.err"; }
poll_until 30 follower_started || not_ok "the fourth follower did not start: $(cat "$work/follow.4.err")"
psql_db -c "UPDATE mosta_migration.stream SET resume_token = start_token WHERE mapping = 'shop'" >/dev/null
if poll_until 30 follower_gone && ! wait "$follower" && grep -q "moved under this follower" "$work/follow.4.err"; then
	ok "a follower whose position another process moved stops with status 1, saying so"
else
	not_ok "a moved position: $(tail -3 "$work/follow.4.err")"
fi
follower=

# 5. cutover with no follower running: it drains itself, given --source
if migrate cutover --timeout 5 >/dev/null; then
	not_ok "cutover without a follower nor --source is refused"
elif grep -q -- "--source" "$work/migrate.cutover.err"; then
	ok "cutover without a follower nor --source is refused, naming --source"
else
	not_ok "cutover without a follower: $(cat "$work/migrate.cutover.err")"
fi
mongo_py 'db.offers.update_one({}, {"$set": {"title": "drained by cutover"}})' || not_ok "a write before the cutover"
if migrate cutover --timeout 30 --source "$mongo_uri" >"$work/cutover2.out" && grep -q "done at" "$work/cutover2.out" &&
	compare; then
	ok "cutover without a follower drains itself (replaying from the start): $(tail -1 "$work/cutover2.out")"
else
	not_ok "cutover draining itself: $(cat "$work/cutover2.out" "$work/migrate.cutover.err")"
fi

# 6. a dropped mapped collection stops the catch-up with what to do (its documents are kept for step 8's restore)
mongo_py "from bson import json_util
open('$work/templates.json', 'w').write(json_util.dumps(list(db.templates.find())))" || not_ok "saving templates"
mongo_py 'db.templates.drop()' || not_ok "dropping templates"
if migrate follow --reset-cutover --until-caught-up >/dev/null; then
	not_ok "follow stops at the drop of a mapped collection"
elif grep -q "templates was dropped" "$work/migrate.follow.err"; then
	ok "follow stops at the drop of a mapped collection, saying so"
else
	not_ok "follow at a drop: $(cat "$work/migrate.follow.err")"
fi

# 7. a position the oplog no longer holds fails loudly, applying nothing, and says to backfill again
psql_db -c "UPDATE mosta_migration.stream SET resume_token = '{\"_data\": \"00000000FFFFFFFF\"}'" >/dev/null
before=$(applied)
if migrate follow --until-caught-up >/dev/null; then
	not_ok "follow from a position the oplog no longer holds fails"
elif grep -q "ChangeStreamHistoryLost\|no longer" "$work/migrate.follow.err" && grep -q -- "--again" "$work/migrate.follow.err" &&
	[ "$(applied)" = "$before" ]; then
	ok "follow from a lost position fails, applies nothing and says to backfill again"
else
	not_ok "follow from a lost position: $(cat "$work/migrate.follow.err")"
fi

# 8. the way out of a lost history: writes follow cannot see (the dropped collection restored, an update), then
# backfill --again over every collection records a new start position before it reads, and follow catches up from it
old_start=$(scalar "SELECT start_token FROM mosta_migration.stream WHERE mapping = 'shop'")
mongo_py "from bson import json_util
db.templates.insert_many(json_util.loads(open('$work/templates.json').read()))
db.offers.update_one({}, {'\$set': {'title': 'written while the history was lost'}})" ||
	not_ok "writes while the history was lost"
if migrate backfill --again >"$work/again.out" && grep -q "new start position recorded" "$work/again.out" &&
	[ "$(scalar "SELECT start_token FROM mosta_migration.stream WHERE mapping = 'shop'")" != "$old_start" ]; then
	ok "backfill --again over every collection exits 0 and records a new change-stream start"
else
	not_ok "backfill --again after a lost history: $(cat "$work/again.out" "$work/migrate.backfill.err")"
fi
mongo_py 'db.users.update_one({}, {"$set": {"email": "after-the-new-start@example.com"}})' ||
	not_ok "a write after the new start"
if migrate follow --until-caught-up >"$work/after_again.out" && compare; then
	ok "then follow --until-caught-up exits 0 and every collection is equal: $(cat "$work/after_again.out")"
else
	not_ok "follow after backfill --again: $(tail -5 "$work/migrate.follow.err")"
fi
if migrate backfill --again --collections offers >"$work/again_some.out" &&
	grep -q "start position kept" "$work/again_some.out"; then
	ok "backfill --again --collections keeps the start position, saying so"
else
	not_ok "backfill --again --collections: $(cat "$work/again_some.out" "$work/migrate.backfill.err")"
fi

finish
