#!/usr/bin/python3
"""shop_data.py: the "shop" data set of the migration tests (issue 16), loaded into MongoDB with pymongo.

    shop_data.py URI DB [--seed N] [--scale F] [--users N] [--templates N] [--offers N] [--purchase-requests N]
                 [--payments N] [--ledger N] [--chats N] [--destinations N] [--orphans N] [--batch N] [--drop]
        Loads the data set into database DB (which must be empty, or --drop drops it first) and prints a JSON
        summary on stdout: {"database", "seed", "counts": {collection: n}, "children": {child table: rows},
        "orphans": [...]}. Deterministic: the same seed and sizes give the same documents (same _ids).

    shop_data.py URI DB --writer SECONDS [--ops N] [--rate OPS_PER_S] [--seed N]
        A concurrent writer for the catch-up tests: inserts, updates, replaces and deletes against an already
        loaded DB for SECONDS (or until N operations), then prints a JSON summary of what it did: {"operations",
        "seconds", "inserted", "updated", "replaced", "deleted": {collection: n}, "deleted_ids": {collection:
        [legacy ids]}, "errors", "error_messages", "counts": {collection: documents now}}. Its writes keep every
        unique index valid (an error is a bug of the server or of this script, reported in "errors").

The shapes follow the seed plan (shared/seeds/mongo-to-postgres-drizzle-plan.md) and the fixture mapping
shop.mapping.json next to this file (collection by collection):
  users               email (sparse unique; ~10% without), referralCode (sparse unique), profile subdocument,
                      referredBy -> an earlier user (self-reference), points (Int64), tags (array), passkeys[]
  templates           request templates: slug, title, price (Decimal128)
  offers              sellerId -> users, price {value: Decimal128, currency}, tags (array of strings)
  purchase_requests   buyerId -> users, templateId -> templates (optional), offers[] (ObjectIds -> offers),
                      preferredSellerIds[] (-> users), deliveryInfo {method, address {...}}, quantity (int32)
  payments            buyerId -> users; purchaseRequestId / sellerOfferId / sellerId Mixed: an ObjectId of a
                      purchase request / offer / user, or a string ("template:<slug>", "platform"); amount
                      {value: Decimal128, currency}; provider/direction/status; the partial-unique idempotency
                      set (buyerId, purchaseRequestId, sellerOfferId, provider, direction) where provider is
                      request.network, direction in, status pending; items[] subdocuments; metadata, blockchain
  funds_ledger        paymentId -> payments, userId -> users, purchaseRequestId Mixed, idempotencyKey (sparse
                      unique), amount (Decimal128, top level), currency, kind
  chats               participants[] (-> users), messages[] subdocuments, createdAt (TTL index)
  derived_destinations buyerId -> users, chain, derivationIndex (the counter the mapping seeds)
_ids are ObjectIds whose timestamps spread over the 12 months before 2026-06-01 (fixed, so the data set does not
depend on today's date; the TTL of chats is 3650 days for that reason), with a random tail. Optional fields are
missing from some documents; some documents carry fields the mapping does not name (they land in extra columns):
__v, lastLoginIp, preferences, profile.avatarUrl, updatedAt, internalNote... --orphans N adds N funds_ledger entries
whose paymentId names no payment (listed in the summary: the backfill must report each as a missing parent).
"""
import argparse
import datetime
import json
import random
import sys
import time
from decimal import Decimal

import pymongo
from bson import ObjectId
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from pymongo.errors import PyMongoError

UTC = datetime.timezone.utc
END = datetime.datetime(2026, 6, 1, tzinfo=UTC)
SPAN_SECONDS = 365 * 24 * 3600
TTL_SECONDS = 3650 * 24 * 3600

COLLECTIONS = ["users", "templates", "offers", "purchase_requests", "payments", "funds_ledger", "chats",
               "derived_destinations"]
DEFAULT_SIZES = {"users": 200, "templates": 10, "offers": 300, "purchase_requests": 400, "payments": 500,
                 "funds_ledger": 800, "chats": 150, "derived_destinations": 100}
