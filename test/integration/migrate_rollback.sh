#!/usr/bin/env bash
# migrate_rollback.sh: the rollback mirror (docs/migration.md, "Rollback"; docs/mongodb.md, "Mapped mirror"). The
# shop data set in mosta-test-mongod, `mosta-migrate schema --apply` and `backfill` into PostgreSQL, then cutover
# (MongoDB is written no more) and a cdc rule from the PostgreSQL project to a mongodb replica whose URI names the
# mapping (?mosta_mapping=shop.mapping.json). Shows: the rule's initial copy gives back every legacy document as it
# was (the round trip MongoDB → backfill → PostgreSQL → mirror → MongoDB: mapped fields with their BSON types,
# nested paths, ObjectId ids and references, Mixed references, Decimal128, arrays, and the extra fields); writes made
# in PostgreSQL after cutover (a user inserted with a new legacy ObjectId through mosta_map_id, a payment's amount
# and status updated, a ledger entry referencing that payment, a chat deleted, an item added to a payment, a passkey
# removed from a user) reach MongoDB in the legacy shape, read with pymongo as the application reads ("reads
# flipped back"), and every other document is unchanged; a table outside the mapping is refused by name. After the
# copy, mosta-sidecar verify refuses the mapped mirror, naming mosta-migrate verify, which is green on it. Prints
# "migrate_rollback: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/migrate.sh
source test/integration/lib/migrate.sh
tap_init migrate_rollback
require_cluster
require_sidecar
require_migrate

use_database mosta_migrate_rollback_$$
role=mosta_migrate_rollback_$$
cleanup_extra() {
	migrate_cleanup
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}

start_shop_mongo
load_shop --scale 0.2
mapping_file=$(realpath "$mapping")

psql_db -o /dev/null -c "CREATE EXTENSION mostajs" || fail_setup "CREATE EXTENSION mostajs"
migrate schema --apply >/dev/null || fail_setup "mosta-migrate schema --apply: $(cat "$work/migrate.schema.err")"
migrate backfill >/dev/null || fail_setup "mosta-migrate backfill: $(cat "$work/migrate.backfill.err")"
rejected=$(scalar "SELECT count(*) FROM mosta_migration.problems")
[ "$rejected" = 0 ] || fail_setup "backfill left $rejected problem(s): $(scalar "SELECT string_agg(message, '; ') FROM mosta_migration.problems")"

# The legacy documents as the application last saw them in MongoDB (extended JSON: the BSON types are kept).
mongo_py "
from bson import json_util
json_util_options = json_util.CANONICAL_JSON_OPTIONS
docs = {c: list(db[c].find()) for c in sorted(db.list_collection_names())}
open('$work/before.json', 'w').write(json_util.dumps(docs, json_options=json_util_options))
" || fail_setup "snapshot of the legacy documents"

