// store.cpp
//     The commands mosta-test-mongod answers (see store.hpp and docs/testing.md); anything else gets
//     the CommandNotFound error document a real server sends.
#include "store.hpp"

#include "query.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <random>

namespace mosta::testmongod {

namespace {

constexpr int32_t kMaxBsonObjectSize = 16 * 1024 * 1024;
constexpr int32_t kMaxMessageSizeBytes = 48'000'000;
constexpr int32_t kMaxWriteBatchSize = 100'000;
constexpr int32_t kMaxWireVersion = 13; // MongoDB 5.0
constexpr int32_t kLogicalSessionTimeoutMinutes = 30;
constexpr int64_t kDefaultFirstBatch = 101;
constexpr size_t kMaxBatchBytes = kMaxBsonObjectSize - 64 * 1024;
constexpr const char *kVersion = "5.0.0-mosta-test";
constexpr const char *kReplicaSetName = "rs0";

// IdInList tells whether filter is exactly {_id: {$in: [values]}} with values that are neither arrays nor regular
// expressions (those match differently), and points values at the list.
bool
IdInList(const bson_t *filter, std::optional<StaticBson> &values) {
	bson_iter_t it, op;
	if (!filter || bson_count_keys(filter) != 1 || !bson_iter_init_find(&it, filter, "_id") ||
		!BSON_ITER_HOLDS_DOCUMENT(&it))
		return false;
	StaticBson conditions(&it);
	if (bson_count_keys(conditions.get()) != 1 || !bson_iter_init_find(&op, conditions.get(), "$in") ||
		!BSON_ITER_HOLDS_ARRAY(&op))
		return false;
	StaticBson list(&op);
	bson_iter_t value;
	bson_iter_init(&value, list.get());
	while (bson_iter_next(&value))
		if (BSON_ITER_HOLDS_ARRAY(&value) || BSON_ITER_HOLDS_REGEX(&value))
			return false;
	values.emplace(&op);
	return true;
}

BsonPtr
ErrorReply(int code, const std::string &code_name, const std::string &message) {
	BsonPtr reply = NewBson();
	BSON_APPEND_DOUBLE(reply.get(), "ok", 0.0);
	BSON_APPEND_UTF8(reply.get(), "errmsg", message.c_str());
	BSON_APPEND_INT32(reply.get(), "code", code);
	BSON_APPEND_UTF8(reply.get(), "codeName", code_name.c_str());
	return reply;
}

void
AppendOk(bson_t *reply) {
	BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

// The document under key, or nullptr when it is missing or null.
BsonPtr
DocArg(const bson_t *body, const char *key) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, body, key) || BSON_ITER_HOLDS_NULL(&it))
		return nullptr;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !BSON_ITER_HOLDS_ARRAY(&it))
		throw CommandError(14, "TypeMismatch", std::string("BSON field '") + key + "' is the wrong type");
	StaticBson doc(&it);
	return CopyBson(doc.get());
}

// The document under key as a view into body (no copy), in view; false when it is missing or null.
bool
DocArgView(const bson_t *body, const char *key, std::optional<StaticBson> &view) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, body, key) || BSON_ITER_HOLDS_NULL(&it))
		return false;
	if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !BSON_ITER_HOLDS_ARRAY(&it))
		throw CommandError(14, "TypeMismatch", std::string("BSON field '") + key + "' is the wrong type");
	view.emplace(&it);
	return true;
}

int64_t
IntArg(const bson_t *body, const char *key, int64_t fallback) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, body, key) || !IsNumber(bson_iter_type(&it)))
		return fallback;
	return NumberAsInt64(*bson_iter_value(&it));
}

bool
BoolArg(const bson_t *body, const char *key, bool fallback) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, body, key))
		return fallback;
	return Truthy(*bson_iter_value(&it));
}

std::vector<BsonPtr>
ArrayOfDocs(const bson_t *array) {
	std::vector<BsonPtr> docs;
	bson_iter_t it;
	bson_iter_init(&it, array);
	while (bson_iter_next(&it)) {
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			throw CommandError(14, "TypeMismatch", "expected an array of documents");
		StaticBson doc(&it);
		docs.push_back(CopyBson(doc.get()));
	}
	return docs;
}

bson_value_t
IdOf(const bson_t *doc) {
	bson_iter_t it;
	if (bson_iter_init_find(&it, doc, "_id"))
		return *bson_iter_value(&it);
	return NullValue();
}

bool
SameBytes(const bson_t *a, const bson_t *b) {
	return a->len == b->len && std::memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0;
}

BsonPtr
DefaultIdIndexSpec() {
	BsonPtr spec = NewBson();
	BSON_APPEND_INT32(spec.get(), "v", 2);
	bson_t key;
	BSON_APPEND_DOCUMENT_BEGIN(spec.get(), "key", &key);
	BSON_APPEND_INT32(&key, "_id", 1);
	bson_append_document_end(spec.get(), &key);
	BSON_APPEND_UTF8(spec.get(), "name", "_id_");
	return spec;
}

// $group: the value of an expression ("$path" or a constant) for one document.
bson_value_t
Evaluate(const bson_t *doc, const bson_value_t &expression) {
	if (expression.value_type == BSON_TYPE_UTF8 && expression.value.v_utf8.str[0] == '$') {
		std::vector<bson_value_t> values = ValuesAtPath(doc, expression.value.v_utf8.str + 1);
		return values.empty() ? NullValue() : values[0];
	}
	if (expression.value_type == BSON_TYPE_DOCUMENT) {
		StaticBson spec(expression.value.v_doc.data, expression.value.v_doc.data_len);
		bson_iter_t it;
		if (bson_iter_init(&it, spec.get()) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$')
			throw CommandError(168, "InvalidPipelineOperator",
							   std::string("Unrecognized expression '") + bson_iter_key(&it) +
								   "' (mosta-test-mongod knows only \"$field\" paths and constants)");
	}
	return expression;
}

} // namespace

struct Store::Request {
	std::string db;
	std::string name;
	const bson_t *body;
	const std::vector<DocumentSequence> *sequences;
	CommandContext *context;

	// The collection named by the command's first field.
	std::string
	Collection() const {
		bson_iter_t it;
		bson_iter_init(&it, body);
		if (!bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it))
			throw CommandError(73, "InvalidNamespace",
							   "collection name has invalid type " + std::to_string(bson_iter_type(&it)));
		return bson_iter_utf8(&it, nullptr);
	}
	std::string
	Namespace() const {
		return db + "." + Collection();
	}
	// The documents of an array argument, from the body or from a document sequence.
	std::vector<BsonPtr>
	Docs(const char *key) const {
		std::vector<BsonPtr> docs;
		if (BsonPtr array = DocArg(body, key))
			docs = ArrayOfDocs(array.get());
		for (const auto &sequence : *sequences)
			if (sequence.identifier == key)
				for (const auto &[data, length] : sequence.documents) {
					StaticBson doc(data, length);
					docs.push_back(CopyBson(doc.get()));
				}
		return docs;
	}
	// The same as views (data, length) into the body and the document sequences, which outlive the
	// request: the write commands read each statement once, so they need no copy of it.
	std::vector<std::pair<const uint8_t *, uint32_t>>
	DocViews(const char *key) const {
		std::vector<std::pair<const uint8_t *, uint32_t>> docs;
		std::optional<StaticBson> array;
		if (DocArgView(body, key, array)) {
			bson_iter_t it;
			bson_iter_init(&it, array->get());
			while (bson_iter_next(&it)) {
				if (!BSON_ITER_HOLDS_DOCUMENT(&it))
					throw CommandError(14, "TypeMismatch", "expected an array of documents");
				uint32_t length = 0;
				const uint8_t *data = nullptr;
				bson_iter_document(&it, &length, &data);
				docs.emplace_back(data, length);
			}
		}
		for (const auto &sequence : *sequences)
			if (sequence.identifier == key)
				docs.insert(docs.end(), sequence.documents.begin(), sequence.documents.end());
		return docs;
	}
};

