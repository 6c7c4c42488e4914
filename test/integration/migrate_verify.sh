#!/usr/bin/env bash
# migrate_verify.sh: `mosta-migrate verify` and `shadow` (docs/migration.md, "Verify" and "Shadow reads"). The shop
# data set (test/integration/migrate/shop_data.py) in mosta-test-mongod, backfilled with its mapping. Shows: verify
# exits 0 with every count, relationship count, checksum and sum equal; one payment's amount changed and one child
# row (payment_items) deleted in PostgreSQL make verify exit 1 naming both keys, the column and the two values, and
# the payments sums differ; the shadow sampler checking those keys (--keys) counts two mismatches, writes an activity
# row per key (column names and lengths, no values) and a metrics file promtool accepts, showing the mismatches and
# the clean window; a random sampling round of a clean collection (mosta-test-mongod has no $sample: random skips)
# finds nothing; once repaired, verify exits 0 again. Prints "migrate_verify: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/migrate.sh
source test/integration/lib/migrate.sh
tap_init migrate_verify
require_cluster
require_migrate
command -v promtool >/dev/null || fail_setup "promtool not found (Debian package prometheus: scripts/install-deps)"

use_database mosta_migrate_verify_$$
cleanup_extra() { migrate_cleanup; }
# shop_py CODE [ARG...]: Python CODE with db (the shop database, pymongo), sys.argv[2:] = ARGs
shop_py() {
	local code=$1
	shift
	"$python" -c "import sys, pymongo
from bson import ObjectId
db = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)['shop']
$code" "${mongo_uri%/shop}/" "$@"
}

start_shop_mongo
load_shop --scale 0.5
psql_db -o /dev/null -c "CREATE EXTENSION mostajs" || fail_setup "CREATE EXTENSION"
migrate schema --apply >/dev/null || fail_setup "schema --apply: $(cat "$work/migrate.schema.err")"
migrate backfill >"$work/backfill.out" || fail_setup "backfill: $(cat "$work/migrate.backfill.err")"

# 1. everything equal
if migrate verify >"$work/verify1.out"; then ok "verify exits 0 after the backfill"; else not_ok "verify exits 0: $(cat "$work/verify1.out" "$work/migrate.verify.err")"; fi
grep -q "^verify: everything matches" "$work/verify1.out" && ! grep -q DIFFERS "$work/verify1.out" &&
	ok "verify: every count, relationship, checksum and sum is ok" || not_ok "verify output: $(cat "$work/verify1.out")"
payments=$(shop_count payments)
grep -Eq "^  +payments +payments +$payments +$payments +[0-9]+ +ok" "$work/verify1.out" &&
	ok "verify counts $payments payments on both sides" || not_ok "payments count line: $(grep payments "$work/verify1.out")"
