/*
 * backfill_reader.cpp
 *     BatchReader (backfill_reader.hpp).
 */
#include "backfill_reader.hpp"

#include <algorithm>
#include <chrono>

#include "sink/mongo_bson.hpp"

namespace mosta::migrate {

namespace {

using sidecar::BsonHandle;
using Clock = std::chrono::steady_clock;

double
Seconds(Clock::time_point from, Clock::time_point to) {
	return std::chrono::duration<double>(to - from).count();
}

// AfterFilter returns {_id: {$gt: <the checkpoint's _id>}}, or {} without a checkpoint.
BsonHandle
AfterFilter(const std::optional<std::string> &last_id, const std::string &collection) {
	BsonHandle filter(bson_new());
	if (!last_id)
		return filter;
	bson_error_t error;
	BsonHandle last(bson_new_from_json(reinterpret_cast<const std::uint8_t *>(last_id->data()),
									   static_cast<ssize_t>(last_id->size()), &error));
	bson_iter_t id;
	if (!last || !bson_iter_init_find(&id, last.get(), "_id"))
		throw std::runtime_error("the checkpoint of collection " + collection + " holds an unreadable last_id (" +
								 *last_id + "); fix or delete its row in mosta_migration.checkpoints");
	bson_t after;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &after);
	BSON_APPEND_VALUE(&after, "$gt", bson_iter_value(&id));
	bson_append_document_end(filter.get(), &after);
	return filter;
}

} // namespace

std::string
IdJson(const bson_t *doc) {
	bson_iter_t id;
	BsonHandle holder(bson_new());
	if (bson_iter_init_find(&id, doc, "_id"))
		BSON_APPEND_VALUE(holder.get(), "_id", bson_iter_value(&id));
	char *json = bson_as_relaxed_extended_json(holder.get(), nullptr);
	std::string text = json != nullptr ? json : "";
	bson_free(json);
	return text;
}

mapping::MappedDocument
TransformOrReject(const mapping::Mapping &mapping, const mapping::CollectionMap &collection, const bson_t *doc) {
	try {
		return mapping::TransformDocument(mapping, collection, doc);
	} catch (const mapping::MappingError &e) {
		mapping::MappedDocument rejected;
		std::string id = IdJson(doc);
		// { "_id" : X } → X: the problem's key
		std::size_t colon = id.find(':');
		rejected.legacy_id = colon == std::string::npos ? id : id.substr(colon + 2, id.size() - colon - 4);
		rejected.problems.push_back(mapping::TransformProblem{"_id", rejected.legacy_id, e.what()});
		return rejected;
	}
}

bson_t *
NewFindOptions(std::int64_t batch) {
	return BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "batchSize",
					BCON_INT32(static_cast<std::int32_t>(std::min<std::int64_t>(batch, 1 << 20))));
}

BatchReader::BatchReader(MongoSource &source, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
						 std::optional<std::string> last_id, std::int64_t batch)
	: source_(source), mapping_(mapping), collection_(collection), last_id_(std::move(last_id)), batch_(batch),
	  thread_([this] { Run(); }) {}

BatchReader::~BatchReader() {
	{
		std::lock_guard<std::mutex> lock(mutex_);
		stop_ = true;
	}
	changed_.notify_all();
	thread_.join();
}

bool
BatchReader::Next(ReadBatch &batch) {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return !ready_.empty() || finished_; });
	if (!ready_.empty()) {
		batch = std::move(ready_.front());
		ready_.pop_front();
		changed_.notify_all();
		return true;
	}
	if (error_)
		std::rethrow_exception(error_);
	return false;
}

bool
BatchReader::Push(ReadBatch &&batch) {
	std::unique_lock<std::mutex> lock(mutex_);
	changed_.wait(lock, [this] { return ready_.size() < kBatchesAhead || stop_; });
	if (stop_)
		return false;
	ready_.push_back(std::move(batch));
	changed_.notify_all();
	return true;
}

void
BatchReader::Run() noexcept {
	try {
		Read();
	} catch (...) {
		std::lock_guard<std::mutex> lock(mutex_);
		error_ = std::current_exception();
	}
	std::lock_guard<std::mutex> lock(mutex_);
	finished_ = true;
	changed_.notify_all();
}

void
BatchReader::Read() {
	MongoCollection handle = source_.Collection(collection_.collection);
	BsonHandle filter = AfterFilter(last_id_, collection_.collection);
	BsonHandle opts(NewFindOptions(batch_));
	MongoCursor cursor(mongoc_collection_find_with_opts(handle.get(), filter.get(), opts.get(), nullptr));
	ReadBatch batch;
	// the last _id read (copied: a document lives until the cursor's next call), the batch's checkpoint
	bson_value_t last{};
	struct LastValue {
		bson_value_t &value;
		~LastValue() {
			bson_value_destroy(&value);
		}
	} last_owner{last};
	for (;;) {
		const bson_t *doc = nullptr;
		Clock::time_point start = Clock::now();
		bool got = mongoc_cursor_next(cursor.get(), &doc);
		Clock::time_point read = Clock::now();
		batch.read_seconds += Seconds(start, read);
		if (got) {
			batch.docs.push_back(TransformOrReject(mapping_, collection_, doc));
			bson_iter_t id;
			if (bson_iter_init_find(&id, doc, "_id")) {
				bson_value_destroy(&last);
				bson_value_copy(bson_iter_value(&id), &last);
			}
			batch.map_seconds += Seconds(read, Clock::now());
			if (static_cast<std::int64_t>(batch.docs.size()) < batch_)
				continue;
		} else {
			bson_error_t error;
			if (mongoc_cursor_error(cursor.get(), &error))
				source_.Fail("reading collection " + collection_.collection, error);
		}
		if (!batch.docs.empty()) {
			BsonHandle holder(bson_new());
			BSON_APPEND_VALUE(holder.get(), "_id", &last);
			char *json = bson_as_relaxed_extended_json(holder.get(), nullptr);
			batch.last_id = json != nullptr ? json : "";
			bson_free(json);
			if (!Push(std::move(batch)))
				return;
			batch = ReadBatch{};
		}
		if (!got)
			return;
		std::lock_guard<std::mutex> lock(mutex_);
		if (stop_)
			return;
	}
}

} // namespace mosta::migrate