Store::Store(std::string address, size_t oplog_capacity) : address_(std::move(address)), oplog_(oplog_capacity) {}

BsonPtr
Store::RunCommand(const std::string &db, const bson_t *body, const std::vector<DocumentSequence> &sequences,
				  CommandContext &context) {
	try {
		Request request{db, "", body, &sequences, &context};
		bson_iter_t it;
		if (!bson_iter_init(&it, body) || !bson_iter_next(&it))
			throw CommandError(59, "CommandNotFound", "no such command: ''");
		request.name = bson_iter_key(&it);
		if (request.db.empty()) {
			if (!bson_iter_init_find(&it, body, "$db") || !BSON_ITER_HOLDS_UTF8(&it))
				throw CommandError(40571, "Location40571", "OP_MSG requests require a $db argument");
			request.db = bson_iter_utf8(&it, nullptr);
		}
		return Dispatch(request);
	} catch (const CommandError &error) {
		return ErrorReply(error.code, error.code_name, error.what());
	} catch (const std::exception &error) {
		return ErrorReply(1, "InternalError", error.what());
	}
}

BsonPtr
Store::Dispatch(const Request &r) {
	static const std::map<std::string, std::function<BsonPtr(Store &, const Request &)>> commands = {
		{"hello", [](Store &s, const Request &q) { return s.Hello(q, false); }},
		{"isMaster", [](Store &s, const Request &q) { return s.Hello(q, true); }},
		{"ismaster", [](Store &s, const Request &q) { return s.Hello(q, true); }},
		{"insert", &Store::Insert},
		{"update", &Store::Update},
		{"delete", &Store::Delete},
		{"find", &Store::Find},
		{"getMore", &Store::GetMore},
		{"killCursors", &Store::KillCursors},
		{"count", &Store::Count},
		{"aggregate", &Store::Aggregate},
		{"distinct", &Store::Distinct},
		{"createIndexes", &Store::CreateIndexes},
		{"listIndexes", &Store::ListIndexes},
		{"dropIndexes", &Store::DropIndexes},
		{"deleteIndexes", &Store::DropIndexes},
		{"listCollections", &Store::ListCollections},
		{"listDatabases", &Store::ListDatabases},
		{"create", &Store::Create},
		{"drop", &Store::Drop},
		{"renameCollection", &Store::RenameCollection},
		{"dropDatabase", &Store::DropDatabase},
	};
	if (r.name == "ping" || r.name == "endSessions" || r.name == "killSessions" || r.name == "refreshSessions") {
		BsonPtr reply = NewBson();
		AppendOk(reply.get());
		return reply;
	}
	if (r.name == "buildInfo" || r.name == "buildinfo") {
		BsonPtr reply = NewBson();
		BSON_APPEND_UTF8(reply.get(), "version", kVersion);
		BSON_APPEND_UTF8(reply.get(), "gitVersion", "mosta-test-mongod");
		bson_t array;
		BSON_APPEND_ARRAY_BEGIN(reply.get(), "versionArray", &array);
		for (int i = 0; i < 4; i++)
			BSON_APPEND_INT32(&array, std::to_string(i).c_str(), i == 0 ? 5 : 0);
		bson_append_array_end(reply.get(), &array);
		BSON_APPEND_INT32(reply.get(), "bits", 64);
		BSON_APPEND_BOOL(reply.get(), "debug", false);
		BSON_APPEND_INT32(reply.get(), "maxBsonObjectSize", kMaxBsonObjectSize);
		AppendOk(reply.get());
		return reply;
	}
	auto command = commands.find(r.name);
	if (command == commands.end())
		throw CommandError(59, "CommandNotFound", "no such command: '" + r.name + "'");
	return command->second(*this, r);
}

// Hello answers as the primary of a one-member replica set, as a server must for drivers to open change streams;
// a URI with one host and no replicaSet option still connects directly (both drivers' default), and one with
// ?replicaSet=rs0 finds the member under the address the server was started with.
BsonPtr
Store::Hello(const Request &r, bool legacy) const {
	BsonPtr reply = NewBson();
	BSON_APPEND_BOOL(reply.get(), "helloOk", true);
	BSON_APPEND_BOOL(reply.get(), legacy ? "ismaster" : "isWritablePrimary", true);
	BSON_APPEND_BOOL(reply.get(), "secondary", false);
	BSON_APPEND_UTF8(reply.get(), "setName", kReplicaSetName);
	BSON_APPEND_INT32(reply.get(), "setVersion", 1);
	bson_t hosts;
	BSON_APPEND_ARRAY_BEGIN(reply.get(), "hosts", &hosts);
	BSON_APPEND_UTF8(&hosts, "0", address_.c_str());
	bson_append_array_end(reply.get(), &hosts);
	BSON_APPEND_UTF8(reply.get(), "primary", address_.c_str());
	BSON_APPEND_UTF8(reply.get(), "me", address_.c_str());
	bson_t last_write;
	ClusterTime time = oplog_.LastTime();
	BSON_APPEND_DOCUMENT_BEGIN(reply.get(), "lastWrite", &last_write);
	bson_t op_time;
	BSON_APPEND_DOCUMENT_BEGIN(&last_write, "opTime", &op_time);
	bson_append_timestamp(&op_time, "ts", -1, time.seconds, time.increment);
	BSON_APPEND_INT64(&op_time, "t", 1);
	bson_append_document_end(&last_write, &op_time);
	BSON_APPEND_DATE_TIME(&last_write, "lastWriteDate", static_cast<int64_t>(time.seconds) * 1000);
	bson_append_document_end(reply.get(), &last_write);
	BSON_APPEND_INT32(reply.get(), "maxBsonObjectSize", kMaxBsonObjectSize);
	BSON_APPEND_INT32(reply.get(), "maxMessageSizeBytes", kMaxMessageSizeBytes);
	BSON_APPEND_INT32(reply.get(), "maxWriteBatchSize", kMaxWriteBatchSize);
	auto now =
		std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
	BSON_APPEND_DATE_TIME(reply.get(), "localTime", now.count());
	BSON_APPEND_INT32(reply.get(), "logicalSessionTimeoutMinutes", kLogicalSessionTimeoutMinutes);
	BSON_APPEND_INT32(reply.get(), "connectionId", static_cast<int32_t>(r.context->connection_id));
	BSON_APPEND_INT32(reply.get(), "minWireVersion", 0);
	BSON_APPEND_INT32(reply.get(), "maxWireVersion", kMaxWireVersion);
	BSON_APPEND_BOOL(reply.get(), "readOnly", false);
	AppendOk(reply.get());
	return reply;
}

Store::Collection *
Store::FindCollection(const std::string &db, const std::string &name) {
	auto database = databases_.find(db);
	if (database == databases_.end())
		return nullptr;
	auto collection = database->second.find(name);
	return collection == database->second.end() ? nullptr : &collection->second;
}

Store::Collection &
Store::GetOrCreateCollection(const std::string &db, const std::string &name) {
	if (name.empty() || name.find('$') != std::string::npos || db.empty())
		throw CommandError(73, "InvalidNamespace", "Invalid namespace specified '" + db + "." + name + "'");
	Collection &collection = databases_[db][name];
	if (!collection.ns || collection.ns->db != db || collection.ns->coll != name)
		collection.ns = std::make_shared<const Namespace>(Namespace{db, name});
	return collection;
}

