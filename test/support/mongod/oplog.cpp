// oplog.cpp
//     The change history and the change events built from it (see oplog.hpp).
#include "oplog.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace mosta::testmongod {

void
Oplog::Append(OplogEntry entry) {
	auto now = std::chrono::system_clock::now().time_since_epoch();
	auto seconds = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
	// the cluster time only grows, also when the wall clock steps back
	if (seconds > last_time_.seconds)
		last_time_ = {seconds, 1};
	else
		last_time_.increment++;
	entry.sequence = next_++;
	entry.time = last_time_;
	entry.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
	entries_.push_back(std::move(entry));
	while (entries_.size() > capacity_)
		entries_.pop_front();
	if (listener_)
		listener_();
}

const OplogEntry *
Oplog::At(uint64_t sequence) const noexcept {
	if (entries_.empty() || sequence < entries_.front().sequence || sequence > entries_.back().sequence)
		return nullptr;
	return &entries_[sequence - entries_.front().sequence]; // sequences are consecutive
}

uint64_t
Oplog::FirstAtOrAfter(ClusterTime time) const noexcept {
	auto found = std::lower_bound(entries_.begin(), entries_.end(), time,
								  [](const OplogEntry &entry, ClusterTime t) { return entry.time < t; });
	return found == entries_.end() ? next_ : found->sequence;
}

ClusterTime
Oplog::LastTime() const noexcept {
	if (!entries_.empty())
		return last_time_;
	auto now = std::chrono::system_clock::now().time_since_epoch();
	return {static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count()), 0};
}

BsonPtr
ResumeToken(uint64_t sequence) {
	char hex[17];
	std::snprintf(hex, sizeof hex, "%016llX", static_cast<unsigned long long>(sequence));
	BsonPtr token = NewBson();
	BSON_APPEND_UTF8(token.get(), "_data", hex);
	return token;
}

std::optional<uint64_t>
ParseResumeToken(const bson_value_t &token) {
	if (token.value_type != BSON_TYPE_DOCUMENT)
		return std::nullopt;
	StaticBson doc(token.value.v_doc.data, token.value.v_doc.data_len);
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc.get(), "_data") || !BSON_ITER_HOLDS_UTF8(&it))
		return std::nullopt;
	uint32_t length = 0;
	const char *hex = bson_iter_utf8(&it, &length);
	if (length != 16)
		return std::nullopt;
	uint64_t sequence = 0;
	for (uint32_t i = 0; i < length; i++) {
		char c = hex[i];
		int digit = c >= '0' && c <= '9'   ? c - '0'
					: c >= 'A' && c <= 'F' ? c - 'A' + 10
					: c >= 'a' && c <= 'f' ? c - 'a' + 10
										   : -1;
		if (digit < 0)
			return std::nullopt;
		sequence = sequence * 16 + static_cast<uint64_t>(digit);
	}
	return sequence;
}