PROVIDERS = ["request.network", "amn.scanner", "shkeeper", "other"]
DIRECTIONS = ["in", "out", "refund"]
STATUSES = ["pending", "processing", "completed", "failed", "cancelled", "refunded"]
CURRENCIES = ["USDT", "USDC", "EUR"]
CHAINS = ["eth", "tron", "btc"]
CITIES = ["Lisbon", "Tbilisi", "Berlin", "Zürich", "Kraków", "Łódź", "Dubai"]


class Generator:
    """Deterministic documents from one random.Random; every id it hands out is unique."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seen = set()

    def object_id(self, when):
        """An ObjectId whose timestamp is when (seconds) and whose other 8 bytes are random."""
        while True:
            raw = int(when.timestamp()).to_bytes(4, "big") + self.rng.getrandbits(64).to_bytes(8, "big")
            if raw not in self.seen:
                self.seen.add(raw)
                return ObjectId(raw)

    def moment(self):
        """A time in the 12 months before END, with milliseconds (BSON dates keep milliseconds)."""
        offset = self.rng.randrange(SPAN_SECONDS)
        return END - datetime.timedelta(seconds=offset, milliseconds=self.rng.randrange(1000))

    def ids(self, n):
        """n (ObjectId, createdAt) pairs in _id order (createdAt within the ObjectId's second)."""
        pairs = []
        for _ in range(n):
            when = self.moment()
            pairs.append((self.object_id(when), when))
        pairs.sort(key=lambda p: p[0])
        return pairs

    def money(self, low, high, places=6):
        value = Decimal(self.rng.randrange(low * 10**places, high * 10**places)) / Decimal(10**places)
        if self.rng.random() < 0.05:  # a few amounts at numeric(38,18)'s full scale
            value += Decimal(self.rng.randrange(1, 10**12)) / Decimal(10**18)
        return Decimal128(value)

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, values):
        return values[self.rng.randrange(len(values))]


def later(g, when, max_days=30):
    """A time after when (at most max_days later), milliseconds kept."""
    return when + datetime.timedelta(seconds=g.rng.randrange(1, max_days * 86400), milliseconds=g.rng.randrange(1000))