std::vector<std::list<Store::Stored>::iterator>
Store::Matching(Collection &collection, const bson_t *filter, bool just_one) {
	std::vector<std::list<Stored>::iterator> found;
	// {_id: value} (the common case of every sink write) is a hash lookup.
	bson_iter_t it;
	if (filter && bson_count_keys(filter) == 1 && bson_iter_init_find(&it, filter, "_id") &&
		!BSON_ITER_HOLDS_ARRAY(&it) && !BSON_ITER_HOLDS_REGEX(&it)) {
		bool operators = false;
		if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
			StaticBson doc(&it);
			bson_iter_t first;
			operators = bson_iter_init(&first, doc.get()) && bson_iter_next(&first) && bson_iter_key(&first)[0] == '$';
		}
		if (!operators) {
			auto hit = collection.by_id.find(CanonicalKey(*bson_iter_value(&it)));
			if (hit != collection.by_id.end())
				found.push_back(hit->second);
			return found;
		}
		// {_id: {$in: [values]}} (re-reads of given documents): one lookup per value, in _id order
		if (std::optional<StaticBson> values; IdInList(filter, values)) {
			bson_iter_t value;
			bson_iter_init(&value, values->get());
			while (bson_iter_next(&value)) {
				auto hit = collection.by_id.find(CanonicalKey(*bson_iter_value(&value)));
				if (hit != collection.by_id.end())
					found.push_back(hit->second);
			}
			std::sort(found.begin(), found.end(), [](auto a, auto b) { return IdLess()(&*a, &*b); });
			found.erase(std::unique(found.begin(), found.end()), found.end());
			if (just_one && found.size() > 1)
				found.resize(1);
			return found;
		}
	}
	for (auto doc = collection.docs.begin(); doc != collection.docs.end(); ++doc)
		if (Matches(doc->doc.get(), filter)) {
			found.push_back(doc);
			if (just_one)
				break;
		}
	return found;
}

namespace {

// The key a unique index keeps for doc, or nullopt when the index does not cover doc (sparse and none of the
// fields present, or outside the partial filter).
std::optional<std::string>
UniqueKey(const std::vector<std::string> &fields, bool sparse, const bson_t *partial, const bson_t *doc) {
	if (partial && !Matches(doc, partial))
		return std::nullopt;
	std::string key;
	bool any = false;
	for (const auto &field : fields) {
		std::vector<bson_value_t> values = ValuesAtPath(doc, field);
		any = any || !values.empty();
		std::string part = CanonicalKey(values.empty() ? NullValue() : values[0]);
		key += std::to_string(part.size()) + ":" + part;
	}
	if (sparse && !any)
		return std::nullopt;
	return key;
}

} // namespace

void
Store::CheckUnique(const std::string &ns, const Collection &collection, const bson_t *doc, const Stored *self) {
	for (const auto &index : collection.indexes) {
		if (!index.unique)
			continue;
		std::optional<std::string> key = UniqueKey(index.fields, index.sparse, index.partial.get(), doc);
		if (!key)
			continue;
		auto other = index.keys.find(*key);
		if (other == index.keys.end() || other->second == self)
			continue;
		std::string dup = "{ ";
		for (size_t i = 0; i < index.fields.size(); i++) {
			std::vector<bson_value_t> values = ValuesAtPath(doc, index.fields[i]);
			dup += (i ? ", " : "") + index.fields[i] + ": " + ValueToJson(values.empty() ? NullValue() : values[0]);
		}
		throw CommandError(11000, "DuplicateKey",
						   "E11000 duplicate key error collection: " + ns + " index: " + index.name +
							   " dup key: " + dup + " }");
	}
}

void
Store::IndexDocument(Collection &collection, const Stored &stored) {
	for (auto &index : collection.indexes)
		if (index.unique)
			if (std::optional<std::string> key =
					UniqueKey(index.fields, index.sparse, index.partial.get(), stored.doc.get()))
				index.keys[*key] = &stored;
}

void
Store::UnindexDocument(Collection &collection, const Stored &stored) {
	for (auto &index : collection.indexes)
		if (index.unique)
			if (std::optional<std::string> key =
					UniqueKey(index.fields, index.sparse, index.partial.get(), stored.doc.get())) {
				auto entry = index.keys.find(*key);
				if (entry != index.keys.end() && entry->second == &stored)
					index.keys.erase(entry);
			}
}

void
Store::InsertOne(const std::string &ns, Collection &collection, BsonPtr doc) {
	bson_value_t id = IdOf(doc.get());
	if (id.value_type == BSON_TYPE_ARRAY || id.value_type == BSON_TYPE_REGEX)
		throw CommandError(2, "BadValue", "can't use an array or a regex for _id");
	std::string key = CanonicalKey(id);
	// one hash lookup finds a duplicate and makes the new entry (pointed at the document once it is stored)
	auto [slot, inserted] = collection.by_id.try_emplace(key, collection.docs.end());
	if (!inserted)
		throw CommandError(11000, "DuplicateKey",
						   "E11000 duplicate key error collection: " + ns +
							   " index: _id_ dup key: { _id: " + ValueToJson(id) + " }");
	try {
		CheckUnique(ns, collection, doc.get(), nullptr);
	} catch (...) {
		collection.by_id.erase(slot);
		throw;
	}
	collection.docs.push_back(Stored{std::move(doc), std::move(key), OwnedValue(id)});
	slot->second = std::prev(collection.docs.end());
	const Stored &stored = collection.docs.back();
	collection.by_order.insert(&stored);
	IndexDocument(collection, stored);
	OplogEntry entry;
	entry.op = OpType::Insert;
	entry.document = stored.doc;
	entry.id = OwnedValue(stored.id.get());
	entry.ns = collection.ns;
	Record(std::move(entry));
}

namespace {

void
AppendWriteError(bson_t *errors, uint32_t &count, size_t index, const CommandError &error) {
	bson_t entry;
	std::string key = std::to_string(count++);
	bson_append_document_begin(errors, key.c_str(), -1, &entry);
	BSON_APPEND_INT32(&entry, "index", static_cast<int32_t>(index));
	BSON_APPEND_INT32(&entry, "code", error.code);
	BSON_APPEND_UTF8(&entry, "codeName", error.code_name.c_str());
	BSON_APPEND_UTF8(&entry, "errmsg", error.what());
	bson_append_document_end(errors, &entry);
}

// Write commands: {n, ..., writeErrors: [...] if any, ok: 1}.
struct WriteErrors {
	BsonPtr errors = NewBson();
	uint32_t count = 0;
	void
	Add(size_t index, const CommandError &error) {
		AppendWriteError(errors.get(), count, index, error);
	}
	void
	AppendTo(bson_t *reply) const {
		if (count)
			bson_append_array(reply, "writeErrors", -1, errors.get());
	}
};

} // namespace

