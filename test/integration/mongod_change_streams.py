#!/usr/bin/python3
"""mongod_change_streams.py URI [SMALL_OPLOG_URI]: change streams of mosta-test-mongod driven by pymongo (Debian's
python3-pymongo): insert/update/replace/delete events and their fields, resume after a token (nothing lost, nothing
repeated), start_after, startAtOperationTime, fullDocument updateLookup, $match on events, database and cluster
streams, a drop that invalidates a collection stream, a getMore that waits and returns a write made meanwhile by
another client, postBatchResumeToken in every batch, the migration data set's writer (migrate/shop_data.py) replayed
from a database stream onto a snapshot giving the database's final state, and (SMALL_OPLOG_URI: a server started
with a small --oplog-size) ChangeStreamHistoryLost (286) for a token whose history is gone. Prints one TAP-style
line per check."""
import os
import sys
import threading
import time

import copy

import pymongo
from bson import Timestamp
from pymongo.errors import OperationFailure

results = []


def check(description, condition, detail=""):
    results.append(bool(condition))
    print(("ok - " if condition else "not ok - ") + description + ("" if condition else f"  ({detail!r})"))


def drain(stream, n, deadline_s=10):
    """The next n events of stream (fewer if they do not come before the deadline)."""
    events = []
    deadline = time.monotonic() + deadline_s
    while len(events) < n and time.monotonic() < deadline:
        event = stream.try_next()
        if event is not None:
            events.append(event)
    return events


def main(uri, small_uri):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    name = f"mosta_streams_{os.getpid()}"
    client.drop_database(name)
    try:
        run(client, client[name], uri)
        replay(client, name + "_shop")
        if small_uri:
            history_lost(pymongo.MongoClient(small_uri, serverSelectionTimeoutMS=5000))
    finally:
        client.drop_database(name)
    return all(results)