def build(g, sizes, orphans):
    """Every collection's documents, parents first (in the mapping's load order)."""
    docs = {name: [] for name in COLLECTIONS}
    users = g.ids(sizes["users"])
    for i, (oid, when) in enumerate(users):
        doc = {"_id": oid}
        if not g.chance(0.1):
            doc["email"] = f"user{i}.{oid}@shop.test"
        if g.chance(0.7):
            doc["referralCode"] = f"R{i:06d}{g.rng.randrange(36**3):x}"
        if not g.chance(0.05):
            profile = {"displayName": f"User {i}"}
            if g.chance(0.6):
                profile["locale"] = g.pick(["en", "ru", "ka", "de", "pt"])
            if g.chance(0.3):
                profile["avatarUrl"] = f"https://cdn.shop.test/a/{oid}.png"  # unmapped: extra
            doc["profile"] = profile
        if i > 0 and g.chance(0.4):
            doc["referredBy"] = users[g.rng.randrange(i)][0]  # an earlier user: backfilled before this one
        doc["points"] = Int64(g.rng.randrange(0, 50_000))
        if g.chance(0.5):
            doc["tags"] = g.rng.sample(["vip", "new", "seller", "buyer", "beta", "kyc"], g.rng.randrange(0, 4))
        doc["passkeys"] = [{"credentialId": f"cred-{oid}-{k}", "name": g.pick(["phone", "laptop", "key"]),
                            "createdAt": later(g, when)} for k in range(g.rng.randrange(0, 3))]
        if doc["passkeys"] and g.chance(0.2):
            doc["passkeys"][0]["transports"] = ["usb", "nfc"]  # unmapped in an element: the child row's extra
        doc["createdAt"] = when
        if g.chance(0.3):
            doc["lastLoginIp"] = f"10.{g.rng.randrange(256)}.{g.rng.randrange(256)}.{g.rng.randrange(256)}"
        if g.chance(0.2):
            doc["preferences"] = {"newsletter": g.chance(0.5), "theme": g.pick(["dark", "light"])}
        doc["__v"] = 0
        docs["users"].append(doc)
    user_ids = [u for u, _ in users]

    templates = g.ids(sizes["templates"])
    for i, (oid, when) in enumerate(templates):
        docs["templates"].append({"_id": oid, "slug": f"tpl-{i}", "title": f"Template {i}",
                                  "price": g.money(5, 500), "createdAt": when, "__v": 0})
    template_slugs = [t["slug"] for t in docs["templates"]] or ["tpl-none"]

    offers = g.ids(sizes["offers"])
    for i, (oid, when) in enumerate(offers):
        doc = {"_id": oid, "sellerId": g.pick(user_ids), "title": f"Offer {i}",
               "price": {"value": g.money(1, 2000), "currency": g.pick(CURRENCIES)},
               "status": g.pick(["active", "active", "paused", "sold"]), "createdAt": when}
        if g.chance(0.7):
            doc["tags"] = g.rng.sample(["digital", "physical", "service", "gift", "urgent"], g.rng.randrange(1, 4))
        if g.chance(0.3):
            doc["views"] = g.rng.randrange(10_000)  # unmapped: extra
        docs["offers"].append(doc)
    offer_ids = [o for o, _ in offers]

    requests = g.ids(sizes["purchase_requests"])
    for i, (oid, when) in enumerate(requests):
        doc = {"_id": oid, "buyerId": g.pick(user_ids), "status": g.pick(["open", "matched", "closed", "disputed"]),
               "quantity": g.rng.randrange(1, 20), "createdAt": when}
        if templates and g.chance(0.3):
            doc["templateId"] = g.pick(templates)[0]
        if offer_ids:
            doc["offers"] = g.rng.sample(offer_ids, min(len(offer_ids), g.rng.randrange(0, 4)))
        if g.chance(0.4):
            doc["preferredSellerIds"] = g.rng.sample(user_ids, min(len(user_ids), g.rng.randrange(1, 3)))
        if g.chance(0.8):
            info = {"method": g.pick(["courier", "pickup", "digital"])}
            if info["method"] != "digital":
                info["address"] = {"city": g.pick(CITIES), "street": f"{g.rng.randrange(1, 200)} Main St",
                                   "zip": f"{g.rng.randrange(10000, 99999)}"}
            doc["deliveryInfo"] = info
        if g.chance(0.1):
            doc["internalNote"] = "checked by support"  # unmapped: extra
        doc["__v"] = 0
        docs["purchase_requests"].append(doc)
    request_ids = [r for r, _ in requests]

    pending_keys = set()
    payments = g.ids(sizes["payments"])
    for i, (oid, when) in enumerate(payments):
        doc = {"_id": oid, "buyerId": g.pick(user_ids)}
        slug = g.pick(template_slugs)
        if request_ids and not g.chance(0.15):
            doc["purchaseRequestId"] = g.pick(request_ids)
        elif g.chance(0.9):
            doc["purchaseRequestId"] = f"template:{slug}"  # template checkout: a string, not an ObjectId
        if offer_ids and g.chance(0.8):
            doc["sellerOfferId"] = g.pick(offer_ids) if g.chance(0.85) else f"template-offer:{slug}"
        doc["sellerId"] = g.pick(user_ids) if g.chance(0.9) else "platform"
        doc["amount"] = {"value": g.money(1, 5000), "currency": g.pick(CURRENCIES)}
        doc["provider"] = g.pick(PROVIDERS)
        doc["direction"] = g.pick(DIRECTIONS) if g.chance(0.3) else "in"
        doc["status"] = g.pick(STATUSES)
        key = (doc["buyerId"], doc.get("purchaseRequestId"), doc.get("sellerOfferId"), doc["provider"],
               doc["direction"])
        if doc["status"] == "pending" and doc["provider"] == "request.network" and doc["direction"] == "in":
            if key in pending_keys:  # the partial-unique idempotency set holds one pending payment per key
                doc["status"] = "completed"
            else:
                pending_keys.add(key)
        if g.chance(0.7):
            doc["providerPaymentId"] = f"pp-{oid}"
        doc["isRefunded"] = doc["status"] == "refunded"
        if g.chance(0.6):
            doc["metadata"] = {"session": f"s{g.rng.randrange(10**6)}", "attempt": g.rng.randrange(1, 4),
                               "ua": g.pick(["ios", "android", "web"])}
        if g.chance(0.3):
            doc["blockchain"] = {"transactionHash": f"0x{g.rng.getrandbits(128):032x}",
                                 "chain": g.pick(CHAINS), "confirmations": g.rng.randrange(0, 40)}
        doc["items"] = []
        for _ in range(g.rng.randrange(0, 4)):
            item = {"sku": f"SKU-{g.rng.randrange(1000):04d}", "qty": g.rng.randrange(1, 5),
                    "price": g.money(1, 300)}
            if g.chance(0.2):
                item["note"] = "gift wrap"  # unmapped in an element: the child row's extra
            doc["items"].append(item)
        if doc["status"] == "completed":
            doc["completedAt"] = later(g, when, 3)
        doc["createdAt"] = when
        if g.chance(0.5):
            doc["updatedAt"] = later(g, when, 5)  # unmapped: extra
        doc["__v"] = 0
        docs["payments"].append(doc)
    payment_ids = [p for p, _ in payments]

    ledger = g.ids(sizes["funds_ledger"])
    for i, (oid, when) in enumerate(ledger):
        doc = {"_id": oid, "userId": g.pick(user_ids)}
        if payment_ids and g.chance(0.9):
            doc["paymentId"] = g.pick(payment_ids)
        if request_ids and g.chance(0.5):
            doc["purchaseRequestId"] = g.pick(request_ids) if g.chance(0.8) else f"template:{g.pick(template_slugs)}"
        if g.chance(0.6):
            doc["idempotencyKey"] = f"ledger-{oid}"
        doc["kind"] = g.pick(["credit", "debit", "fee", "hold", "release"])
        doc["amount"] = g.money(0, 3000)
        doc["currency"] = g.pick(CURRENCIES)
        doc["createdAt"] = when
        docs["funds_ledger"].append(doc)
    orphan_list = []
    for k in range(orphans):
        when = g.moment()
        missing = g.object_id(when)  # never inserted into payments
        oid = g.object_id(when)
        docs["funds_ledger"].append({"_id": oid, "userId": g.pick(user_ids), "paymentId": missing,
                                     "kind": "credit", "amount": g.money(1, 10), "currency": "USDT", "createdAt": when})
        orphan_list.append({"collection": "funds_ledger", "legacy_id": str(oid), "field": "paymentId",
                            "parent_collection": "payments", "parent_legacy_id": str(missing)})
    docs["funds_ledger"].sort(key=lambda d: d["_id"])

    chats = g.ids(sizes["chats"])
    for i, (oid, when) in enumerate(chats):
        participants = g.rng.sample(user_ids, min(len(user_ids), 2 if g.chance(0.8) else 3))
        messages = []
        sent = when
        for _ in range(g.rng.randrange(0, 6)):
            sent = later(g, sent, 2)
            message = {"senderId": g.pick(participants), "text": g.pick(["hi", "is it available?", "sent 🚀",
                                                                          "thanks", "«ok»"]), "sentAt": sent}
            if g.chance(0.1):
                message["readBy"] = participants[:1]  # unmapped in an element
            messages.append(message)
        doc = {"_id": oid, "participants": participants, "messages": messages, "createdAt": when}
        if messages:
            doc["lastMessageAt"] = messages[-1]["sentAt"]
        if g.chance(0.5):
            doc["title"] = f"Chat {i}"
        docs["chats"].append(doc)

    counters = {}
    destinations = g.ids(sizes["derived_destinations"])
    for i, (oid, when) in enumerate(destinations):
        buyer, chain = g.pick(user_ids), g.pick(CHAINS)
        index = counters.get((buyer, chain), 0) + 1
        counters[(buyer, chain)] = index
        doc = {"_id": oid, "buyerId": buyer, "chain": chain, "derivationIndex": index,
               "address": f"{chain}-{g.rng.getrandbits(80):020x}",
               "status": g.pick(["active", "active", "swept", "sweeping", "quarantined"]), "createdAt": when}
        docs["derived_destinations"].append(doc)
    return docs, orphan_list


