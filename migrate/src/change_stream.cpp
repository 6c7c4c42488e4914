/*
 * change_stream.cpp
 *     ChangeStream and the event decoding (change_stream.hpp).
 */
#include "change_stream.hpp"

#include <cstring>
#include <map>

#include "mosta/common/conninfo.hpp"

namespace mosta::migrate {

namespace {

ChangeOp
OpOf(const std::string &operation) {
	static const std::map<std::string, ChangeOp> ops = {
		{"insert", ChangeOp::Insert},
		{"update", ChangeOp::Update},
		{"replace", ChangeOp::Replace},
		{"delete", ChangeOp::Delete},
		{"drop", ChangeOp::Drop},
		{"rename", ChangeOp::Rename},
		{"dropDatabase", ChangeOp::DropDatabase},
		{"invalidate", ChangeOp::Invalidate},
	};
	auto found = ops.find(operation);
	return found == ops.end() ? ChangeOp::Other : found->second;
}

// CopyDocument returns an owned copy of the document iter points at (empty handle when it holds no document).
sidecar::BsonHandle
CopyDocument(const bson_iter_t *iter) {
	if (!BSON_ITER_HOLDS_DOCUMENT(iter))
		return {};
	std::uint32_t length = 0;
	const std::uint8_t *data = nullptr;
	bson_iter_document(iter, &length, &data);
	return sidecar::BsonHandle(bson_new_from_data(data, length));
}

// StringAt returns the string at dotted path in doc, "" when absent.
std::string
StringAt(const bson_t *doc, const char *path) {
	bson_iter_t iter;
	if (bson_iter_init(&iter, doc) && bson_iter_find_descendant(&iter, path, &iter) && BSON_ITER_HOLDS_UTF8(&iter))
		return bson_iter_utf8(&iter, nullptr);
	return {};
}

std::int64_t
WallMs(const bson_t *event) {
	bson_iter_t iter;
	if (bson_iter_init_find(&iter, event, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&iter))
		return bson_iter_date_time(&iter);
	if (bson_iter_init_find(&iter, event, "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&iter)) {
		std::uint32_t seconds = 0, increment = 0;
		bson_iter_timestamp(&iter, &seconds, &increment);
		return static_cast<std::int64_t>(seconds) * 1000;
	}
	return 0;
}

bool
IsDataChange(ChangeOp op) noexcept {
	return op == ChangeOp::Insert || op == ChangeOp::Update || op == ChangeOp::Replace || op == ChangeOp::Delete;
}

} // namespace

ChangeEvent
DecodeChangeEvent(const bson_t *event) {
	ChangeEvent out;
	bson_iter_t iter;
	if (bson_iter_init_find(&iter, event, "_id"))
		out.token = CopyDocument(&iter);
	if (!out.token)
		throw MongoSourceError("a change event without a resume token (_id): " + sidecar::BsonToRelaxedJson(event));
	out.operation = StringAt(event, "operationType");
	out.op = OpOf(out.operation);
	out.collection = StringAt(event, "ns.coll");
	out.rename_to = StringAt(event, "to.coll");
	out.wall_ms = WallMs(event);
	if (IsDataChange(out.op)) {
		bson_iter_t id;
		if (!bson_iter_init(&iter, event) || !bson_iter_find_descendant(&iter, "documentKey._id", &id))
			throw MongoSourceError("a " + out.operation + " event of collection " + out.collection +
								   " without documentKey._id: " + sidecar::BsonToRelaxedJson(event));
		out.key = sidecar::BsonHandle(bson_new());
		bson_append_value(out.key.get(), "_id", 3, bson_iter_value(&id));
	}
	if (bson_iter_init_find(&iter, event, "fullDocument"))
		out.full_document = CopyDocument(&iter);
	return out;
}

std::string
TokenJson(const bson_t *token) {
	return sidecar::BsonToRelaxedJson(token);
}

sidecar::BsonHandle
ParseToken(const std::string &json) {
	bson_error_t error;
	bson_t *doc = bson_new_from_json(reinterpret_cast<const std::uint8_t *>(json.data()),
									 static_cast<ssize_t>(json.size()), &error);
	if (doc == nullptr)
		throw MongoSourceError("the stored resume token is not a JSON document (" + std::string(error.message) +
							   "): " + json);
	return sidecar::BsonHandle(doc);
}

ChangeStream::ChangeStream(MongoSource &source, const std::string &resume_token, int await_ms, int batch_size)
	: source_(source) {
	sidecar::BsonHandle opts(BCON_NEW("fullDocument", BCON_UTF8("updateLookup"), "maxAwaitTimeMS", BCON_INT64(await_ms),
									  "batchSize", BCON_INT32(batch_size)));
	if (!resume_token.empty()) {
		sidecar::BsonHandle token = ParseToken(resume_token);
		bson_append_document(opts.get(), "resumeAfter", -1, token.get());
	}
	sidecar::BsonHandle pipeline(bson_new());
	mongoc_database_t *database = mongoc_client_get_database(source.Client(), source.Database().c_str());
	stream_ = mongoc_database_watch(database, pipeline.get(), opts.get());
	mongoc_database_destroy(database);
	bson_error_t error;
	if (mongoc_change_stream_error_document(stream_, &error, nullptr)) {
		mongoc_change_stream_destroy(stream_);
		stream_ = nullptr;
		Fail("opening the change stream", error);
	}
}

ChangeStream::~ChangeStream() {
	mongoc_change_stream_destroy(stream_);
}

std::optional<ChangeEvent>
ChangeStream::Next() {
	const bson_t *event = nullptr;
	if (mongoc_change_stream_next(stream_, &event))
		return DecodeChangeEvent(event);
	bson_error_t error;
	if (mongoc_change_stream_error_document(stream_, &error, nullptr))
		Fail("reading the change stream", error);
	return std::nullopt;
}

std::string
ChangeStream::ResumeToken() const {
	const bson_t *token = mongoc_change_stream_get_resume_token(stream_);
	return token == nullptr ? std::string() : TokenJson(token);
}

void
ChangeStream::Fail(const char *doing, const bson_error_t &error) const {
	std::string what = std::string(doing) + " of database " + source_.Database() + " (MongoDB " + source_.Masked() +
					   "): " + MaskCredentialsInText(error.message);
	if (error.code == kChangeStreamHistoryLost)
		throw ChangeStreamHistoryLost(what);
	throw MongoSourceError(what);
}

} // namespace mosta::migrate