BsonPtr
Store::Insert(const Request &r) {
	std::string ns = r.Namespace();
	auto docs = r.DocViews("documents");
	bool ordered = BoolArg(r.body, "ordered", true);
	Collection &collection = GetOrCreateCollection(r.db, r.Collection());
	WriteErrors errors;
	int32_t n = 0;
	for (size_t i = 0; i < docs.size(); i++) {
		try {
			StaticBson doc(docs[i].first, docs[i].second);
			InsertOne(ns, collection, WithIdFirst(doc.get()));
			n++;
		} catch (const CommandError &error) {
			errors.Add(i, error);
			if (ordered)
				break;
		}
	}
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "n", n);
	errors.AppendTo(reply.get());
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::Update(const Request &r) {
	std::string ns = r.Namespace();
	auto statements = r.DocViews("updates");
	bool ordered = BoolArg(r.body, "ordered", true);
	Collection &collection = GetOrCreateCollection(r.db, r.Collection());
	WriteErrors errors;
	int32_t n = 0, modified = 0;
	BsonPtr upserted = NewBson();
	uint32_t upserted_count = 0;
	for (size_t i = 0; i < statements.size(); i++) {
		try {
			StaticBson statement_view(statements[i].first, statements[i].second);
			const bson_t *statement = statement_view.get();
			std::optional<StaticBson> filter_view;
			const bson_t *filter = DocArgView(statement, "q", filter_view) ? filter_view->get() : nullptr;
			bson_iter_t it;
			if (!bson_iter_init_find(&it, statement, "u") || !BSON_ITER_HOLDS_DOCUMENT(&it))
				throw CommandError(9, "FailedToParse",
								   "the update 'u' must be a document (pipeline updates are not implemented)");
			StaticBson update(&it);
			bool multi = BoolArg(statement, "multi", false);
			bool upsert = BoolArg(statement, "upsert", false);
			if (multi && !IsOperatorUpdate(update.get()) && !bson_empty(update.get()))
				throw CommandError(9, "FailedToParse", "multi update is not supported for replacement-style update");
			auto matched = Matching(collection, filter, !multi);
			if (matched.empty() && upsert) {
				BsonPtr doc = UpsertDocument(filter, update.get());
				bson_value_t id = IdOf(doc.get());
				bson_t entry;
				std::string key = std::to_string(upserted_count++);
				bson_append_document_begin(upserted.get(), key.c_str(), -1, &entry);
				BSON_APPEND_INT32(&entry, "index", static_cast<int32_t>(i));
				bson_append_value(&entry, "_id", 3, &id);
				bson_append_document_end(upserted.get(), &entry);
				InsertOne(ns, collection, std::move(doc));
				n++;
				continue;
			}
			for (auto stored : matched) {
				BsonPtr updated = ApplyUpdate(stored->doc.get(), update.get(), false);
				n++;
				if (SameBytes(updated.get(), stored->doc.get()))
					continue;
				CheckUnique(ns, collection, updated.get(), &*stored);
				OplogEntry entry;
				entry.ns = collection.ns;
				entry.id = OwnedValue(stored->id.get());
				if (IsOperatorUpdate(update.get())) {
					entry.op = OpType::Update;
					entry.updated_fields = NewBson();
					entry.removed_fields = NewBson();
					DiffDocuments(stored->doc.get(), updated.get(), entry.updated_fields.get(),
								  entry.removed_fields.get());
				} else {
					entry.op = OpType::Replace;
				}
				UnindexDocument(collection, *stored);
				stored->doc = std::move(updated);
				IndexDocument(collection, *stored);
				if (entry.op == OpType::Replace)
					entry.document = stored->doc;
				Record(std::move(entry));
				modified++;
			}
		} catch (const CommandError &error) {
			errors.Add(i, error);
			if (ordered)
				break;
		}
	}
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "n", n);
	BSON_APPEND_INT32(reply.get(), "nModified", modified);
	if (upserted_count)
		bson_append_array(reply.get(), "upserted", -1, upserted.get());
	errors.AppendTo(reply.get());
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::Delete(const Request &r) {
	auto statements = r.DocViews("deletes");
	bool ordered = BoolArg(r.body, "ordered", true);
	Collection *collection = FindCollection(r.db, r.Collection());
	WriteErrors errors;
	int32_t n = 0;
	for (size_t i = 0; collection && i < statements.size(); i++) {
		try {
			StaticBson statement(statements[i].first, statements[i].second);
			std::optional<StaticBson> filter_view;
			const bson_t *filter = DocArgView(statement.get(), "q", filter_view) ? filter_view->get() : nullptr;
			int64_t limit = IntArg(statement.get(), "limit", 0);
			for (auto stored : Matching(*collection, filter, limit == 1)) {
				OplogEntry entry;
				entry.op = OpType::Delete;
				entry.ns = collection->ns;
				entry.id = OwnedValue(stored->id.get());
				UnindexDocument(*collection, *stored);
				collection->by_order.erase(&*stored);
				collection->by_id.erase(stored->id_key);
				collection->docs.erase(stored);
				Record(std::move(entry));
				n++;
			}
		} catch (const CommandError &error) {
			errors.Add(i, error);
			if (ordered)
				break;
		}
	}
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "n", n);
	errors.AppendTo(reply.get());
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::CursorReply(int64_t cursor_id, Cursor cursor, int64_t batch_size, bool single_batch, const char *batch_name) {
	BsonPtr reply = NewBson();
	bson_t body, batch;
	BSON_APPEND_DOCUMENT_BEGIN(reply.get(), "cursor", &body);
	bson_append_array_begin(&body, batch_name, -1, &batch);
	bool more = false;
	int64_t count = 0;
	if (cursor.scan) {
		more = ScanBatch(*cursor.scan, cursor.projection.get(), batch_size, &batch, count);
	} else {
		size_t bytes = 0;
		while (cursor.position < cursor.docs.size() && (batch_size < 0 || count < batch_size)) {
			const bson_t *doc = cursor.docs[cursor.position].get();
			BsonPtr projected = cursor.projection ? Project(doc, cursor.projection.get()) : nullptr;
			if (projected)
				doc = projected.get();
			if (count > 0 && bytes + doc->len > kMaxBatchBytes)
				break;
			std::string key = std::to_string(count++);
			bson_append_document(&batch, key.c_str(), -1, doc);
			bytes += doc->len;
			cursor.docs[cursor.position++].reset(); // sent: the cursor no longer holds it
		}
		more = cursor.position < cursor.docs.size();
	}
	bson_append_array_end(&body, &batch);
	std::string ns = cursor.ns;
	if (more && !single_batch) {
		if (cursor_id == 0)
			cursor_id = next_cursor_id_++;
		cursors_[cursor_id] = std::move(cursor);
	} else {
		cursors_.erase(cursor_id);
		cursor_id = 0;
	}
	BSON_APPEND_INT64(&body, "id", cursor_id);
	BSON_APPEND_UTF8(&body, "ns", ns.c_str());
	bson_append_document_end(reply.get(), &body);
	AppendOk(reply.get());
	return reply;
}

bool
Store::ScanBatch(IdScan &scan, const bson_t *projection, int64_t batch_size, bson_t *batch, int64_t &count) {
	Collection *collection = FindCollection(scan.db, scan.coll);
	if (!collection)
		return false;
	auto &order = collection->by_order;
	size_t bytes = 0;
	// emit: true when the batch is full (stored is not taken: the next batch starts with it)
	auto emit = [&](const Stored *stored) {
		if (!Matches(stored->doc.get(), scan.filter.get()))
			return false;
		BsonPtr projected = projection ? Project(stored->doc.get(), projection) : nullptr;
		const bson_t *doc = projected ? projected.get() : stored->doc.get();
		if ((batch_size >= 0 && count >= batch_size) || (count > 0 && bytes + doc->len > kMaxBatchBytes))
			return true;
		std::string key = std::to_string(count++);
		bson_append_document(batch, key.c_str(), -1, doc);
		bytes += doc->len;
		if (scan.remaining > 0)
			scan.remaining--;
		return false;
	};
	// past_end: the walk left the filter's range (in MongoDB's order, so no later _id can match)
	auto past_end = [&scan](const Stored *stored) {
		if (scan.end.empty())
			return false;
		int c = CompareValues(stored->id.get(), scan.end.get()) * (scan.ascending ? 1 : -1);
		return c > 0 || (c == 0 && !scan.end_included);
	};
	const Stored *walked = nullptr;
	bool full = false;
	if (scan.ascending) {
		auto it = scan.last.empty()	   ? order.begin()
				  : scan.last_included ? order.lower_bound(scan.last.get())
									   : order.upper_bound(scan.last.get());
		for (; it != order.end() && scan.remaining != 0 && !past_end(*it); ++it) {
			if ((full = emit(*it)))
				break;
			walked = *it;
		}
	} else {
		auto it = scan.last.empty()	   ? order.end()
				  : scan.last_included ? order.upper_bound(scan.last.get())
									   : order.lower_bound(scan.last.get());
		while (it != order.begin() && scan.remaining != 0) {
			--it;
			if (past_end(*it) || (full = emit(*it)))
				break;
			walked = *it;
		}
	}
	if (walked) {
		scan.last = OwnedValue(walked->id.get());
		scan.last_included = false;
	}
	return full;
}