def run(client, db, uri):
    hello = client.admin.command("hello")
    check("hello claims a replica set primary (setName, hosts, primary)",
          hello.get("setName") == "rs0" and hello.get("isWritablePrimary") and hello.get("hosts")
          and hello.get("primary") == hello["hosts"][0], hello)
    items = db.items

    # Every operation type with its fields.
    stream = items.watch(max_await_time_ms=200)
    check("the aggregate's first batch carries a postBatchResumeToken", stream.resume_token is not None
          and "_data" in stream.resume_token, stream.resume_token)
    items.insert_one({"_id": 1, "name": "a", "sub": {"x": 1, "y": 2}, "tags": ["t"]})
    items.update_one({"_id": 1}, {"$set": {"sub.x": 10, "extra": True}, "$unset": {"name": ""},
                                  "$push": {"tags": "u"}})
    items.replace_one({"_id": 1}, {"whole": "new"})
    items.delete_one({"_id": 1})
    insert, update, replace, delete = (drain(stream, 4) + [None] * 4)[:4]
    check("insert event: operationType, fullDocument, documentKey, ns",
          insert and insert["operationType"] == "insert" and insert["fullDocument"]["name"] == "a"
          and insert["documentKey"] == {"_id": 1} and insert["ns"] == {"db": db.name, "coll": "items"}, insert)
    check("events carry clusterTime (Timestamp) and wallTime",
          insert and isinstance(insert.get("clusterTime"), Timestamp) and insert.get("wallTime") is not None, insert)
    description = (update or {}).get("updateDescription", {})
    check("update event: updatedFields with dotted paths, removedFields, truncatedArrays, no fullDocument",
          update and update["operationType"] == "update" and description.get("updatedFields") ==
          {"sub.x": 10, "extra": True, "tags": ["t", "u"]} and description.get("removedFields") == ["name"]
          and description.get("truncatedArrays") == [] and "fullDocument" not in update, update)
    check("replace event: the new document", replace and replace["operationType"] == "replace"
          and replace["fullDocument"] == {"_id": 1, "whole": "new"}, replace)
    check("delete event: documentKey only", delete and delete["operationType"] == "delete"
          and delete["documentKey"] == {"_id": 1} and "fullDocument" not in delete, delete)
    tokens = [e["_id"]["_data"] for e in (insert, update, replace, delete) if e]
    check("resume tokens grow with the events", len(tokens) == 4 and tokens == sorted(tokens) and
          len(set(tokens)) == 4, tokens)
    times = [e["clusterTime"] for e in (insert, update, replace, delete) if e]
    check("cluster times grow with the events", times == sorted(times) and len(set(times)) == 4, times)
    stream.close()

    # Resume: nothing lost, nothing repeated.
    stream = items.watch(max_await_time_ms=200)
    items.insert_many([{"_id": 100 + i} for i in range(10)])
    first = drain(stream, 4)
    token = first[-1]["_id"] if first else None
    stream.close()
    items.insert_many([{"_id": 200 + i} for i in range(5)])
    resumed = drain(items.watch(resume_after=token, max_await_time_ms=200), 11)
    ids = [e["documentKey"]["_id"] for e in first + resumed]
    check("resume_after a token: every later event once, in order (none lost, none repeated)",
          ids == [100 + i for i in range(10)] + [200 + i for i in range(5)], ids)
    started = drain(items.watch(start_after=token, max_await_time_ms=200), 11)
    check("start_after a token gives the same events", [e["documentKey"]["_id"] for e in started] ==
          ids[4:], [e["documentKey"]["_id"] for e in started])
    at_time = drain(items.watch(start_at_operation_time=first[1]["clusterTime"], max_await_time_ms=200), 14)
    check("start_at_operation_time starts at the event of that time",
          [e["documentKey"]["_id"] for e in at_time] == ids[1:], [e["documentKey"]["_id"] for e in at_time])

    # updateLookup: the document as it is when the event is read.
    stream = items.watch(full_document="updateLookup", max_await_time_ms=200)
    items.update_one({"_id": 100}, {"$set": {"v": 1}})
    items.update_one({"_id": 100}, {"$set": {"w": 2}})
    events = drain(stream, 2)
    check("updateLookup: update events carry the current full document",
          len(events) == 2 and all(e.get("fullDocument") == {"_id": 100, "v": 1, "w": 2} for e in events), events)
    items.update_one({"_id": 101}, {"$set": {"v": 1}})
    items.delete_one({"_id": 101})
    events = drain(stream, 2)
    check("updateLookup of a document deleted since: fullDocument null",
          len(events) == 2 and events[0]["operationType"] == "update" and events[0]["fullDocument"] is None, events)
    stream.close()

    # $match on events, and postBatchResumeToken moving past filtered events.
    stream = items.watch([{"$match": {"operationType": "delete"}}], max_await_time_ms=200)
    before = stream.resume_token
    items.insert_one({"_id": 300})
    check("a $match that drops every event: no event, but the postBatchResumeToken moves on",
          stream.try_next() is None and stream.resume_token != before, (before, stream.resume_token))
    items.delete_one({"_id": 300})
    events = drain(stream, 1)
    check("$match on operationType keeps the delete only", [e["operationType"] for e in events] == ["delete"], events)
    stream.close()

    # Database and cluster streams.
    database_stream = db.watch(max_await_time_ms=200)
    cluster_stream = client.watch(max_await_time_ms=200)
    db.other.insert_one({"_id": "o"})
    items.insert_one({"_id": 400})
    events = drain(database_stream, 2)
    check("a database stream sees every collection of the database",
          [(e["ns"]["coll"], e["documentKey"]["_id"]) for e in events] == [("other", "o"), ("items", 400)], events)
    events = drain(cluster_stream, 2)
    check("a cluster stream (allChangesForCluster) sees them too",
          [(e["ns"]["db"], e["documentKey"]["_id"]) for e in events] == [(db.name, "o"), (db.name, 400)], events)
    cluster_stream.close()

    # Drop: a drop event, then invalidate, for a stream on the collection.
    stream = db.other.watch(max_await_time_ms=200)
    db.other.drop()
    events = drain(stream, 2)
    check("dropping the collection: drop then invalidate", [e["operationType"] for e in events] ==
          ["drop", "invalidate"], events)
    check("the database stream sees the drop", [e["operationType"] for e in drain(database_stream, 1)] == ["drop"])
    db.src.insert_one({"_id": 1})
    db.src.rename("dst")
    db.dst.insert_one({"_id": 2})
    events = drain(database_stream, 3)
    check("rename: a rename event naming the new collection; later events name it too",
          [(e["operationType"], e["ns"].get("coll"), e.get("to", {}).get("coll")) for e in events] ==
          [("insert", "src", None), ("rename", "src", "dst"), ("insert", "dst", None)], events)
    database_stream.close()

    # A getMore that waits: another client's write made while it waits is returned by it.
    stream = items.watch(max_await_time_ms=10000)
    other = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    written = threading.Event()

    def write_later():
        # the waiting getMore must not block this connection's write
        other[db.name].items.insert_one({"_id": 500})
        written.set()

    started = time.monotonic()
    timer = threading.Timer(0.3, write_later)
    timer.start()
    event = stream.try_next()
    timer.join()
    check("a waiting getMore returns another client's write made meanwhile (one getMore)",
          event is not None and event["documentKey"] == {"_id": 500} and written.is_set(), event)
    check("and returned before its maxTimeMS ran out", time.monotonic() - started < 10, time.monotonic() - started)
    stream.close()

    # Errors.
    try:
        items.watch(resume_after={"_data": "not a token"})
        check("a malformed resume token is refused", False)
    except OperationFailure as error:
        check("a malformed resume token is refused (260 InvalidResumeToken)", error.code == 260, error.details)
    try:
        items.watch(resume_after={"_data": "7FFFFFFFFFFFFFFF"})
        check("a token newer than the server's history is refused", False)
    except OperationFailure as error:
        check("a token newer than the server's history: 286 ChangeStreamHistoryLost", error.code == 286,
              error.details)