def create_indexes(db):
    """The legacy indexes the mapping carries over (and that mosta-test-mongod enforces)."""
    db.users.create_index("email", unique=True, sparse=True, name="email_1")
    db.users.create_index("referralCode", unique=True, sparse=True, name="referralCode_1")
    db.users.create_index("createdAt", name="createdAt_1")
    db.payments.create_index(
        [("buyerId", 1), ("purchaseRequestId", 1), ("sellerOfferId", 1), ("provider", 1), ("direction", 1)],
        unique=True, name="uniq_pending_request_network_by_buyer_session_offer",
        partialFilterExpression={"provider": "request.network", "direction": "in", "status": "pending"})
    db.payments.create_index([("status", 1), ("createdAt", 1)], name="status_1_createdAt_1")
    db.funds_ledger.create_index("idempotencyKey", unique=True, sparse=True, name="idempotencyKey_1")
    db.chats.create_index("createdAt", expireAfterSeconds=TTL_SECONDS, name="createdAt_ttl")
    db.derived_destinations.create_index([("buyerId", 1), ("chain", 1), ("derivationIndex", 1)], unique=True,
                                         name="uniq_destination_by_buyer_chain_index")


def children(docs):
    """Rows of each child table the mapping declares (what the backfill must produce)."""
    count = lambda coll, field: sum(len(d.get(field) or []) for d in docs[coll])
    return {"user_passkeys": count("users", "passkeys"), "purchase_request_offers": count("purchase_requests", "offers"),
            "purchase_request_preferred_sellers": count("purchase_requests", "preferredSellerIds"),
            "payment_items": count("payments", "items"), "chat_participants": count("chats", "participants"),
            "chat_messages": count("chats", "messages")}