namespace {

// A filter the _id order answers: empty, or conditions on _id alone ({_id: {$gt: x, $lte: y}}, {_id: x}); not
// {_id: {$in: [...]}}, which Matching answers with lookups.
bool
OnlyIdConditions(const bson_t *filter) {
	if (!filter)
		return true;
	if (std::optional<StaticBson> values; IdInList(filter, values))
		return false;
	bson_iter_t it;
	bson_iter_init(&it, filter);
	while (bson_iter_next(&it))
		if (std::strcmp(bson_iter_key(&it), "_id") != 0)
			return false;
	return true;
}

} // namespace

// SeekIdBounds points scan at the range its _id filter names ({_id: {$gt: a, $lte: b}}, {_id: v}): the walk starts
// at the bound on its side and stops past the other, instead of matching every _id before or after the range.
void
Store::SeekIdBounds(const bson_t *filter, IdScan &scan) {
	bson_iter_t it;
	if (!filter || !bson_iter_init_find(&it, filter, "_id"))
		return;
	auto bound = [&scan](const bson_value_t &value, bool lower, bool included) {
		bool start = lower == scan.ascending;
		OwnedValue &slot = start ? scan.last : scan.end;
		// of two bounds on one side the tighter wins
		if (!slot.empty()) {
			int c = CompareValues(value, slot.get()) * (lower ? 1 : -1);
			if (c < 0 || (c == 0 && included))
				return;
		}
		slot = OwnedValue(value);
		(start ? scan.last_included : scan.end_included) = included;
	};
	if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
		if (!BSON_ITER_HOLDS_REGEX(&it)) {
			bound(*bson_iter_value(&it), true, true);
			bound(*bson_iter_value(&it), false, true);
		}
		return;
	}
	StaticBson conditions(&it);
	bson_iter_t op;
	if (bson_iter_init(&op, conditions.get()) && bson_iter_next(&op) && bson_iter_key(&op)[0] != '$') {
		bound(*bson_iter_value(&it), true, true); // an embedded document _id
		bound(*bson_iter_value(&it), false, true);
		return;
	}
	bson_iter_init(&op, conditions.get());
	while (bson_iter_next(&op)) {
		std::string name = bson_iter_key(&op);
		if (name == "$gt" || name == "$gte" || name == "$eq")
			bound(*bson_iter_value(&op), true, name != "$gt");
		if (name == "$lt" || name == "$lte" || name == "$eq")
			bound(*bson_iter_value(&op), false, name != "$lt");
	}
}

BsonPtr
Store::Find(const Request &r) {
	BsonPtr filter = DocArg(r.body, "filter");
	BsonPtr projection = DocArg(r.body, "projection");
	BsonPtr sort = DocArg(r.body, "sort");
	SortSpec spec = ParseSort(sort.get());
	int64_t skip = IntArg(r.body, "skip", 0);
	int64_t limit = IntArg(r.body, "limit", 0);
	bool single_batch = BoolArg(r.body, "singleBatch", false);
	if (limit < 0) {
		limit = -limit;
		single_batch = true;
	}
	if (skip < 0)
		throw CommandError(51024, "Location51024", "BSON field 'skip' value must be >= 0");
	int64_t batch_size = IntArg(r.body, "batchSize", kDefaultFirstBatch);
	if (batch_size < 0)
		throw CommandError(51024, "Location51024", "BSON field 'batchSize' value must be >= 0");
	if (projection && bson_empty(projection.get()))
		projection.reset();
	Cursor cursor{r.Namespace(), {}, 0, std::move(projection), std::nullopt, std::nullopt};
	Collection *collection = FindCollection(r.db, r.Collection());
	// A range of _ids in _id order (what a batched copy asks): walked lazily, batch by batch.
	bool by_id = spec.size() == 1 && spec[0].first == "_id";
	bool id_filter = filter && !bson_empty(filter.get()) && OnlyIdConditions(filter.get());
	if (collection && skip == 0 && (by_id ? OnlyIdConditions(filter.get()) : spec.empty() && id_filter)) {
		IdScan scan;
		scan.db = r.db;
		scan.coll = r.Collection();
		scan.ascending = !by_id || spec[0].second > 0;
		scan.remaining = limit > 0 ? limit : -1;
		SeekIdBounds(filter.get(), scan);
		scan.filter = std::move(filter);
		cursor.scan = std::move(scan);
		return CursorReply(0, std::move(cursor), batch_size, single_batch, "firstBatch");
	}
	std::vector<const Stored *> matched;
	if (collection)
		for (auto stored : Matching(*collection, filter.get(), false))
			matched.push_back(&*stored);
	if (!spec.empty())
		std::stable_sort(matched.begin(), matched.end(), [&spec](const Stored *a, const Stored *b) {
			return CompareForSort(a->doc.get(), b->doc.get(), spec) < 0;
		});
	for (size_t i = static_cast<size_t>(skip); i < matched.size(); i++) {
		if (limit > 0 && static_cast<int64_t>(cursor.docs.size()) >= limit)
			break;
		cursor.docs.push_back(matched[i]->doc);
	}
	return CursorReply(0, std::move(cursor), batch_size, single_batch, "firstBatch");
}

BsonPtr
Store::GetMore(const Request &r) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, r.body, "getMore") || !BSON_ITER_HOLDS_INT64(&it))
		throw CommandError(14, "TypeMismatch", "getMore needs an int64 cursor id");
	int64_t id = bson_iter_int64(&it);
	auto found = cursors_.find(id);
	if (found == cursors_.end())
		throw CommandError(43, "CursorNotFound", "cursor id " + std::to_string(id) + " not found");
	Cursor cursor = std::move(found->second);
	int64_t batch_size = IntArg(r.body, "batchSize", 0);
	if (cursor.stream)
		return StreamReply(id, std::move(cursor), batch_size > 0 ? batch_size : -1, "nextBatch", r.context,
						   IntArg(r.body, "maxTimeMS", -1));
	return CursorReply(id, std::move(cursor), batch_size > 0 ? batch_size : -1, false, "nextBatch");
}

BsonPtr
Store::KillCursors(const Request &r) {
	BsonPtr ids = DocArg(r.body, "cursors");
	BsonPtr killed = NewBson(), not_found = NewBson();
	uint32_t n_killed = 0, n_not_found = 0;
	bson_iter_t it;
	if (ids && bson_iter_init(&it, ids.get()))
		while (bson_iter_next(&it)) {
			int64_t id = NumberAsInt64(*bson_iter_value(&it));
			bool was = cursors_.erase(id) > 0;
			std::string key = std::to_string(was ? n_killed++ : n_not_found++);
			BSON_APPEND_INT64(was ? killed.get() : not_found.get(), key.c_str(), id);
		}
	BsonPtr reply = NewBson();
	bson_append_array(reply.get(), "cursorsKilled", -1, killed.get());
	bson_append_array(reply.get(), "cursorsNotFound", -1, not_found.get());
	BsonPtr empty = NewBson();
	bson_append_array(reply.get(), "cursorsAlive", -1, empty.get());
	bson_append_array(reply.get(), "cursorsUnknown", -1, empty.get());
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::Count(const Request &r) {
	BsonPtr query = DocArg(r.body, "query");
	int64_t skip = IntArg(r.body, "skip", 0);
	int64_t limit = IntArg(r.body, "limit", 0);
	int64_t n = 0;
	if (Collection *collection = FindCollection(r.db, r.Collection()))
		n = static_cast<int64_t>(Matching(*collection, query.get(), false).size());
	n = std::max<int64_t>(0, n - skip);
	if (limit != 0)
		n = std::min<int64_t>(n, limit < 0 ? -limit : limit);
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "n", static_cast<int32_t>(n));
	AppendOk(reply.get());
	return reply;
}