def set_path(doc, path, value, remove=False):
    """Sets (or removes) the field at a dotted path of doc."""
    *parents, last = path.split(".")
    for part in parents:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    if remove:
        del doc[last]
    elif isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


def replay(client, name):
    """The shop data set, a snapshot of it, a database stream over the writer's random operations: applying the
    events to the snapshot (fullDocument of inserts and replaces, updateDescription of updates, deletes) must give
    the database as the writer left it, and the events must match the writer's counts."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrate"))
    import shop_data
    db = client[name]
    client.drop_database(name)
    sizes = {coll: max(1, n // 4) for coll, n in shop_data.DEFAULT_SIZES.items()}
    docs, _ = shop_data.build(shop_data.Generator(7), sizes, 0)
    shop_data.create_indexes(db)
    for coll in shop_data.COLLECTIONS:
        db[coll].insert_many(docs[coll])
    snapshot = {coll: {d["_id"]: d for d in db[coll].find()} for coll in shop_data.COLLECTIONS}
    stream = db.watch(max_await_time_ms=100, batch_size=50)
    summary = shop_data.Writer(db, 7).run(60, 400, 0)
    check("the shop writer makes 400 operations without a write error", summary["operations"] == 400
          and summary["errors"] == 0, summary.get("error_messages"))
    seen = {"insert": 0, "update": 0, "replace": 0, "delete": 0}
    state = copy.deepcopy(snapshot)
    idle = 0
    while idle < 2:  # two empty getMores in a row: the stream has caught up with the writer
        event = stream.try_next()
        if event is None:
            idle += 1
            continue
        idle = 0
        kind, coll, key = event["operationType"], event["ns"]["coll"], event["documentKey"]["_id"]
        seen[kind] += 1
        if kind in ("insert", "replace"):
            state[coll][key] = event["fullDocument"]
        elif kind == "delete":
            del state[coll][key]
        else:
            for path, value in event["updateDescription"]["updatedFields"].items():
                set_path(state[coll][key], path, value)
            for path in event["updateDescription"]["removedFields"]:
                set_path(state[coll][key], path, None, remove=True)
    final = {coll: {d["_id"]: d for d in db[coll].find()} for coll in shop_data.COLLECTIONS}
    wrong = [(coll, key) for coll in final for key in set(final[coll]) | set(state[coll])
             if final[coll].get(key) != state[coll].get(key)]
    check("the writer's events replayed onto the snapshot give the final database", not wrong and final != snapshot,
          wrong[:5])
    total = lambda kind: sum(summary[kind].values())
    check("one insert, replace and delete event per write of the writer (updates: one per changed document)",
          seen["insert"] == total("inserted") and seen["replace"] == total("replaced")
          and seen["delete"] == total("deleted") and 0 < seen["update"] <= total("updated"), (seen, summary))
    stream.close()
    client.drop_database(name)


def history_lost(client):
    """Against a server started with --oplog-size 5: a token older than the kept history fails with 286, both when
    the stream is opened and when its cursor falls behind."""
    db = client[f"mosta_lost_{os.getpid()}"]
    stream = db.items.watch(max_await_time_ms=200)
    db.items.insert_one({"_id": 0})
    token = drain(stream, 1)[0]["_id"]
    stream.close()
    db.items.insert_many([{"_id": i} for i in range(1, 11)])
    try:
        db.items.watch(resume_after=token)
        check("resuming after a token whose history was dropped fails", False)
    except OperationFailure as error:
        check("resuming after a token whose history was dropped: 286 ChangeStreamHistoryLost", error.code == 286
              and "oplog-size" in str(error), error.details)
    stream = db.items.watch(max_await_time_ms=200)
    db.items.insert_many([{"_id": i} for i in range(11, 30)])
    try:
        stream.try_next()
        check("a stream that fell behind the oplog fails", False)
    except OperationFailure as error:
        check("a stream that fell behind the oplog: 286 ChangeStreamHistoryLost", error.code == 286, error.details)
    client.drop_database(db.name)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None) else 1)