def load(args):
    client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=10000)
    db = client[args.db]
    existing = [name for name in db.list_collection_names() if name in COLLECTIONS]
    if existing and not args.drop:
        sys.exit(f"shop_data.py: database {args.db} already holds {', '.join(existing)}; "
                 "pass --drop to replace it (the data set's _ids are fixed by the seed)")
    if args.drop:
        client.drop_database(args.db)
    sizes = {}
    for name in COLLECTIONS:
        given = getattr(args, name)
        sizes[name] = given if given is not None else int(round(DEFAULT_SIZES[name] * args.scale))
    docs, orphans = build(Generator(args.seed), sizes, args.orphans)
    create_indexes(db)
    for name in COLLECTIONS:
        for start in range(0, len(docs[name]), args.batch):
            db[name].insert_many(docs[name][start:start + args.batch], ordered=True)
    summary = {"database": args.db, "seed": args.seed, "counts": {name: len(docs[name]) for name in COLLECTIONS},
               "children": children(docs), "orphans": orphans}
    print(json.dumps(summary, sort_keys=True))


class Writer:
    """Random writes to a loaded database, the kind an application does while the migration follows it."""

    def __init__(self, db, seed):
        self.db = db
        self.g = Generator(seed)
        self.rng = self.g.rng
        self.tag = f"w{seed}-{int(time.time() * 1000)}"
        self.serial = 0
        ids = lambda coll, query=None: [d["_id"] for d in db[coll].find(query or {}, {"_id": 1}).sort("_id", 1)]
        self.users = ids("users")
        self.offers = ids("offers")
        self.requests = ids("purchase_requests")
        self.payments = ids("payments")
        self.pending = ids("payments", {"status": "pending"})
        self.ledger = ids("funds_ledger")
        self.chats = ids("chats")
        self.destinations = ids("derived_destinations")
        if not self.users or not self.offers:
            sys.exit(f"shop_data.py --writer: database {db.name} has no users or offers; load the data set first")
        self.counts = {kind: {} for kind in ("inserted", "updated", "replaced", "deleted")}
        self.deleted_ids = {}
        self.errors = []

    def next_key(self):
        self.serial += 1
        return f"{self.tag}-{self.serial}"

    @staticmethod
    def now():
        now = datetime.datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON dates keep milliseconds

    def note(self, kind, coll):
        self.counts[kind][coll] = self.counts[kind].get(coll, 0) + 1

    def step(self):
        g, rng = self.g, self.rng
        action = rng.choices(
            ["user", "offer", "request", "payment", "ledger", "chat", "pay_done", "points", "message", "price",
             "reseller", "replace_offer", "unset", "del_chat", "del_ledger", "del_destination"],
            weights=[4, 3, 4, 8, 10, 2, 6, 6, 5, 3, 2, 2, 2, 2, 3, 1])[0]
        now = self.now()
        if action == "user":
            oid = ObjectId()
            doc = {"_id": oid, "email": f"{self.next_key()}@shop.test", "profile": {"displayName": "new user"},
                   "points": Int64(0), "passkeys": [], "createdAt": now, "__v": 0}
            if rng.random() < 0.5:
                doc["referredBy"] = g.pick(self.users)
            self.db.users.insert_one(doc)
            self.users.append(oid)
            self.note("inserted", "users")
        elif action == "offer":
            oid = ObjectId()
            self.db.offers.insert_one({"_id": oid, "sellerId": g.pick(self.users), "title": "new offer",
                                       "price": {"value": g.money(1, 100), "currency": "USDT"}, "status": "active",
                                       "createdAt": now})
            self.offers.append(oid)
            self.note("inserted", "offers")
        elif action == "request":
            oid = ObjectId()
            self.db.purchase_requests.insert_one({"_id": oid, "buyerId": g.pick(self.users), "status": "open",
                                                  "quantity": 1, "offers": [g.pick(self.offers)], "createdAt": now})
            self.requests.append(oid)
            self.note("inserted", "purchase_requests")
        elif action == "payment":
            oid = ObjectId()
            # a new pending request.network payment names a new session (purchaseRequestId): its idempotency key
            # is new, so the partial unique index never refuses it
            session = f"template:{self.next_key()}"
            doc = {"_id": oid, "buyerId": g.pick(self.users), "purchaseRequestId": session,
                   "sellerOfferId": g.pick(self.offers), "sellerId": g.pick(self.users),
                   "amount": {"value": g.money(1, 500), "currency": g.pick(CURRENCIES)},
                   "provider": "request.network", "direction": "in", "status": "pending", "isRefunded": False,
                   "items": [{"sku": "SKU-NEW", "qty": 1, "price": g.money(1, 50)}], "createdAt": now, "__v": 0}
            if self.requests and rng.random() < 0.5:
                doc["purchaseRequestId"] = g.pick(self.requests)
                doc["status"] = "processing"
            self.db.payments.insert_one(doc)
            self.payments.append(oid)
            if doc["status"] == "pending":
                self.pending.append(oid)
            self.note("inserted", "payments")
        elif action == "ledger":
            oid = ObjectId()
            doc = {"_id": oid, "userId": g.pick(self.users), "kind": g.pick(["credit", "debit", "fee"]),
                   "amount": g.money(0, 1000), "currency": g.pick(CURRENCIES), "createdAt": now}
            if self.payments:
                doc["paymentId"] = g.pick(self.payments)
            if rng.random() < 0.7:
                doc["idempotencyKey"] = f"ledger-{self.next_key()}"
            self.db.funds_ledger.insert_one(doc)
            self.ledger.append(oid)
            self.note("inserted", "funds_ledger")
        elif action == "chat":
            oid = ObjectId()
            self.db.chats.insert_one({"_id": oid, "participants": rng.sample(self.users, 2) if len(self.users) > 1
                                      else self.users[:1], "messages": [], "createdAt": now})
            self.chats.append(oid)
            self.note("inserted", "chats")
        elif action == "pay_done" and self.pending:
            oid = self.pending.pop(rng.randrange(len(self.pending)))
            self.db.payments.update_one({"_id": oid}, {"$set": {"status": "completed", "completedAt": now,
                                                                "updatedAt": now}, "$inc": {"__v": 1}})
            self.note("updated", "payments")
        elif action == "points":
            self.db.users.update_one({"_id": g.pick(self.users)},
                                     {"$inc": {"points": Int64(rng.randrange(1, 100))},
                                      "$set": {"profile.displayName": f"renamed {self.next_key()}"}})
            self.note("updated", "users")
        elif action == "message" and self.chats:
            chat = g.pick(self.chats)
            self.db.chats.update_one({"_id": chat}, {"$push": {"messages": {"senderId": g.pick(self.users),
                                                                            "text": "new message", "sentAt": now}},
                                                     "$set": {"lastMessageAt": now}})
            self.note("updated", "chats")
        elif action == "price":
            self.db.offers.update_one({"_id": g.pick(self.offers)}, {"$set": {"price.value": g.money(1, 999)}})
            self.note("updated", "offers")
        elif action == "reseller" and self.payments:
            # a reference changes (and a Mixed one changes kind): the follower must remap both
            self.db.payments.update_one({"_id": g.pick(self.payments)},
                                        {"$set": {"sellerId": "platform" if rng.random() < 0.5 else g.pick(self.users)}})
            self.note("updated", "payments")
        elif action == "replace_offer":
            oid = g.pick(self.offers)
            self.db.offers.replace_one({"_id": oid}, {"sellerId": g.pick(self.users), "title": "replaced offer",
                                                      "price": {"value": g.money(1, 100), "currency": "EUR"},
                                                      "status": "paused", "createdAt": now})
            self.note("replaced", "offers")
        elif action == "unset":
            self.db.users.update_one({"_id": g.pick(self.users)}, {"$unset": {"referralCode": "", "lastLoginIp": ""}})
            self.note("updated", "users")
        elif action == "del_chat" and self.chats:
            self.delete("chats", self.chats)
        elif action == "del_ledger" and self.ledger:
            self.delete("funds_ledger", self.ledger)
        elif action == "del_destination" and self.destinations:
            self.delete("derived_destinations", self.destinations)
        else:
            return False
        return True

    def delete(self, coll, ids):
        oid = ids.pop(self.rng.randrange(len(ids)))
        self.db[coll].delete_one({"_id": oid})
        self.note("deleted", coll)
        self.deleted_ids.setdefault(coll, []).append(str(oid))

    def run(self, seconds, max_ops, rate):
        start = time.monotonic()
        operations = 0
        while time.monotonic() - start < seconds and (max_ops is None or operations < max_ops):
            try:
                if not self.step():
                    continue
            except PyMongoError as error:
                self.errors.append(str(error))
            operations += 1
            if rate:
                pause = start + operations / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # pacing a steady write rate, not synchronisation (--allow-sleep)
        elapsed = time.monotonic() - start
        counts = {name: self.db[name].count_documents({}) for name in COLLECTIONS}
        return {"operations": operations, "seconds": round(elapsed, 3), **self.counts,
                "deleted_ids": self.deleted_ids, "errors": len(self.errors), "error_messages": self.errors[:20],
                "counts": counts}