namespace {

// One $group stage over docs: _id is "$path" or a constant; accumulators $sum, $count, $min, $max,
// $first, $last, $avg.
std::vector<BsonPtr>
Group(const std::vector<SharedBson> &docs, const bson_t *spec) {
	bson_iter_t id_it;
	if (!bson_iter_init_find(&id_it, spec, "_id"))
		throw CommandError(15955, "Location15955", "a group specification must include an _id");
	bson_value_t id_expression = *bson_iter_value(&id_it);
	struct Accumulator {
		std::string field, op;
		bson_value_t argument;
	};
	std::vector<Accumulator> accumulators;
	bson_iter_t it;
	bson_iter_init(&it, spec);
	while (bson_iter_next(&it)) {
		std::string field = bson_iter_key(&it);
		if (field == "_id")
			continue;
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			throw CommandError(40234, "Location40234", "The field '" + field + "' must be an accumulator object");
		StaticBson accumulator(&it);
		bson_iter_t op;
		if (!bson_iter_init(&op, accumulator.get()) || !bson_iter_next(&op))
			throw CommandError(40238, "Location40238", "The field '" + field + "' must specify one accumulator");
		std::string name = bson_iter_key(&op);
		if (name != "$sum" && name != "$count" && name != "$min" && name != "$max" && name != "$first" &&
			name != "$last" && name != "$avg")
			throw CommandError(15952, "Location15952", "unknown group operator '" + name + "'");
		accumulators.push_back({field, name, *bson_iter_value(&op)});
	}
	struct State {
		bson_value_t id;
		std::vector<bson_value_t> values;
		std::vector<int64_t> counts;
	};
	std::vector<State> groups;
	std::unordered_map<std::string, size_t> by_key;
	for (const auto &doc : docs) {
		bson_value_t id = Evaluate(doc.get(), id_expression);
		auto [slot, inserted] = by_key.emplace(CanonicalKey(id), groups.size());
		if (inserted) {
			bson_value_t none{};
			none.value_type = BSON_TYPE_EOD;
			groups.push_back({id, std::vector<bson_value_t>(accumulators.size(), none),
							  std::vector<int64_t>(accumulators.size(), 0)});
		}
		State &state = groups[slot->second];
		for (size_t i = 0; i < accumulators.size(); i++) {
			const Accumulator &a = accumulators[i];
			bson_value_t value = a.op == "$count" ? Int32Value(1) : Evaluate(doc.get(), a.argument);
			bson_value_t &acc = state.values[i];
			if (a.op == "$sum" || a.op == "$count" || a.op == "$avg") {
				if (value.value_type == BSON_TYPE_DECIMAL128)
					throw CommandError(51083, "Location51083",
									   "mosta-test-mongod does not add Decimal128 values (" + a.op + " of field '" +
										   a.field + "'): read them and add them exactly client-side");
				if (!IsNumber(value.value_type))
					continue;
				state.counts[i]++;
				if (acc.value_type == BSON_TYPE_EOD)
					acc = Int32Value(0);
				if (acc.value_type == BSON_TYPE_DOUBLE || value.value_type == BSON_TYPE_DOUBLE)
					acc = DoubleValue(NumberAsDouble(acc) + NumberAsDouble(value));
				else {
					int64_t sum = NumberAsInt64(acc) + NumberAsInt64(value);
					acc = (sum >= INT32_MIN && sum <= INT32_MAX && acc.value_type == BSON_TYPE_INT32 &&
						   value.value_type == BSON_TYPE_INT32)
							  ? Int32Value(static_cast<int32_t>(sum))
							  : Int64Value(sum);
				}
			} else if (a.op == "$first") {
				if (acc.value_type == BSON_TYPE_EOD)
					acc = value;
			} else if (a.op == "$last") {
				acc = value;
			} else if (value.value_type != BSON_TYPE_NULL) {
				if (acc.value_type == BSON_TYPE_EOD ||
					(a.op == "$min" ? CompareValues(value, acc) < 0 : CompareValues(value, acc) > 0))
					acc = value;
			}
		}
	}
	std::vector<BsonPtr> out;
	for (const auto &state : groups) {
		BsonPtr doc = NewBson();
		bson_append_value(doc.get(), "_id", 3, &state.id);
		for (size_t i = 0; i < accumulators.size(); i++) {
			bson_value_t value = state.values[i];
			if (accumulators[i].op == "$avg")
				value = state.counts[i] ? DoubleValue(NumberAsDouble(value) / static_cast<double>(state.counts[i]))
										: NullValue();
			else if (value.value_type == BSON_TYPE_EOD)
				value = (accumulators[i].op == "$sum" || accumulators[i].op == "$count") ? Int32Value(0) : NullValue();
			bson_append_value(doc.get(), accumulators[i].field.c_str(), -1, &value);
		}
		out.push_back(std::move(doc));
	}
	return out;
}

} // namespace

BsonPtr
Store::Aggregate(const Request &r) {
	bson_iter_t it;
	if (BsonPtr pipeline = DocArg(r.body, "pipeline")) {
		bson_iter_t first;
		if (bson_iter_init(&first, pipeline.get()) && bson_iter_next(&first) && BSON_ITER_HOLDS_DOCUMENT(&first)) {
			StaticBson stage(&first);
			if (bson_iter_init_find(&it, stage.get(), "$changeStream"))
				return OpenChangeStream(r.db, r.body, pipeline.get());
		}
	}
	if (!bson_iter_init_find(&it, r.body, "aggregate") || !BSON_ITER_HOLDS_UTF8(&it))
		throw CommandError(73, "InvalidNamespace",
						   "mosta-test-mongod implements collection aggregations only ({aggregate: \"name\"})");
	if (BoolArg(r.body, "explain", false))
		throw CommandError(59, "CommandNotFound", "explain is not implemented by mosta-test-mongod");
	BsonPtr pipeline = DocArg(r.body, "pipeline");
	if (!pipeline)
		throw CommandError(9, "FailedToParse", "aggregate needs a pipeline array");
	BsonPtr cursor_options = DocArg(r.body, "cursor");
	int64_t batch_size =
		cursor_options ? IntArg(cursor_options.get(), "batchSize", kDefaultFirstBatch) : kDefaultFirstBatch;
	std::vector<BsonPtr> stages = ArrayOfDocs(pipeline.get());
	std::vector<SharedBson> docs; // the stored documents themselves until a stage makes new ones
	size_t first_stage = 0;
	if (Collection *collection = FindCollection(r.db, r.Collection())) {
		// A leading $match uses Matching (so {_id: v} is a lookup).
		BsonPtr match;
		if (!stages.empty() && bson_iter_init_find(&it, stages[0].get(), "$match") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			StaticBson filter(&it);
			match = CopyBson(filter.get());
			first_stage = 1;
		}
		for (auto stored : Matching(*collection, match.get(), false))
			docs.push_back(stored->doc);
	}
	for (size_t s = first_stage; s < stages.size(); s++) {
		bson_iter_t stage;
		if (!bson_iter_init(&stage, stages[s].get()) || !bson_iter_next(&stage))
			throw CommandError(40323, "Location40323",
							   "A pipeline stage specification object must contain exactly one field.");
		std::string name = bson_iter_key(&stage);
		const bson_value_t *argument = bson_iter_value(&stage);
		if (name == "$match" && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
			StaticBson filter(&stage);
			std::vector<SharedBson> kept;
			for (auto &doc : docs)
				if (Matches(doc.get(), filter.get()))
					kept.push_back(std::move(doc));
			docs = std::move(kept);
		} else if (name == "$count" && BSON_ITER_HOLDS_UTF8(&stage)) {
			int32_t n = static_cast<int32_t>(docs.size());
			docs.clear();
			if (n > 0) {
				BsonPtr doc = NewBson();
				BSON_APPEND_INT32(doc.get(), bson_iter_utf8(&stage, nullptr), n);
				docs.push_back(std::move(doc));
			}
		} else if (name == "$group" && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
			StaticBson spec(&stage);
			std::vector<BsonPtr> groups = Group(docs, spec.get());
			docs.assign(std::make_move_iterator(groups.begin()), std::make_move_iterator(groups.end()));
		} else if (name == "$sort" && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
			StaticBson sort(&stage);
			SortSpec spec = ParseSort(sort.get());
			std::stable_sort(docs.begin(), docs.end(), [&spec](const SharedBson &a, const SharedBson &b) {
				return CompareForSort(a.get(), b.get(), spec) < 0;
			});
		} else if ((name == "$limit" || name == "$skip") && IsNumber(argument->value_type)) {
			size_t n = static_cast<size_t>(std::max<int64_t>(0, NumberAsInt64(*argument)));
			if (name == "$limit" && docs.size() > n)
				docs.resize(n);
			else if (name == "$skip")
				docs.erase(docs.begin(), docs.begin() + static_cast<std::ptrdiff_t>(std::min(n, docs.size())));
		} else if (name == "$sample" && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
			StaticBson sample(&stage);
			int64_t size = IntArg(sample.get(), "size", -1);
			if (size < 0)
				throw CommandError(28747, "Location28747", "$sample stage must specify a non-negative size");
			// a random subset in random order (a partial Fisher-Yates shuffle)
			static std::mt19937_64 random(std::random_device{}());
			size_t n = std::min(docs.size(), static_cast<size_t>(size));
			for (size_t i = 0; i < n; i++)
				std::swap(docs[i], docs[i + random() % (docs.size() - i)]);
			docs.resize(n);
		} else if (name == "$project" && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
			StaticBson projection(&stage);
			for (auto &doc : docs)
				doc = Project(doc.get(), projection.get());
		} else {
			throw CommandError(40324, "Location40324",
							   "Unrecognized pipeline stage name: '" + name +
								   "' (or an argument mosta-test-mongod does not implement)");
		}
	}
	Cursor cursor{r.Namespace(), std::move(docs), 0, nullptr, std::nullopt, std::nullopt};
	return CursorReply(0, std::move(cursor), batch_size, false, "firstBatch");
}