# Cutover: from here on the application writes PostgreSQL only; MongoDB is kept current by the rule below.
tables=$("$python" -c '
import json, sys
m = json.load(open(sys.argv[1]))
names = []
for c in m["collections"]:
    names.append(c["table"])
    for f in c["fields"]:
        if "child_table" in f:
            names.append(f["child_table"]["table"])
print(",".join(names))' "$mapping")
mirror_uri="$mongo_uri?mosta_mapping=$mapping_file"
psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db" -v mongo="$mirror_uri" -v tables="{$tables}" <<SQL ||
SET client_min_messages = warning;
CREATE ROLE $role LOGIN REPLICATION IN ROLE mosta_sidecar, pg_read_all_data;
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'legacy', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('rollback', 'app', 'app', 'cdc', :'tables'::text[]);
SQL
	fail_setup "the rollback rule"

once() {
	if PGDATABASE=$db PGUSER=$role "$BINARY" --once 2>"$work/log.$1"; then
		ok "mosta-sidecar --once ($1) exits 0"
	else
		not_ok "mosta-sidecar --once ($1) exits 0"
		tail -20 "$work/log.$1" >&2
	fi
}

# compare.py BEFORE [EXCEPT]: compares the documents of MongoDB now with BEFORE (extended JSON, as above), collection
# by collection, skipping the _ids listed in EXCEPT ("collection:hex,..."). Fields the mapping maps are compared
# with their BSON types (Decimal128 by value: PostgreSQL's numeric(38,18) keeps 18 decimals; an absent array and an
# empty one alike: a child table has no rows for both); fields of the extra column by their JSON value (a Date or
# ObjectId there comes back as its text, docs/mongodb.md). Prints each difference; exits 1 when there is one.
cat >"$work/compare.py" <<'PY'
import datetime, json, sys
import pymongo
from bson import ObjectId, json_util
from bson.decimal128 import Decimal128
from bson.int64 import Int64

uri, mapping_file, before_file = sys.argv[1:4]
skip = set(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else set()
mapping = json.load(open(mapping_file))
before = json_util.loads(open(before_file).read(), json_options=json_util.JSONOptions(tz_aware=False))
db = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)["shop"]
MISSING = object()

def spec_of(fields):
    """{name: "strict" | {"[]": element spec or "strict"} | {nested}} from the mapping's fields."""
    spec = {}
    for f in fields:
        if f["path"] == "":
            return "strict"
        parts = f["path"].split(".")
        node = spec
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = {"[]": spec_of(f["child_table"]["fields"])} if "child_table" in f else "strict"
    return spec

def strict(a, b):
    if isinstance(a, Decimal128) or isinstance(b, Decimal128):
        return type(a) is type(b) and a.to_decimal() == b.to_decimal()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b

def lenient(a, b):
    """An extra field: equal as JSON (BSON-only types come back as their JSON form)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(lenient(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(lenient(x, y) for x, y in zip(a, b))
    if isinstance(a, ObjectId):
        return b == str(a)
    if isinstance(a, datetime.datetime):
        return isinstance(b, str) and datetime.datetime.fromisoformat(b.replace(" ", "T")).replace(tzinfo=None) == a
    if isinstance(a, Decimal128):
        return isinstance(b, (int, float, Decimal128)) and (b.to_decimal() if isinstance(b, Decimal128) else b) == a.to_decimal()
    if isinstance(a, (bool, str)) or a is None:
        return type(a) is type(b) and a == b
    return isinstance(b, (int, float)) and not isinstance(b, bool) and a == b

def compare(a, b, spec, path, out):
    for k in sorted(set(a) | set(b)):
        x, y, s, p = a.get(k, MISSING), b.get(k, MISSING), (spec.get(k) if isinstance(spec, dict) else None), path + k
        if isinstance(s, dict) and "[]" in s:
            x, y = ([] if x is MISSING else x), ([] if y is MISSING else y)
            if not (isinstance(x, list) and isinstance(y, list) and len(x) == len(y)):
                out.append(f"{p}: {x!r} != {y!r}")
                continue
            for i, (ex, ey) in enumerate(zip(x, y)):
                if s["[]"] == "strict":
                    if not strict(ex, ey):
                        out.append(f"{p}.{i}: {ex!r} != {ey!r}")
                else:
                    compare(ex, ey, s["[]"], f"{p}.{i}.", out)
        elif s == "strict":
            if not (x is MISSING and y is MISSING) and (x is MISSING or y is MISSING or not strict(x, y)):
                out.append(f"{p}: {x!r} != {y!r}")
        elif isinstance(s, dict) and isinstance(x, dict) and isinstance(y, dict):
            compare(x, y, s, p + ".", out)
        elif x is MISSING or y is MISSING or not lenient(x, y):
            out.append(f"{p} (extra): {x!r} != {y!r}")

differences = []
for c in mapping["collections"]:
    name, spec = c["collection"], dict(spec_of(c["fields"]), _id="strict")
    old = {d["_id"]: d for d in before.get(name, []) if f"{name}:{d['_id']}" not in skip}
    new = {d["_id"]: d for d in db[name].find() if f"{name}:{d['_id']}" not in skip}
    for missing in sorted(set(old) - set(new), key=str):
        differences.append(f"{name} {missing}: gone")
    for extra in sorted(set(new) - set(old), key=str):
        differences.append(f"{name} {extra}: new")
    for i in sorted(set(old) & set(new), key=str):
        out = []
        compare(old[i], new[i], spec, "", out)
        differences += [f"{name} {i} {d}" for d in out]
for d in differences[:20]:
    print(d)
print(f"{len(differences)} difference(s)")
sys.exit(1 if differences else 0)
PY
compare_with() { "$python" "$work/compare.py" "${mongo_uri%/shop}/" "$mapping" "$@" >"$work/compare.out" 2>&1; }

# 1. The initial copy writes the reconstructed documents over the legacy ones (replace by _id).
once copy
warnings='MongoDB target \|MongoDB mapped mirror'
if grep -q "$warnings" "$work/log.copy"; then
	not_ok "the copy's log is free of mapping warnings: $(grep "$warnings" "$work/log.copy" | head -3)"
else
	ok "the copy's log is free of mapping warnings (every value fits its field, every table is in the rule)"
fi
if compare_with "$work/before.json"; then
	ok "round trip: every legacy document comes back as it was ($(tail -1 "$work/compare.out"))"
else
	not_ok "round trip: documents differ from the legacy ones"
	sed 's/^/    /' "$work/compare.out" >&2
fi

# 1b. mosta-sidecar verify does not compare a mapped mirror (legacy documents, not the rule's tables): it says so,
# names mosta-migrate verify and exits non-zero; mosta-migrate verify given the mirror's own URI (the driver never
# sees mosta_mapping: no "Unsupported URI option" warning) compares it through the mapping and finds it equal.
if PGDATABASE=$db "$BINARY" verify rollback >"$work/verify.out" 2>&1; then
	not_ok "mosta-sidecar verify of a mapped mirror exits non-zero: $(cat "$work/verify.out")"
elif grep -q "does not verify mapped mirrors" "$work/verify.out" &&
	grep -q "mosta-migrate verify $mapping_file" "$work/verify.out" && ! grep -qi "unsupported URI option" "$work/verify.out"; then
	ok "mosta-sidecar verify of a mapped mirror refuses, naming mosta-migrate verify"
else
	not_ok "mosta-sidecar verify of a mapped mirror: $(cat "$work/verify.out")"
fi
if "$MIGRATE_BINARY" verify "$mapping" --source "$mirror_uri" --target "dbname=$db" >"$work/migrate_verify.out" 2>&1 &&
	! grep -qi "unsupported URI option" "$work/migrate_verify.out"; then
	ok "mosta-migrate verify on the mirror's URI is green, without a driver warning"
else
	not_ok "mosta-migrate verify on the mirror's URI: $(grep -v " ok$" "$work/migrate_verify.out" | tail -25)"
fi

counts_before=$(mongo_py "print(sorted((c, db[c].count_documents({})) for c in db.list_collection_names() if c != '_mosta_checkpoints'))")
mongo_py "
from bson import json_util
docs = {c: list(db[c].find()) for c in sorted(db.list_collection_names())}
open('$work/mirrored.json', 'w').write(json_util.dumps(docs, json_options=json_util.CANONICAL_JSON_OPTIONS))
" || fail_setup "snapshot of the mirrored documents"

# 2. Writes in PostgreSQL after cutover.
new_user=6a00000000000000000000a1
new_entry=6a00000000000000000000b2
payment=$(scalar "SELECT legacy_object_id FROM payments ORDER BY legacy_object_id LIMIT 1")
items_payment=$(scalar "SELECT legacy_object_id FROM payments WHERE legacy_object_id <> '$payment' ORDER BY legacy_object_id LIMIT 1")
items_before=$(scalar "SELECT count(*) FROM payment_items i JOIN payments p ON p.id = i.payment_id WHERE p.legacy_object_id = '$items_payment'")
chat=$(scalar "SELECT legacy_object_id FROM chats WHERE EXISTS (SELECT 1 FROM chat_messages m WHERE m.chat_id = chats.id) ORDER BY legacy_object_id LIMIT 1")
buyer=$(scalar "SELECT u.legacy_object_id FROM payments p JOIN users u ON u.id = p.buyer_id WHERE p.legacy_object_id = '$payment'")
passkey_user=$(scalar "SELECT u.legacy_object_id FROM users u WHERE (SELECT count(*) FROM user_passkeys k WHERE k.user_id = u.id) >= 2 AND u.legacy_object_id <> '$buyer' ORDER BY 1 LIMIT 1")
psql_db -o /dev/null <<SQL || not_ok "the writes after cutover"
INSERT INTO users (id, legacy_object_id, email, display_name, locale, points, created_at, extra)
VALUES (mosta_map_id('users', '$new_user'), '$new_user', 'new@shop.test', 'New User', 'pt', 7,
        '2026-06-02 10:00:00.25+00', '{"lastLoginIp": "10.9.9.9", "__v": 0}');
UPDATE payments SET amount = 123.45, status = 'refunded' WHERE legacy_object_id = '$payment';
INSERT INTO funds_ledger_entries (id, legacy_object_id, user_id, payment_id, kind, amount, currency, created_at)
VALUES (mosta_map_id('funds_ledger', '$new_entry'), '$new_entry', mosta_lookup_id('users', '$buyer'),
        mosta_lookup_id('payments', '$payment'), 'credit', 50.5, 'EUR', '2026-06-02 11:00:00+00');
DELETE FROM chats WHERE legacy_object_id = '$chat';
DELETE FROM user_passkeys WHERE user_id = mosta_lookup_id('users', '$passkey_user') AND position = 0;
INSERT INTO payment_items (payment_id, position, sku, qty, price, extra)
VALUES (mosta_lookup_id('payments', '$items_payment'), $items_before, 'SKU-NEW', 2, 9.99, '{"note": "added after cutover"}');
SQL
once writes
touched="users:$new_user,users:$passkey_user,funds_ledger:$new_entry,payments:$payment,payments:$items_payment,chats:$chat"

# 3. Reads flipped back: the application's queries find every write, in the legacy shape.
check() { # check DESCRIPTION PYTHON: PYTHON (over db) prints "ok" or what differs
	local got
	got=$(mongo_py "$2" 2>&1)
	if [ "$got" = ok ]; then ok "$1"; else not_ok "$1: $got"; fi
}
check "the user inserted in PostgreSQL is in users under its legacy ObjectId, in the legacy shape" "
import datetime
doc = db.users.find_one({'_id': ObjectId('$new_user')})
want = {'_id': ObjectId('$new_user'), 'email': 'new@shop.test', 'profile': {'displayName': 'New User', 'locale': 'pt'},
        'points': Int64(7), 'createdAt': datetime.datetime(2026, 6, 2, 10, 0, 0, 250000), 'passkeys': [],
        'lastLoginIp': '10.9.9.9', '__v': 0}
print('ok' if doc == want and type(doc['points']) is Int64 else doc)"
check "the payment's new amount (Decimal128 at amount.value) and status are read back" "
from decimal import Decimal
doc = db.payments.find_one({'_id': ObjectId('$payment'), 'status': 'refunded'})
value = doc and doc['amount']['value']
print('ok' if isinstance(value, Decimal128) and value.to_decimal() == Decimal('123.45') and doc['buyerId'] == ObjectId('$buyer') else doc)"
check "the ledger entry references the payment and the user by their legacy ObjectIds" "
from decimal import Decimal
doc = db.funds_ledger.find_one({'paymentId': ObjectId('$payment'), '_id': ObjectId('$new_entry')})
ok = doc and doc['userId'] == ObjectId('$buyer') and isinstance(doc['amount'], Decimal128) and doc['amount'].to_decimal() == Decimal('50.5') and doc['currency'] == 'EUR' and doc['kind'] == 'credit' and 'purchaseRequestId' not in doc
print('ok' if ok else doc)"
check "the chat deleted in PostgreSQL is gone from chats" "
print('ok' if db.chats.find_one({'_id': ObjectId('$chat')}) is None else 'still there')"
check "the item added in PostgreSQL is the last element of the payment's items array" "
from decimal import Decimal
doc = db.payments.find_one({'_id': ObjectId('$items_payment')})
items = doc['items']
last = items[-1] if items else None
ok = len(items) == $items_before + 1 and last['sku'] == 'SKU-NEW' and last['qty'] == 2 and type(last['qty']) is int and isinstance(last['price'], Decimal128) and last['price'].to_decimal() == Decimal('9.99') and last['note'] == 'added after cutover'
print('ok' if ok else items)"
check "the passkey deleted in PostgreSQL is removed from the user's passkeys array, the others kept in order" "
from bson import json_util
before = json_util.loads(open('$work/mirrored.json').read(), json_options=json_util.JSONOptions(tz_aware=False))
old = next(d for d in before['users'] if d['_id'] == ObjectId('$passkey_user'))
doc = db.users.find_one({'_id': ObjectId('$passkey_user')})
print('ok' if doc['passkeys'] == old['passkeys'][1:] and len(old['passkeys']) >= 2 else (old['passkeys'], doc['passkeys']))"
counts_after=$(mongo_py "print(sorted((c, db[c].count_documents({})) for c in db.list_collection_names() if c != '_mosta_checkpoints'))")
expected_counts=$("$python" -c "
counts = dict($counts_before)
counts['users'] += 1
counts['funds_ledger'] += 1
counts['chats'] -= 1
print(sorted(counts.items()))")
if [ "$counts_after" = "$expected_counts" ]; then ok "documents per collection: one user and one ledger entry more, one chat less"; else not_ok "counts $counts_after, expected $expected_counts"; fi
if compare_with "$work/mirrored.json" "$touched"; then
	ok "every other document is unchanged ($(tail -1 "$work/compare.out"))"
else
	not_ok "documents not written after cutover changed"
	sed 's/^/    /' "$work/compare.out" >&2
fi
if compare_with "$work/before.json" "$touched"; then
	ok "and still equal to the legacy documents of before cutover"
else
	not_ok "untouched documents differ from the legacy ones"
	sed 's/^/    /' "$work/compare.out" >&2
fi

# 4. A table the mapping does not know is refused by name (the mirror writes only the legacy shape).
psql_db -o /dev/null -c "CREATE TABLE audit (id integer PRIMARY KEY)" -c "SELECT mosta_add_rule('stray', 'app', 'app', 'cdc', ARRAY['audit'])" -c "INSERT INTO audit VALUES (1)" >/dev/null 2>&1
PGDATABASE=$db PGUSER=$role "$BINARY" --once >/dev/null 2>"$work/log.stray"
if grep -q "table public.audit is not in the mapping shop" "$work/log.stray" && grep -q "table public.users of the mapping shop is not in the rule" "$work/log.stray"; then
	ok "a table outside the mapping is refused with an error naming it (and the mapping's tables outside the rule are named)"
else
	not_ok "no error naming public.audit"
	tail -10 "$work/log.stray" >&2
fi

finish
