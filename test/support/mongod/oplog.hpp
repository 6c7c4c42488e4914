// oplog.hpp
//     The change history of mosta-test-mongod, what its change streams read (docs/testing.md): every write
//     (insert, update, replace, delete, drop, rename, dropDatabase) appends one entry with a sequence number that
//     only grows, a cluster time (Timestamp: seconds, increment; it only grows too) and the wall time. The
//     resume token of an entry is {_data: "<its sequence as 16 uppercase hex digits>"}. The oplog keeps the last
//     `capacity` entries; a stream that needs an older one fails with 286 ChangeStreamHistoryLost.
#pragma once

#include "bson_util.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace mosta::testmongod {

// A stored document, shared by the collection, the oplog entries and the cursors that hold it (documents are
// never modified in place: an update stores a new one).
using SharedBson = std::shared_ptr<const bson_t>;

// A copy of one BSON value that frees itself.
class OwnedValue {
  public:
	OwnedValue() {
		value_.value_type = BSON_TYPE_EOD;
	}
	explicit OwnedValue(const bson_value_t &value) {
		bson_value_copy(&value, &value_);
	}
	OwnedValue(OwnedValue &&other) noexcept : value_(other.value_) {
		other.value_.value_type = BSON_TYPE_EOD;
	}
	OwnedValue &
	operator=(OwnedValue &&other) noexcept {
		std::swap(value_, other.value_);
		return *this;
	}
	OwnedValue(const OwnedValue &) = delete;
	OwnedValue &operator=(const OwnedValue &) = delete;
	~OwnedValue() {
		if (value_.value_type != BSON_TYPE_EOD)
			bson_value_destroy(&value_);
	}
	const bson_value_t &
	get() const noexcept {
		return value_;
	}
	bool
	empty() const noexcept {
		return value_.value_type == BSON_TYPE_EOD;
	}

  private:
	bson_value_t value_;
};

enum class OpType { Insert, Update, Replace, Delete, Drop, Rename, DropDatabase };

struct ClusterTime {
	uint32_t seconds = 0;
	uint32_t increment = 0;
	auto operator<=>(const ClusterTime &) const = default;
};

// A collection's name, shared by all the entries of the collection (an entry stays small: the oplog holds a
// million of them).
struct Namespace {
	std::string db, coll; // coll empty: the database (DropDatabase)
};
using NamespacePtr = std::shared_ptr<const Namespace>;

struct OplogEntry {
	uint64_t sequence = 0;
	ClusterTime time;
	int64_t wall_ms = 0;
	OpType op = OpType::Insert;
	NamespacePtr ns;
	OwnedValue id;			// the document's _id: document operations
	SharedBson document;	// Insert, Replace: the document as written
	BsonPtr updated_fields; // Update: {dotted path: new value}
	BsonPtr removed_fields; // Update: [dotted path...]
	NamespacePtr to;		// Rename: the new namespace
};

class Oplog {
  public:
	explicit Oplog(size_t capacity) : capacity_(capacity) {}

	// Append stamps entry (sequence, cluster time, wall time), keeps it, drops the oldest beyond the capacity and
	// tells the listener (connections waiting in a change stream's getMore).
	void Append(OplogEntry entry);

	// The oldest sequence held (Last() + 1 when nothing is held) and the newest ever appended (0: none yet).
	uint64_t
	First() const noexcept {
		return entries_.empty() ? next_ : entries_.front().sequence;
	}
	uint64_t
	Last() const noexcept {
		return next_ - 1;
	}
	// The entry with sequence, or nullptr when it is not held.
	const OplogEntry *At(uint64_t sequence) const noexcept;
	// The sequence of the first held entry at or after time (Last() + 1 when none is).
	uint64_t FirstAtOrAfter(ClusterTime time) const noexcept;
	// The cluster time of the newest entry (the current time when there is none yet).
	ClusterTime LastTime() const noexcept;

	void
	SetListener(std::function<void()> listener) {
		listener_ = std::move(listener);
	}

  private:
	std::deque<OplogEntry> entries_;
	size_t capacity_;
	uint64_t next_ = 1;
	ClusterTime last_time_;
	std::function<void()> listener_;
};

// The resume token of sequence, and back (nullopt: not a token of this server).
BsonPtr ResumeToken(uint64_t sequence);
std::optional<uint64_t> ParseResumeToken(const bson_value_t &token);

// The updateDescription parts of an update from before to after: updatedFields {dotted path: value} (changed or
// added fields, descending into subdocuments both versions hold; arrays whole) and removedFields [dotted path].
void DiffDocuments(const bson_t *before, const bson_t *after, bson_t *updated, bson_t *removed);

// The change event of entry: {_id: token, operationType, clusterTime, wallTime, fullDocument?, ns, documentKey?,
// updateDescription?, to?}. lookup: fullDocument "updateLookup"; current: the document now (nullptr: deleted).
BsonPtr ChangeEvent(const OplogEntry &entry, bool lookup, const bson_t *current);
// The invalidate event that closes a stream after entry (a drop or rename of its collection, a dropDatabase).
BsonPtr InvalidateEvent(const OplogEntry &entry);

} // namespace mosta::testmongod
