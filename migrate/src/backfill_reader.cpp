/*
 * backfill_reader.cpp
 *     BatchReader (backfill_reader.hpp).
 */
#include "backfill_reader.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "sink/mongo_bson.hpp"

namespace mosta::migrate {

namespace {

using sidecar::BsonHandle;
using Clock = std::chrono::steady_clock;

double
Seconds(Clock::time_point from, Clock::time_point to) {
	return std::chrono::duration<double>(to - from).count();
}

// TypeClass returns the rank of a BSON type among MongoDB's comparison classes (numbers 3, strings 4, ObjectId 8,
// ...), as both MongoDB and mosta-test-mongod sort them.
int
TypeClass(bson_type_t type) {
	switch (type) {
	case BSON_TYPE_MINKEY:
		return 1;
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
		return 2;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_DECIMAL128:
		return 3;
	case BSON_TYPE_UTF8:
	case BSON_TYPE_SYMBOL:
		return 4;
	case BSON_TYPE_DOCUMENT:
		return 5;
	case BSON_TYPE_ARRAY:
		return 6;
	case BSON_TYPE_BINARY:
		return 7;
	case BSON_TYPE_OID:
		return 8;
	case BSON_TYPE_BOOL:
		return 9;
	case BSON_TYPE_DATE_TIME:
		return 10;
	case BSON_TYPE_TIMESTAMP:
		return 11;
	default:
		return 12;
	}
}

// IdFilter returns {_id: {op: value}}.
BsonHandle
IdFilter(const char *op, const bson_value_t &value) {
	BsonHandle filter(bson_new());
	bson_t condition;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &condition);
	BSON_APPEND_VALUE(&condition, op, &value);
	bson_append_document_end(filter.get(), &condition);
	return filter;
}

// AfterFilters returns the finds that read, in _id order, every document after the checkpoint's _id: {} without
// one. MongoDB compares values of one type class only ({_id: {$gt: 10}} never matches a string), so after
// {_id: {$gt: last}} comes one find per later class that an _id can hold ({_id: {$gte: <its least value>}}); each
// keeps to _id conditions, which the server answers from its _id index.
std::vector<BsonHandle>
AfterFilters(const std::optional<std::string> &last_id, const std::string &collection) {
	std::vector<BsonHandle> filters;
	if (!last_id) {
		filters.emplace_back(bson_new());
		return filters;
	}
	bson_error_t error;
	BsonHandle last(bson_new_from_json(reinterpret_cast<const std::uint8_t *>(last_id->data()),
									   static_cast<ssize_t>(last_id->size()), &error));
	bson_iter_t id;
	if (!last || !bson_iter_init_find(&id, last.get(), "_id"))
		throw std::runtime_error("the checkpoint of collection " + collection + " holds an unreadable last_id (" +
								 *last_id + "); fix or delete its row in mosta_migration.checkpoints");
	const bson_value_t &value = *bson_iter_value(&id);
	filters.push_back(IdFilter("$gt", value));
	// the least value of each class, in class order
	bson_value_t least[8];
	least[0].value_type = BSON_TYPE_DOUBLE;
	least[0].value.v_double = -std::numeric_limits<double>::infinity();
	least[1].value_type = BSON_TYPE_UTF8;
	least[1].value.v_utf8.str = const_cast<char *>("");
	least[1].value.v_utf8.len = 0;
	BsonHandle empty(bson_new());
	least[2].value_type = BSON_TYPE_DOCUMENT;
	least[2].value.v_doc.data = const_cast<std::uint8_t *>(bson_get_data(empty.get()));
	least[2].value.v_doc.data_len = empty.get()->len;
	least[3].value_type = BSON_TYPE_BINARY;
	least[3].value.v_binary.subtype = BSON_SUBTYPE_BINARY;
	least[3].value.v_binary.data = nullptr;
	least[3].value.v_binary.data_len = 0;
	least[4].value_type = BSON_TYPE_OID;
	bson_oid_init_from_string(&least[4].value.v_oid, "000000000000000000000000");
	least[5].value_type = BSON_TYPE_BOOL;
	least[5].value.v_bool = false;
	least[6].value_type = BSON_TYPE_DATE_TIME;
	least[6].value.v_datetime = std::numeric_limits<std::int64_t>::min();
	least[7].value_type = BSON_TYPE_TIMESTAMP;
	least[7].value.v_timestamp.timestamp = 0;
	least[7].value.v_timestamp.increment = 0;
	for (const bson_value_t &start : least)
		if (TypeClass(start.value_type) > TypeClass(value.value_type))
			filters.push_back(IdFilter("$gte", start));
	return filters;
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
	std::vector<BsonHandle> filters = AfterFilters(last_id_, collection_.collection);
	BsonHandle opts(NewFindOptions(batch_));
	std::size_t next_filter = 0;
	MongoCursor cursor(
		mongoc_collection_find_with_opts(handle.get(), filters[next_filter++].get(), opts.get(), nullptr));
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
			if (next_filter < filters.size()) { // the next type class of _ids
				cursor.reset(
					mongoc_collection_find_with_opts(handle.get(), filters[next_filter++].get(), opts.get(), nullptr));
				continue;
			}
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