def main():
    parser = argparse.ArgumentParser(description="Load the shop data set (or write to it concurrently).")
    parser.add_argument("uri")
    parser.add_argument("db")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every default size")
    for name in COLLECTIONS:
        flag = {"funds_ledger": "ledger", "derived_destinations": "destinations"}.get(name, name)
        parser.add_argument("--" + flag.replace("_", "-"), dest=name, type=int, default=None, metavar="N",
                            help=f"{name} documents (default {DEFAULT_SIZES[name]} x --scale)")
    parser.add_argument("--orphans", type=int, default=0, help="funds_ledger entries naming a missing payment")
    parser.add_argument("--batch", type=int, default=1000, help="documents per insert_many")
    parser.add_argument("--drop", action="store_true", help="drop DB first")
    parser.add_argument("--writer", type=float, metavar="SECONDS", help="write concurrently for SECONDS")
    parser.add_argument("--ops", type=int, default=None, help="--writer: stop after this many operations")
    parser.add_argument("--rate", type=float, default=0, help="--writer: operations per second (0: unpaced)")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.scale < 0 or args.orphans < 0 or any((getattr(args, name) or 0) < 0 for name in COLLECTIONS):
        parser.error("sizes, --scale and --orphans must not be negative")
    users = args.users if args.users is not None else int(round(DEFAULT_SIZES["users"] * args.scale))
    if users < 1 and args.writer is None:
        parser.error("the data set needs at least one user (every other collection references users)")
    if args.writer is not None:
        client = pymongo.MongoClient(args.uri, serverSelectionTimeoutMS=10000)
        print(json.dumps(Writer(client[args.db], args.seed).run(args.writer, args.ops, args.rate), sort_keys=True))
    else:
        load(args)


if __name__ == "__main__":
    main()