for line in "payments.buyer_id → users" "payments.purchase_request \(template\) → external reference" "payments.purchase_request \(entity\) → purchase_requests" "payments.items\[\] → payment_items" \
	"purchase_requests.offers\[\] → purchase_request_offers"; do
	grep -Eq "^  +$line +([0-9]+) +\1 +ok" "$work/verify1.out" && ok "relationship $line compared" ||
		not_ok "relationship $line: $(grep -F "${line//\\/}" "$work/verify1.out")"
done
grep -Eq "^  +payment_items +([0-9]+) +\1 +[0-9a-f]{16} +[0-9a-f]{16} +ok" "$work/verify1.out" &&
	ok "checksum of the child table payment_items equal" || not_ok "payment_items checksum: $(grep payment_items "$work/verify1.out")"
grep -Eq "^  +funds_ledger_entries.amount +currency=[A-Z]+ .* ok" "$work/verify1.out" && ok "sums compared per group" ||
	not_ok "sums: $(sed -n '/^sums/,$p' "$work/verify1.out")"

# 2. corrupt one amount and delete one child row
paid=$(scalar "SELECT legacy_object_id FROM payments ORDER BY legacy_object_id LIMIT 1")
amount=$(scalar "SELECT amount FROM payments WHERE legacy_object_id = '$paid'")
item_parent=$(scalar "SELECT p.legacy_object_id FROM payments p JOIN payment_items i ON i.payment_id = p.id
  WHERE p.legacy_object_id <> '$paid' ORDER BY 1 LIMIT 1")
psql_db -o /dev/null -c "CREATE TABLE saved_item AS SELECT i.* FROM payment_items i JOIN payments p ON p.id = i.payment_id
  WHERE p.legacy_object_id = '$item_parent' AND i.position = 0;
  DELETE FROM payment_items i USING payments p WHERE p.id = i.payment_id AND p.legacy_object_id = '$item_parent' AND i.position = 0;
  UPDATE payments SET amount = amount + 1 WHERE legacy_object_id = '$paid'" || fail_setup "corrupting"

migrate verify --show 5 >"$work/verify2.out"
status=$?
[ "$status" -eq 1 ] && ok "verify exits 1 on a difference" || not_ok "verify exit status $status: $(cat "$work/verify2.out" "$work/migrate.verify.err")"
expected_amount=$(scalar "SELECT mosta.canonical_text('$amount'::numeric(38,18))")
changed_amount=$(scalar "SELECT mosta.canonical_text(amount) FROM payments WHERE legacy_object_id = '$paid'")
grep -Fq "key $paid: column amount: mongodb \"$expected_amount\", postgresql \"$changed_amount\"" "$work/verify2.out" &&
	ok "verify names the key, the column and both values" || not_ok "amount difference: $(cat "$work/verify2.out")"
grep -Fq "key $item_parent,0: missing in PostgreSQL" "$work/verify2.out" && ok "verify names the deleted child row" ||
	not_ok "deleted child row: $(cat "$work/verify2.out")"
grep -Eq "^  +payments\.amount +status=.* DIFFERS" "$work/verify2.out" && ok "the changed amount shows in the sums" ||
	not_ok "sums: $(sed -n '/^sums/,$p' "$work/verify2.out")"
grep -Eq "^  +payments\.items\[\] → payment_items +([0-9]+) +[0-9]+ +DIFFERS" "$work/verify2.out" &&
	ok "the child rows' count differs" || not_ok "child count: $(grep 'payment_items' "$work/verify2.out")"

# 3. the shadow sampler finds both
metrics=$work/shadow.prom
migrate shadow --keys "payments:$paid,payments:$item_parent" --recheck-ms 0 --metrics-file "$metrics" >"$work/shadow1.out"
status=$?
[ "$status" -eq 1 ] && ok "shadow --keys exits 1 on a mismatch" || not_ok "shadow exit status $status: $(cat "$work/shadow1.out" "$work/migrate.shadow.err")"
grep -Fq "mismatch payments:$paid: payments.amount under key $paid differs" "$work/shadow1.out" &&
	ok "shadow prints the mismatching column" || not_ok "shadow output: $(cat "$work/shadow1.out")"
[ "$(scalar "SELECT checked || '/' || mismatches || '/' || errors || '/' || (last_mismatch_key IS NOT NULL) FROM mosta_migration.shadow WHERE mapping = 'shop' AND collection = 'payments'")" = "2/2/0/true" ] &&
	ok "mosta_migration.shadow counts 2 checked, 2 mismatches" || not_ok "shadow row: $(scalar "SELECT s::text FROM mosta_migration.shadow s")"
detail=$(scalar "SELECT detail FROM mosta.activity WHERE action = 'migration_shadow_mismatch' AND object = 'payments:$paid'")
[[ "$detail" == *'"column": "amount"'* && "$detail" == *'"mongodb_length"'* && "$detail" != *"$changed_amount"* ]] &&
	ok "an activity row names the column and lengths, not the values" || not_ok "activity detail: $detail"
[[ "$(scalar "SELECT detail FROM mosta.activity WHERE action = 'migration_shadow_mismatch' AND object = 'payments:$item_parent'")" == *'"what": "missing in PostgreSQL"'* ]] &&
	ok "the deleted child row is an activity row too" || not_ok "activity rows: $(scalar "SELECT string_agg(object || ' ' || detail::text, E'\n') FROM mosta.activity")"
if promtool check metrics <"$metrics" >"$work/promtool.out" 2>&1; then ok "promtool accepts the metrics file"; else not_ok "promtool: $(cat "$work/promtool.out")"; fi
grep -Eq '^mosta_migrate_shadow_mismatches_total\{mapping="shop",collection="payments"\} 2$' "$metrics" &&
	grep -Eq '^mosta_migrate_shadow_clean_window_seconds\{mapping="shop",collection="payments"\} [0-9.]+$' "$metrics" &&
	ok "the metrics show the mismatches and the clean window" || not_ok "metrics: $(cat "$metrics")"

# a random round over a clean collection: sampled by random skips, nothing found
migrate shadow --collections users --samples-per-round 15 --duration 0 --metrics-file "$metrics" >"$work/shadow2.out"
status=$?
[ "$status" -eq 0 ] && grep -Eq "shadow shop: 15 key\(s\) checked in 1 round\(s\): 0 mismatch" "$work/shadow2.out" &&
	ok "a random round over users checks 15 keys and finds nothing" || not_ok "shadow users ($status): $(cat "$work/shadow2.out" "$work/migrate.shadow.err")"

# 4. a document deleted in MongoDB: a row PostgreSQL holds alone, for verify and for the sampler
chat=$(shop_py 'import bson
d = db.chats.find_one({"messages.0": {"$exists": True}}, sort=[("_id", 1)])
open(sys.argv[2], "wb").write(bson.encode(d))
db.chats.delete_one({"_id": d["_id"]})
print(d["_id"])' "$work/chat.bson")
[ -n "$chat" ] || fail_setup "deleting a chat in MongoDB"
migrate verify --collections chats >"$work/verify4.out"
status=$?
[ "$status" -eq 1 ] && grep -Fq "key $chat: in PostgreSQL only (no such document in MongoDB)" "$work/verify4.out" &&
	grep -Fq "key $chat,0: in PostgreSQL only" "$work/verify4.out" &&
	ok "verify names a row (and its child rows) whose document is gone" || not_ok "deleted document ($status): $(cat "$work/verify4.out")"
migrate shadow --keys "chats:$chat" --recheck-ms 0 >"$work/shadow3.out"
[ $? -eq 1 ] && grep -Fq "mismatch chats:$chat: chats row $chat: missing in MongoDB" "$work/shadow3.out" &&
	ok "shadow: a document missing in MongoDB is a mismatch" || not_ok "shadow deleted document: $(cat "$work/shadow3.out" "$work/migrate.shadow.err")"
shop_py 'import bson
db.chats.insert_one(bson.decode(open(sys.argv[2], "rb").read()))' "$work/chat.bson" || fail_setup "restoring the chat"

# 5. a document backfill held back: the count differs, and the recorded problem is named next to it
orphan=$(shop_py 'import datetime
from bson import Decimal128
u = db.users.find_one(sort=[("_id", 1)])
r = db.funds_ledger.insert_one({"userId": u["_id"], "paymentId": ObjectId("0123456789abcdef01234567"), "kind": "credit",
  "amount": Decimal128("1.5"), "currency": "EUR", "createdAt": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)})
print(r.inserted_id)')
migrate backfill --again --collections funds_ledger >/dev/null || fail_setup "backfill of the orphan: $(cat "$work/migrate.backfill.err")"
migrate verify --collections funds_ledger >"$work/verify5.out"
status=$?
[ "$status" -eq 1 ] && grep -Eq "^  +funds_ledger +funds_ledger_entries +([0-9]+) +[0-9]+ +1 +DIFFERS \(1 recorded problem" "$work/verify5.out" &&
	grep -Fq "key $orphan: missing in PostgreSQL" "$work/verify5.out" &&
	ok "a held-back document is still a difference, with its recorded problem beside it" || not_ok "held back ($status): $(cat "$work/verify5.out")"
shop_py 'db.funds_ledger.delete_one({"_id": ObjectId(sys.argv[2])})' "$orphan" || fail_setup "deleting the orphan"

# 6. repaired: verify is green again
psql_db -o /dev/null -c "INSERT INTO payment_items SELECT * FROM saved_item; DROP TABLE saved_item;
  UPDATE payments SET amount = '$amount' WHERE legacy_object_id = '$paid'" || fail_setup "repairing"
if migrate verify >"$work/verify3.out" && grep -q "^verify: everything matches" "$work/verify3.out"; then
	ok "verify exits 0 once repaired"
else
	not_ok "verify after the repair: $(cat "$work/verify3.out" "$work/migrate.verify.err")"
fi
if migrate verify --collections nosuch >/dev/null; then not_ok "an unknown collection is refused"; else
	grep -q 'the mapping has no collection "nosuch"' "$work/migrate.verify.err" && ok "an unknown collection is a usage error naming it" ||
		not_ok "unknown collection: $(cat "$work/migrate.verify.err")"
fi

finish