namespace {

// Identical values (same type and same bytes: a Decimal128 1.0 differs from 1.00, a double -0.0 from 0.0).
bool
SameValue(const bson_value_t &a, const bson_value_t &b) {
	if (a.value_type != b.value_type)
		return false;
	switch (a.value_type) {
	case BSON_TYPE_DOUBLE:
		return std::memcmp(&a.value.v_double, &b.value.v_double, sizeof(double)) == 0;
	case BSON_TYPE_DECIMAL128:
		return a.value.v_decimal128.low == b.value.v_decimal128.low &&
			   a.value.v_decimal128.high == b.value.v_decimal128.high;
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY:
		return a.value.v_doc.data_len == b.value.v_doc.data_len &&
			   std::memcmp(a.value.v_doc.data, b.value.v_doc.data, a.value.v_doc.data_len) == 0;
	default:
		return CompareValues(a, b) == 0;
	}
}

void
Diff(const bson_t *before, const bson_t *after, const std::string &prefix, bson_t *updated, bson_t *removed,
	 uint32_t &removed_count) {
	bson_iter_t it;
	bson_iter_init(&it, after);
	while (bson_iter_next(&it)) {
		std::string path = prefix + bson_iter_key(&it);
		const bson_value_t *value = bson_iter_value(&it);
		bson_iter_t old;
		if (bson_iter_init_find(&old, before, bson_iter_key(&it))) {
			const bson_value_t *was = bson_iter_value(&old);
			if (SameValue(*was, *value))
				continue;
			if (BSON_ITER_HOLDS_DOCUMENT(&it) && BSON_ITER_HOLDS_DOCUMENT(&old)) {
				StaticBson sub_before(&old), sub_after(&it);
				Diff(sub_before.get(), sub_after.get(), path + ".", updated, removed, removed_count);
				continue;
			}
		}
		bson_append_value(updated, path.c_str(), -1, value);
	}
	bson_iter_init(&it, before);
	while (bson_iter_next(&it)) {
		bson_iter_t now;
		if (bson_iter_init_find(&now, after, bson_iter_key(&it)))
			continue;
		std::string path = prefix + bson_iter_key(&it);
		std::string index = std::to_string(removed_count++);
		bson_append_utf8(removed, index.c_str(), -1, path.c_str(), -1);
	}
}

void
AppendHeader(bson_t *event, const OplogEntry &entry, const char *operation) {
	BsonPtr token = ResumeToken(entry.sequence);
	BSON_APPEND_DOCUMENT(event, "_id", token.get());
	BSON_APPEND_UTF8(event, "operationType", operation);
	bson_append_timestamp(event, "clusterTime", -1, entry.time.seconds, entry.time.increment);
	BSON_APPEND_DATE_TIME(event, "wallTime", entry.wall_ms);
}

void
AppendNamespace(bson_t *event, const char *key, const std::string &db, const std::string &coll) {
	bson_t ns;
	bson_append_document_begin(event, key, -1, &ns);
	BSON_APPEND_UTF8(&ns, "db", db.c_str());
	if (!coll.empty())
		BSON_APPEND_UTF8(&ns, "coll", coll.c_str());
	bson_append_document_end(event, &ns);
}

const char *
OperationName(OpType op) {
	switch (op) {
	case OpType::Insert:
		return "insert";
	case OpType::Update:
		return "update";
	case OpType::Replace:
		return "replace";
	case OpType::Delete:
		return "delete";
	case OpType::Drop:
		return "drop";
	case OpType::Rename:
		return "rename";
	case OpType::DropDatabase:
		return "dropDatabase";
	}
	return "unknown";
}

} // namespace

void
DiffDocuments(const bson_t *before, const bson_t *after, bson_t *updated, bson_t *removed) {
	uint32_t removed_count = 0;
	Diff(before, after, "", updated, removed, removed_count);
}

BsonPtr
ChangeEvent(const OplogEntry &entry, bool lookup, const bson_t *current) {
	BsonPtr event = NewBson();
	AppendHeader(event.get(), entry, OperationName(entry.op));
	if (entry.op == OpType::Insert || entry.op == OpType::Replace) {
		BSON_APPEND_DOCUMENT(event.get(), "fullDocument", entry.document.get());
	} else if (entry.op == OpType::Update && lookup) {
		if (current)
			BSON_APPEND_DOCUMENT(event.get(), "fullDocument", current);
		else
			BSON_APPEND_NULL(event.get(), "fullDocument");
	}
	AppendNamespace(event.get(), "ns", entry.ns->db, entry.ns->coll);
	if (!entry.id.empty()) {
		bson_t key;
		BSON_APPEND_DOCUMENT_BEGIN(event.get(), "documentKey", &key);
		BSON_APPEND_VALUE(&key, "_id", &entry.id.get());
		bson_append_document_end(event.get(), &key);
	}
	if (entry.op == OpType::Update) {
		bson_t description;
		BSON_APPEND_DOCUMENT_BEGIN(event.get(), "updateDescription", &description);
		BSON_APPEND_DOCUMENT(&description, "updatedFields", entry.updated_fields.get());
		bson_append_array(&description, "removedFields", -1, entry.removed_fields.get());
		bson_t truncated;
		BSON_APPEND_ARRAY_BEGIN(&description, "truncatedArrays", &truncated);
		bson_append_array_end(&description, &truncated);
		bson_append_document_end(event.get(), &description);
	}
	if (entry.op == OpType::Rename)
		AppendNamespace(event.get(), "to", entry.to->db, entry.to->coll);
	return event;
}

BsonPtr
InvalidateEvent(const OplogEntry &entry) {
	BsonPtr event = NewBson();
	AppendHeader(event.get(), entry, "invalidate");
	return event;
}

} // namespace mosta::testmongod
