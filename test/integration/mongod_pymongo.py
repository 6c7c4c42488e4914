#!/usr/bin/python3
"""mongod_pymongo.py URI: drives a MongoDB server with pymongo (Debian's python3-pymongo), the second,
independent driver that checks mosta-test-mongod's fidelity, and prints one TAP-style line per check
("ok - ..." / "not ok - ..."). The same checks pass against a real mongod (MOSTA_TEST_MONGO_URI)."""
import os
import sys

import pymongo
from bson import ObjectId
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

results = []


def check(description, condition, detail=""):
    results.append(bool(condition))
    print(("ok - " if condition else "not ok - ") + description + ("" if condition else f"  ({detail})"))


def main(uri):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    db = client[f"mosta_pymongo_{os.getpid()}"]
    client.drop_database(db.name)
    try:
        run(client, db)
    finally:
        client.drop_database(db.name)
    return all(results)


def run(client, db):
    hello = client.admin.command("isMaster")
    check("isMaster reports a writable primary with sessions", hello.get("ismaster") is True
          and hello.get("logicalSessionTimeoutMinutes", 0) > 0 and hello.get("maxWireVersion", 0) >= 6, hello)
    check("ping", client.admin.command("ping").get("ok") == 1.0)
    check("buildInfo has a version", bool(client.server_info().get("version")))

    items = db.items
    oid = ObjectId()
    items.insert_one({"_id": oid, "name": "oid"})
    items.insert_one({"_id": {"tenant": 7, "id": 42}, "name": "embedded"})
    generated = items.insert_one({"name": "generated"}).inserted_id
    check("insert_one generates an ObjectId _id", isinstance(generated, ObjectId), generated)
    check("find_one by ObjectId _id", items.find_one({"_id": oid}) == {"_id": oid, "name": "oid"})
    check("find_one by embedded-document _id",
          items.find_one({"_id": {"tenant": 7, "id": 42}}, {"_id": 0}) == {"name": "embedded"})
    check("find by dotted path into _id", items.count_documents({"_id.tenant": 7}) == 1)
    try:
        items.insert_one({"_id": oid})
        check("duplicate _id is refused with 11000", False, "no error")
    except DuplicateKeyError as error:
        check("duplicate _id is refused with 11000", error.code == 11000, error)

    result = items.update_one({"_id": "u1"}, {"$set": {"v": 1, "a.b": 2}}, upsert=True)
    check("update_one upsert inserts under the filter's _id", result.upserted_id == "u1", result.raw_result)
    result = items.update_one({"_id": "u1"}, {"$set": {"v": 2}, "$inc": {"n": 3}, "$unset": {"a": ""}})
    check("update_one $set/$inc/$unset modifies", result.matched_count == 1 and result.modified_count == 1)
    check("the updated document", items.find_one({"_id": "u1"}) == {"_id": "u1", "v": 2, "n": 3},
          items.find_one({"_id": "u1"}))
    result = items.replace_one({"_id": "r1"}, {"x": 1}, upsert=True)
    check("replace_one upsert", result.upserted_id == "r1", result.raw_result)
    items.replace_one({"_id": "r1"}, {"y": 2})
    check("replace_one replaces all fields but _id", items.find_one({"_id": "r1"}) == {"_id": "r1", "y": 2})
    try:
        items.replace_one({"_id": "r1"}, {"_id": "other"})
        check("changing _id is refused", False, "no error")
    except OperationFailure as error:
        check("changing _id is refused", error.code == 66, error)

    checkpoints = db["_mosta_checkpoints"]
    for lsn in ("0/1000", "0/2000"):
        checkpoints.replace_one({"_id": "target"}, {"lsn": lsn}, upsert=True)
    check("_mosta_checkpoints keeps the last checkpoint", checkpoints.find_one({"_id": "target"})["lsn"] == "0/2000")

    rows = db.rows
    requests = [InsertOne({"_id": i, "g": i % 4}) for i in range(3000)]
    requests += [UpdateOne({"_id": i}, {"$set": {"u": True}}, upsert=True) for i in range(100)]
    requests += [ReplaceOne({"_id": -1}, {"g": 9}, upsert=True), DeleteMany({"_id": {"$gte": 2500}}),
                 DeleteOne({"_id": 0})]
    result = rows.bulk_write(requests)
    check("bulk_write counts (document sequences)",
          (result.inserted_count, result.matched_count, result.modified_count, result.upserted_count,
           result.deleted_count) == (3000, 100, 100, 1, 501), result.bulk_api_result)
    check("count_documents after the bulk", rows.count_documents({}) == 2500, rows.count_documents({}))
    check("count_documents with a filter", rows.count_documents({"u": True}) == 99)
    check("estimated_document_count", rows.estimated_document_count() == 2500)
    try:
        rows.bulk_write([InsertOne({"_id": 9000}), InsertOne({"_id": 1}), InsertOne({"_id": 9001})])
        check("ordered bulk stops at a duplicate", False, "no error")
    except BulkWriteError as error:
        details = error.details
        check("ordered bulk stops at a duplicate", details["nInserted"] == 1
              and details["writeErrors"][0]["code"] == 11000 and details["writeErrors"][0]["index"] == 1, details)

    docs = list(rows.find({"g": {"$in": [1, 2]}}, {"g": 1}).sort([("g", -1), ("_id", 1)]).batch_size(50))
    check("find with $in, projection, sort and getMore", len(docs) == 1250 and docs[0] == {"_id": 2, "g": 2}
          and docs[-1] == {"_id": 2497, "g": 1}, (len(docs), docs[:1], docs[-1:]))
    docs = list(rows.find({"_id": {"$gte": 10, "$lt": 100}}).sort("_id", 1).skip(5).limit(3))
    check("find with range, skip and limit", [d["_id"] for d in docs] == [15, 16, 17], docs)
    cursor = rows.find({}).batch_size(10)
    next(cursor)
    cursor_id = cursor.cursor_id
    cursor.close()
    try:
        db.command("getMore", cursor_id, collection="rows")
        check("killCursors (closing a cursor early) ends it on the server", False, "getMore still works")
    except OperationFailure as error:
        check("killCursors (closing a cursor early) ends it on the server", error.code == 43, error)
    counted = list(rows.aggregate([{"$match": {"g": 3}}, {"$count": "n"}]))
    check("aggregate $match/$count", counted == [{"n": 625}], counted)
    grouped = list(rows.aggregate([{"$group": {"_id": "$g", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]))
    check("aggregate $group/$sort", [g["n"] for g in grouped] == [1, 624, 625, 625, 625, 1]
          and grouped[0]["_id"] is None, grouped)

    rows.create_index("g")
    users = db.users
    users.insert_one({"_id": 1, "code": "a"})
    users.create_index([("code", 1)], unique=True, name="code_unique")
    names = [i["name"] for i in rows.list_indexes()] + [i["name"] for i in users.list_indexes()]
    check("create_index / list_indexes", names == ["_id_", "g_1", "_id_", "code_unique"], names)
    try:
        users.insert_many([{"_id": 2, "code": "b"}, {"_id": 3, "code": "a"}])
        check("a unique index is enforced", False, "no error")
    except BulkWriteError as error:
        check("a unique index is enforced", error.details["writeErrors"][0]["code"] == 11000, error.details)

    check("list_collection_names", sorted(db.list_collection_names()) == ["_mosta_checkpoints", "items", "rows", "users"],
          db.list_collection_names())
    db.drop_collection("rows")
    check("drop_collection", "rows" not in db.list_collection_names())
    check("a dropped collection is empty", db.rows.count_documents({}) == 0)
    # renameCollection (mosta-copy publishes a MongoDB copy by renaming its temporary collections)
    db["t.mosta-tmp.1"].insert_many([{"_id": 1, "v": "new"}, {"_id": 2, "v": "new"}])
    db.target.insert_one({"_id": 1, "v": "old"})
    try:
        db["t.mosta-tmp.1"].rename("target")
        check("rename_collection onto an existing collection is refused with 48", False, "no error")
    except OperationFailure as error:
        check("rename_collection onto an existing collection is refused with 48", error.code == 48, error.details)
    db["t.mosta-tmp.1"].rename("target", dropTarget=True)
    check("rename_collection with dropTarget replaces the target",
          sorted(d["v"] for d in db.target.find()) == ["new", "new"]
          and "t.mosta-tmp.1" not in db.list_collection_names(), list(db.target.find()))
    try:
        db.no_such_collection.rename("other")
        check("rename_collection of a missing collection is refused with 26", False, "no error")
    except OperationFailure as error:
        check("rename_collection of a missing collection is refused with 26", error.code == 26, error.details)
    db.drop_collection("target")
    try:
        db.command("noSuchCommandForMosta")
        check("an unknown command gets an error document", False, "no error")
    except OperationFailure as error:
        check("an unknown command gets an error document", error.code == 59
              and error.details.get("codeName") == "CommandNotFound", error.details)
    with client.start_session() as session:
        check("a session works", items.count_documents({}, session=session) == 5)
    client.drop_database(db.name)
    check("drop_database", db.name not in client.list_database_names())


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1]) else 1)
