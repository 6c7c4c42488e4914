// change_stream.cpp
//     Change streams (docs/testing.md): aggregate with a leading $changeStream opens a tailable cursor over the
//     oplog (oplog.hpp) on a collection ({aggregate: "name"}), a database ({aggregate: 1}) or the cluster
//     ({aggregate: 1} on admin with allChangesForCluster); options resumeAfter, startAfter, startAtOperationTime
//     and fullDocument ("default" | "updateLookup"); $match and $project stages after it filter and shape the
//     events. Every batch carries postBatchResumeToken (the position after the last event scanned, also when
//     $match dropped it), and a getMore that finds nothing waits up to its maxTimeMS for a write.
#include "store.hpp"

#include "query.hpp"

#include <cstring>

namespace mosta::testmongod {

namespace {

constexpr int64_t kDefaultBatch = 101;
constexpr int64_t kDefaultAwaitMs = 1000; // a real server's await time when getMore has no maxTimeMS
constexpr size_t kMaxBatchBytes = 16 * 1024 * 1024 - 64 * 1024;

[[noreturn]] void
HistoryLost(const std::string &why) {
	throw CommandError(286, "ChangeStreamHistoryLost",
					   "Resume of change stream was not possible, as the resume point may no longer be in the oplog: " +
						   why);
}

std::string
Hex(uint64_t sequence) {
	BsonPtr token = ResumeToken(sequence);
	bson_iter_t it;
	bson_iter_init_find(&it, token.get(), "_data");
	return bson_iter_utf8(&it, nullptr);
}

bool
IsInternalDatabase(const std::string &db) {
	return db == "admin" || db == "config" || db == "local";
}

} // namespace

BsonPtr
Store::OpenChangeStream(const std::string &db, const bson_t *body, const bson_t *pipeline) {
	ChangeStream stream;
	bson_iter_t it;
	bson_iter_init(&it, pipeline);
	bson_iter_next(&it);
	StaticBson first(&it);
	bson_iter_t spec_it;
	bson_iter_init_find(&spec_it, first.get(), "$changeStream");
	if (!BSON_ITER_HOLDS_DOCUMENT(&spec_it))
		throw CommandError(40573, "Location40573", "the $changeStream stage must be a document of options");
	StaticBson spec(&spec_it);
	std::optional<uint64_t> resume;
	std::optional<ClusterTime> start_at;
	bool cluster = false;
	bson_iter_init(&it, spec.get());
	while (bson_iter_next(&it)) {
		std::string option = bson_iter_key(&it);
		if (option == "fullDocument") {
			std::string value = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
			if (value != "default" && value != "updateLookup")
				throw CommandError(2, "BadValue",
								   "fullDocument must be \"default\" or \"updateLookup\" (mosta-test-mongod), not " +
									   ValueToJson(*bson_iter_value(&it)));
			stream.lookup = value == "updateLookup";
		} else if (option == "resumeAfter" || option == "startAfter") {
			if (resume)
				throw CommandError(50865, "Location50865", "Do not specify both 'startAfter' and 'resumeAfter'");
			resume = ParseResumeToken(*bson_iter_value(&it));
			if (!resume)
				throw CommandError(260, "InvalidResumeToken",
								   option +
									   " is not a resume token of this server: " + ValueToJson(*bson_iter_value(&it)));
		} else if (option == "startAtOperationTime") {
			if (!BSON_ITER_HOLDS_TIMESTAMP(&it))
				throw CommandError(14, "TypeMismatch", "startAtOperationTime must be a Timestamp");
			ClusterTime time;
			bson_iter_timestamp(&it, &time.seconds, &time.increment);
			start_at = time;
		} else if (option == "allChangesForCluster") {
			cluster = Truthy(*bson_iter_value(&it));
		} else if (option == "fullDocumentBeforeChange") {
			if (!BSON_ITER_HOLDS_UTF8(&it) || std::strcmp(bson_iter_utf8(&it, nullptr), "off") != 0)
				throw CommandError(2, "BadValue",
								   "mosta-test-mongod keeps no pre-images: fullDocumentBeforeChange "
								   "must be \"off\"");
		} else if (option != "showExpandedEvents") {
			throw CommandError(40415, "Location40415",
							   "BSON field '$changeStream." + option + "' is an unknown field.");
		}
	}
	if (resume && start_at)
		throw CommandError(40674, "Location40674",
						   "Only one type of resume option is allowed, but multiple were found.");

	// The scope: {aggregate: "coll"}, {aggregate: 1} on a database, or the cluster from admin.
	bson_iter_t target;
	std::string ns;
	if (!bson_iter_init_find(&target, body, "aggregate"))
		throw CommandError(73, "InvalidNamespace", "aggregate needs a collection name or 1");
	if (BSON_ITER_HOLDS_UTF8(&target)) {
		if (cluster)
			throw CommandError(72, "InvalidOptions",
							   "allChangesForCluster is only allowed with {aggregate: 1} on the admin database");
		stream.db = db;
		stream.coll = bson_iter_utf8(&target, nullptr);
		ns = db + "." + stream.coll;
	} else if (IsNumber(bson_iter_type(&target)) && NumberAsInt64(*bson_iter_value(&target)) == 1) {
		if (cluster != (db == "admin"))
			throw CommandError(72, "InvalidOptions",
							   cluster ? "allChangesForCluster needs the admin database"
									   : "a change stream on the admin database needs allChangesForCluster: true");
		stream.db = cluster ? "" : db;
		ns = db + ".$cmd.aggregate";
	} else {
		throw CommandError(73, "InvalidNamespace", "aggregate needs a collection name or 1");
	}
	if (!cluster && IsInternalDatabase(db))
		throw CommandError(73, "InvalidNamespace",
						   "$changeStream may not be opened on the internal " + db + " database");

	// Later stages: $match and $project over the events.
	bson_iter_init(&it, pipeline);
	bson_iter_next(&it);
	while (bson_iter_next(&it)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			throw CommandError(14, "TypeMismatch", "each pipeline stage must be a document");
		StaticBson stage(&it);
		bson_iter_t name;
		if (!bson_iter_init(&name, stage.get()) || !bson_iter_next(&name) ||
			(std::strcmp(bson_iter_key(&name), "$match") != 0 && std::strcmp(bson_iter_key(&name), "$project") != 0) ||
			!BSON_ITER_HOLDS_DOCUMENT(&name))
			throw CommandError(40324, "Location40324",
							   "after $changeStream mosta-test-mongod implements $match and $project only");
		stream.stages.push_back(CopyBson(stage.get()));
	}

	if (resume) {
		if (*resume > oplog_.Last())
			HistoryLost("the resume token " + Hex(*resume) + " is newer than this server's last event " +
						Hex(oplog_.Last()) + " (mosta-test-mongod keeps its history in memory: was it restarted?)");
		if (*resume + 1 < oplog_.First())
			HistoryLost("the events after the resume token " + Hex(*resume) + " are gone (the oplog holds " +
						Hex(oplog_.First()) + " on; a larger --oplog-size keeps more)");
		stream.position = *resume;
	} else if (start_at) {
		const OplogEntry *oldest = oplog_.At(oplog_.First());
		if (oplog_.First() > 1 && (!oldest || *start_at < oldest->time))
			HistoryLost("startAtOperationTime is older than the oldest event held (a larger --oplog-size keeps "
						"more)");
		stream.position = oplog_.FirstAtOrAfter(*start_at) - 1;
	} else {
		stream.position = oplog_.Last();
	}

	int64_t batch_size = kDefaultBatch;
	bson_iter_t cursor_it;
	if (bson_iter_init_find(&cursor_it, body, "cursor") && BSON_ITER_HOLDS_DOCUMENT(&cursor_it)) {
		StaticBson options(&cursor_it);
		bson_iter_t size;
		if (bson_iter_init_find(&size, options.get(), "batchSize") && IsNumber(bson_iter_type(&size)))
			batch_size = NumberAsInt64(*bson_iter_value(&size));
	}
	Cursor cursor{ns, {}, 0, nullptr, std::nullopt, std::move(stream)};
	return StreamReply(0, std::move(cursor), batch_size, "firstBatch", nullptr, 0);
}

const bson_t *
Store::CurrentDocument(const OplogEntry &entry) {
	Collection *collection = FindCollection(entry.ns->db, entry.ns->coll);
	if (!collection || entry.id.empty())
		return nullptr;
	auto found = collection->by_id.find(CanonicalKey(entry.id.get()));
	return found == collection->by_id.end() ? nullptr : found->second->doc.get();
}

BsonPtr
Store::StreamReply(int64_t cursor_id, Cursor cursor, int64_t batch_size, const char *batch_name,
				   CommandContext *context, int64_t max_time_ms) {
	ChangeStream &stream = *cursor.stream;
	if (stream.position + 1 < oplog_.First()) {
		cursors_.erase(cursor_id);
		HistoryLost("this stream's next event " + Hex(stream.position + 1) +
					" was dropped from the oplog before it was read (a larger --oplog-size keeps more)");
	}
	// scope: the events a stream sees; closes: the ones after which it is invalidated
	auto in_scope = [&stream](const OplogEntry &e) {
		const Namespace &ns = *e.ns;
		if (stream.db.empty())
			return !IsInternalDatabase(ns.db);
		if (ns.db != stream.db)
			return false;
		if (stream.coll.empty())
			return ns.coll.rfind("system.", 0) != 0;
		return ns.coll == stream.coll && e.op != OpType::DropDatabase;
	};
	auto closes = [&stream](const OplogEntry &e) {
		if (stream.db.empty())
			return false;
		if (stream.coll.empty())
			return e.op == OpType::DropDatabase;
		return e.op == OpType::Drop || e.op == OpType::Rename;
	};

	BsonPtr reply = NewBson();
	bson_t body, batch;
	BSON_APPEND_DOCUMENT_BEGIN(reply.get(), "cursor", &body);
	bson_append_array_begin(&body, batch_name, -1, &batch);
	int64_t count = 0;
	size_t bytes = 0;
	auto append = [&](const bson_t *event) {
		std::string key = std::to_string(count++);
		bson_append_document(&batch, key.c_str(), -1, event);
		bytes += event->len;
	};
	for (uint64_t sequence = stream.position + 1; sequence <= oplog_.Last() && !stream.invalidated; sequence++) {
		if (batch_size >= 0 && count >= batch_size)
			break;
		const OplogEntry &entry = *oplog_.At(sequence);
		if (in_scope(entry)) {
			const bson_t *current = stream.lookup && entry.op == OpType::Update ? CurrentDocument(entry) : nullptr;
			BsonPtr event = ChangeEvent(entry, stream.lookup, current);
			bool kept = true;
			for (const auto &stage : stream.stages) {
				bson_iter_t it;
				bson_iter_init(&it, stage.get());
				bson_iter_next(&it);
				StaticBson argument(&it);
				if (std::strcmp(bson_iter_key(&it), "$match") == 0) {
					kept = Matches(event.get(), argument.get());
					if (!kept)
						break;
				} else {
					event = Project(event.get(), argument.get());
				}
			}
			if (kept) {
				if (count > 0 && bytes + event->len > kMaxBatchBytes)
					break;
				append(event.get());
			}
			if (closes(entry)) {
				BsonPtr invalidate = InvalidateEvent(entry);
				append(invalidate.get());
				stream.invalidated = true;
			}
		}
		stream.position = sequence;
	}
	if (count == 0 && !stream.invalidated && context && context->may_wait) {
		int64_t wait = max_time_ms < 0 ? kDefaultAwaitMs : max_time_ms;
		if (wait > 0) {
			bson_append_array_end(&body, &batch);
			bson_append_document_end(reply.get(), &body);
			context->wait = std::chrono::milliseconds(wait);
			cursors_[cursor_id] = std::move(cursor);
			return reply; // not sent: the connection waits, then runs the getMore again
		}
	}
	bson_append_array_end(&body, &batch);
	BsonPtr token = ResumeToken(stream.position);
	BSON_APPEND_DOCUMENT(&body, "postBatchResumeToken", token.get());
	std::string ns = cursor.ns;
	if (stream.invalidated) {
		cursors_.erase(cursor_id);
		cursor_id = 0;
	} else {
		if (cursor_id == 0)
			cursor_id = next_cursor_id_++;
		cursors_[cursor_id] = std::move(cursor);
	}
	BSON_APPEND_INT64(&body, "id", cursor_id);
	BSON_APPEND_UTF8(&body, "ns", ns.c_str());
	bson_append_document_end(reply.get(), &body);
	ClusterTime time = oplog_.LastTime();
	bson_append_timestamp(reply.get(), "operationTime", -1, time.seconds, time.increment);
	BSON_APPEND_DOUBLE(reply.get(), "ok", 1.0);
	return reply;
}

} // namespace mosta::testmongod