BsonPtr
Store::Distinct(const Request &r) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, r.body, "key") || !BSON_ITER_HOLDS_UTF8(&it))
		throw CommandError(14, "TypeMismatch", "distinct needs a string 'key'");
	std::string key = bson_iter_utf8(&it, nullptr);
	BsonPtr query = DocArg(r.body, "query");
	std::vector<bson_value_t> values;
	std::unordered_map<std::string, bool> seen;
	if (Collection *collection = FindCollection(r.db, r.Collection()))
		for (auto stored : Matching(*collection, query.get(), false))
			for (const auto &value : ValuesAtPath(stored->doc.get(), key))
				if (value.value_type != BSON_TYPE_ARRAY && seen.emplace(CanonicalKey(value), true).second)
					values.push_back(value);
	BsonPtr reply = NewBson();
	bson_t array;
	BSON_APPEND_ARRAY_BEGIN(reply.get(), "values", &array);
	for (size_t i = 0; i < values.size(); i++)
		bson_append_value(&array, std::to_string(i).c_str(), -1, &values[i]);
	bson_append_array_end(reply.get(), &array);
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::CreateIndexes(const Request &r) {
	std::string ns = r.Namespace();
	std::vector<BsonPtr> specs = r.Docs("indexes");
	if (specs.empty())
		throw CommandError(2, "BadValue", "Must specify at least one index to create");
	bool created = FindCollection(r.db, r.Collection()) == nullptr;
	Collection &collection = GetOrCreateCollection(r.db, r.Collection());
	int32_t before = static_cast<int32_t>(collection.indexes.size() + 1);
	for (auto &spec : specs) {
		BsonPtr key = DocArg(spec.get(), "key");
		bson_iter_t it;
		if (!key || bson_empty(key.get()))
			throw CommandError(67, "CannotCreateIndex", "index specification needs a non-empty 'key'");
		if (!bson_iter_init_find(&it, spec.get(), "name") || !BSON_ITER_HOLDS_UTF8(&it))
			throw CommandError(9, "FailedToParse", "index specification needs a 'name'");
		Index index;
		index.name = bson_iter_utf8(&it, nullptr);
		index.unique = BoolArg(spec.get(), "unique", false);
		index.sparse = BoolArg(spec.get(), "sparse", false);
		index.partial = DocArg(spec.get(), "partialFilterExpression");
		bson_iter_init(&it, key.get());
		while (bson_iter_next(&it))
			index.fields.emplace_back(bson_iter_key(&it));
		if (index.name == "_id_")
			continue;
		auto same = std::find_if(collection.indexes.begin(), collection.indexes.end(),
								 [&index](const Index &i) { return i.name == index.name; });
		if (same != collection.indexes.end()) {
			if (same->fields != index.fields || same->unique != index.unique)
				throw CommandError(86, "IndexKeySpecsConflict",
								   "An existing index has the same name as the requested index: " + index.name);
			continue;
		}
		BsonPtr full = NewBson();
		BSON_APPEND_INT32(full.get(), "v", 2);
		bson_iter_init(&it, spec.get());
		while (bson_iter_next(&it))
			if (std::strcmp(bson_iter_key(&it), "v") != 0 && std::strcmp(bson_iter_key(&it), "ns") != 0)
				bson_append_iter(full.get(), bson_iter_key(&it), -1, &it);
		index.spec = std::move(full);
		collection.indexes.push_back(std::move(index));
		if (collection.indexes.back().unique) {
			try {
				for (const auto &stored : collection.docs) {
					CheckUnique(ns, collection, stored.doc.get(), &stored);
					IndexDocument(collection, stored);
				}
			} catch (const CommandError &) {
				collection.indexes.pop_back();
				throw;
			}
		}
	}
	BsonPtr reply = NewBson();
	int32_t after = static_cast<int32_t>(collection.indexes.size() + 1);
	BSON_APPEND_INT32(reply.get(), "numIndexesBefore", before);
	BSON_APPEND_INT32(reply.get(), "numIndexesAfter", after);
	BSON_APPEND_BOOL(reply.get(), "createdCollectionAutomatically", created);
	if (before == after)
		BSON_APPEND_UTF8(reply.get(), "note", "all indexes already exist");
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::ListIndexes(const Request &r) {
	Collection *collection = FindCollection(r.db, r.Collection());
	if (!collection)
		throw CommandError(26, "NamespaceNotFound", "ns does not exist: " + r.Namespace());
	Cursor cursor{r.Namespace(), {}, 0, nullptr, std::nullopt, std::nullopt};
	cursor.docs.push_back(DefaultIdIndexSpec());
	for (const auto &index : collection->indexes)
		cursor.docs.push_back(CopyBson(index.spec.get()));
	BsonPtr options = DocArg(r.body, "cursor");
	int64_t batch_size = options ? IntArg(options.get(), "batchSize", kDefaultFirstBatch) : kDefaultFirstBatch;
	return CursorReply(0, std::move(cursor), batch_size, false, "firstBatch");
}

BsonPtr
Store::DropIndexes(const Request &r) {
	Collection *collection = FindCollection(r.db, r.Collection());
	if (!collection)
		throw CommandError(26, "NamespaceNotFound", "ns not found " + r.Namespace());
	bson_iter_t it;
	if (!bson_iter_init_find(&it, r.body, "index"))
		throw CommandError(9, "FailedToParse", "dropIndexes needs 'index'");
	int32_t was = static_cast<int32_t>(collection->indexes.size() + 1);
	if (BSON_ITER_HOLDS_UTF8(&it) && std::strcmp(bson_iter_utf8(&it, nullptr), "*") == 0) {
		collection->indexes.clear();
	} else {
		std::string name = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "";
		auto found = std::find_if(collection->indexes.begin(), collection->indexes.end(),
								  [&name](const Index &i) { return i.name == name; });
		if (found == collection->indexes.end())
			throw CommandError(27, "IndexNotFound", "index not found with name [" + name + "]");
		collection->indexes.erase(found);
	}
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "nIndexesWas", was);
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::ListCollections(const Request &r) {
	BsonPtr filter = DocArg(r.body, "filter");
	bool name_only = BoolArg(r.body, "nameOnly", false);
	Cursor cursor{r.db + ".$cmd.listCollections", {}, 0, nullptr, std::nullopt, std::nullopt};
	auto database = databases_.find(r.db);
	if (database != databases_.end())
		for (const auto &[name, collection] : database->second) {
			BsonPtr doc = NewBson();
			BSON_APPEND_UTF8(doc.get(), "name", name.c_str());
			BSON_APPEND_UTF8(doc.get(), "type", "collection");
			if (!name_only) {
				bson_t sub;
				BSON_APPEND_DOCUMENT_BEGIN(doc.get(), "options", &sub);
				bson_append_document_end(doc.get(), &sub);
				BSON_APPEND_DOCUMENT_BEGIN(doc.get(), "info", &sub);
				BSON_APPEND_BOOL(&sub, "readOnly", false);
				bson_append_document_end(doc.get(), &sub);
				BsonPtr id_index = DefaultIdIndexSpec();
				BSON_APPEND_DOCUMENT(doc.get(), "idIndex", id_index.get());
			}
			if (Matches(doc.get(), filter.get()))
				cursor.docs.push_back(std::move(doc));
		}
	BsonPtr options = DocArg(r.body, "cursor");
	int64_t batch_size = options ? IntArg(options.get(), "batchSize", kDefaultFirstBatch) : kDefaultFirstBatch;
	return CursorReply(0, std::move(cursor), batch_size, false, "firstBatch");
}

BsonPtr
Store::ListDatabases(const Request &r) {
	BsonPtr filter = DocArg(r.body, "filter");
	bool name_only = BoolArg(r.body, "nameOnly", false);
	BsonPtr reply = NewBson();
	bson_t array;
	BSON_APPEND_ARRAY_BEGIN(reply.get(), "databases", &array);
	uint32_t n = 0;
	double total = 0;
	for (const auto &[name, database] : databases_) {
		double size = 0;
		for (const auto &[collection_name, collection] : database)
			for (const auto &stored : collection.docs)
				size += stored.doc->len;
		total += size;
		BsonPtr doc = NewBson();
		BSON_APPEND_UTF8(doc.get(), "name", name.c_str());
		if (!name_only) {
			BSON_APPEND_DOUBLE(doc.get(), "sizeOnDisk", size);
			BSON_APPEND_BOOL(doc.get(), "empty", database.empty());
		}
		if (Matches(doc.get(), filter.get())) {
			std::string key = std::to_string(n++);
			BSON_APPEND_DOCUMENT(&array, key.c_str(), doc.get());
		}
	}
	bson_append_array_end(reply.get(), &array);
	if (!name_only)
		BSON_APPEND_DOUBLE(reply.get(), "totalSize", total);
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::Create(const Request &r) {
	if (FindCollection(r.db, r.Collection()))
		throw CommandError(48, "NamespaceExists", "Collection already exists. NS: " + r.Namespace());
	GetOrCreateCollection(r.db, r.Collection());
	BsonPtr reply = NewBson();
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::Drop(const Request &r) {
	Collection *collection = FindCollection(r.db, r.Collection());
	if (!collection)
		throw CommandError(26, "NamespaceNotFound", "ns not found");
	int32_t indexes = static_cast<int32_t>(collection->indexes.size() + 1);
	std::string ns = r.Namespace();
	databases_[r.db].erase(r.Collection());
	if (databases_[r.db].empty())
		databases_.erase(r.db);
	OplogEntry entry;
	entry.op = OpType::Drop;
	entry.ns = std::make_shared<const Namespace>(Namespace{r.db, r.Collection()});
	Record(std::move(entry));
	BsonPtr reply = NewBson();
	BSON_APPEND_INT32(reply.get(), "nIndexesWas", indexes);
	BSON_APPEND_UTF8(reply.get(), "ns", ns.c_str());
	AppendOk(reply.get());
	return reply;
}

// RenameCollection runs {renameCollection: "db.from", to: "db.to", dropTarget: bool} (an admin command): the
// collection, its documents and indexes move under the new name in one step; an existing target is refused with
// 48 NamespaceExists unless dropTarget, which replaces it.
BsonPtr
Store::RenameCollection(const Request &r) {
	auto split = [](const std::string &ns) -> std::pair<std::string, std::string> {
		std::size_t dot = ns.find('.');
		if (dot == std::string::npos || dot == 0 || dot + 1 == ns.size())
			throw CommandError(73, "InvalidNamespace", "Invalid namespace specified '" + ns + "'");
		return {ns.substr(0, dot), ns.substr(dot + 1)};
	};
	if (r.db != "admin")
		throw CommandError(13, "Unauthorized", "renameCollection may only be run against the admin database.");
	bson_iter_t it;
	if (!bson_iter_init_find(&it, r.body, "to") || !BSON_ITER_HOLDS_UTF8(&it))
		throw CommandError(14, "TypeMismatch", "'to' must be of type string");
	auto [to_db, to_name] = split(bson_iter_utf8(&it, nullptr));
	auto [from_db, from_name] = split(r.Collection());
	Collection *source = FindCollection(from_db, from_name);
	if (!source)
		throw CommandError(26, "NamespaceNotFound", "Source collection " + r.Collection() + " does not exist");
	if (from_db == to_db && from_name == to_name)
		throw CommandError(20, "IllegalOperation", "Can't rename a collection to itself");
	if (FindCollection(to_db, to_name)) {
		if (!BoolArg(r.body, "dropTarget", false))
			throw CommandError(48, "NamespaceExists", "target namespace exists");
		databases_[to_db].erase(to_name);
	}
	Collection moved = std::move(*source);
	databases_[from_db].erase(from_name);
	if (databases_[from_db].empty())
		databases_.erase(from_db);
	Collection &target = GetOrCreateCollection(to_db, to_name);
	target = std::move(moved);
	target.ns = std::make_shared<const Namespace>(Namespace{to_db, to_name}); // its events name the new name
	OplogEntry entry;
	entry.op = OpType::Rename;
	entry.ns = std::make_shared<const Namespace>(Namespace{from_db, from_name});
	entry.to = std::make_shared<const Namespace>(Namespace{to_db, to_name});
	Record(std::move(entry));
	BsonPtr reply = NewBson();
	AppendOk(reply.get());
	return reply;
}

BsonPtr
Store::DropDatabase(const Request &r) {
	auto database = databases_.find(r.db);
	if (database != databases_.end()) {
		std::vector<std::string> names;
		for (const auto &[name, collection] : database->second)
			names.push_back(name);
		databases_.erase(database);
		for (const auto &name : names) {
			OplogEntry entry;
			entry.op = OpType::Drop;
			entry.ns = std::make_shared<const Namespace>(Namespace{r.db, name});
			Record(std::move(entry));
		}
		OplogEntry entry;
		entry.op = OpType::DropDatabase;
		entry.ns = std::make_shared<const Namespace>(Namespace{r.db, ""});
		Record(std::move(entry));
	}
	BsonPtr reply = NewBson();
	BSON_APPEND_UTF8(reply.get(), "dropped", r.db.c_str());
	AppendOk(reply.get());
	return reply;
}

} // namespace mosta::testmongod
