// store.hpp
//     The in-memory server state of mosta-test-mongod (databases → collections → documents keyed by
//     _id, in insertion order and in _id order; index definitions; open cursors; the oplog change streams
//     read) and the command dispatcher that turns one command document (plus OP_MSG document sequences)
//     into one reply document.
#pragma once

#include "bson_util.hpp"
#include "oplog.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace mosta::testmongod {

// An OP_MSG kind-1 section: its identifier ("documents", "updates", "deletes") and its documents,
// which point into the request buffer.
struct DocumentSequence {
	std::string identifier;
	std::vector<std::pair<const uint8_t *, uint32_t>> documents;
};

// How a command runs on its connection: a getMore on a change stream that finds no event sets wait (its
// maxTimeMS) when may_wait; the connection then waits for a write (or the deadline) and runs it again.
struct CommandContext {
	int64_t connection_id = 0;
	bool may_wait = false;
	std::chrono::milliseconds wait{0};
};

class Store {
  public:
	// address: "host:port" hello reports as the replica set's only member. oplog_capacity: the change events kept.
	Store(std::string address, size_t oplog_capacity);

	// db is the database of a legacy OP_QUERY ("admin" in "admin.$cmd"); empty for OP_MSG, whose
	// body carries $db. Never throws: failures become {ok: 0, errmsg, code, codeName}.
	BsonPtr RunCommand(const std::string &db, const bson_t *body, const std::vector<DocumentSequence> &sequences,
					   CommandContext &context);

	// listener runs after every write that change streams see (to wake waiting getMores).
	void
	SetChangeListener(std::function<void()> listener) {
		oplog_.SetListener(std::move(listener));
	}

  private:
	struct Stored {
		SharedBson doc;
		std::string id_key;
		OwnedValue id; // the _id, for the _id order
	};
	// The _id order of a collection's documents (MongoDB's comparison order).
	struct IdLess {
		using is_transparent = void;
		bool
		operator()(const Stored *a, const Stored *b) const {
			return CompareValues(a->id.get(), b->id.get()) < 0;
		}
		bool
		operator()(const Stored *a, const bson_value_t &b) const {
			return CompareValues(a->id.get(), b) < 0;
		}
		bool
		operator()(const bson_value_t &a, const Stored *b) const {
			return CompareValues(a, b->id.get()) < 0;
		}
	};
	struct Index {
		std::string name;
		BsonPtr spec;
		std::vector<std::string> fields;
		bool unique = false;
		bool sparse = false; // documents without any of the fields are not indexed
		BsonPtr partial;	 // partialFilterExpression: only matching documents are indexed
		// unique: the key of every indexed document → its document (a hash lookup per write)
		std::unordered_map<std::string, const Stored *> keys;
	};
	struct Collection {
		std::list<Stored> docs;
		std::unordered_map<std::string, std::list<Stored>::iterator> by_id;
		std::set<const Stored *, IdLess> by_order;
		std::vector<Index> indexes;
		NamespacePtr ns; // what its oplog entries name
	};
	using Database = std::map<std::string, Collection>;
	// A find over a range of _ids in _id order (filter on _id only, sort on _id or none): walked batch by batch
	// from the last _id it reached, so neither the query nor a getMore copies or sorts the collection.
	struct IdScan {
		std::string db, coll;
		BsonPtr filter;
		bool ascending = true;
		OwnedValue last;			// where the walk is: past this _id (empty: from the start)
		bool last_included = false; // the walk starts at last itself (a $gte/$lte or equality bound)
		OwnedValue end;				// where the walk stops: past this _id (empty: at the end)
		bool end_included = true;
		int64_t remaining = -1; // documents the limit still allows (-1: no limit)
	};
	// A change stream: the events after position in its scope, through its $match/$project stages.
	struct ChangeStream {
		std::string db, coll; // coll empty: a database; db empty: the cluster
		bool lookup = false;  // fullDocument: "updateLookup"
		uint64_t position = 0;
		std::vector<BsonPtr> stages;
		bool invalidated = false;
	};
	struct Cursor {
		std::string ns;
		std::vector<SharedBson> docs;
		size_t position = 0;
		BsonPtr projection; // applied as a batch is sent
		std::optional<IdScan> scan;
		std::optional<ChangeStream> stream;
	};
	struct Request;

	BsonPtr Dispatch(const Request &request);
	BsonPtr Hello(const Request &request, bool legacy) const;
	BsonPtr Insert(const Request &request);
	BsonPtr Update(const Request &request);
	BsonPtr Delete(const Request &request);
	BsonPtr Find(const Request &request);
	BsonPtr GetMore(const Request &request);
	BsonPtr KillCursors(const Request &request);
	BsonPtr Count(const Request &request);
	BsonPtr Aggregate(const Request &request);
	BsonPtr Distinct(const Request &request);
	BsonPtr CreateIndexes(const Request &request);
	BsonPtr ListIndexes(const Request &request);
	BsonPtr DropIndexes(const Request &request);
	BsonPtr ListCollections(const Request &request);
	BsonPtr ListDatabases(const Request &request);
	BsonPtr Create(const Request &request);
	BsonPtr Drop(const Request &request);
	BsonPtr RenameCollection(const Request &request);
	BsonPtr DropDatabase(const Request &request);

	Collection *FindCollection(const std::string &db, const std::string &name);
	Collection &GetOrCreateCollection(const std::string &db, const std::string &name);
	std::vector<std::list<Stored>::iterator> Matching(Collection &collection, const bson_t *filter, bool just_one);
	// CheckUnique throws 11000 DuplicateKey when doc (replacing self, or new when null) would break a unique index;
	// IndexDocument/UnindexDocument keep the unique indexes' keys as documents come and go.
	void CheckUnique(const std::string &ns, const Collection &collection, const bson_t *doc, const Stored *self);
	static void IndexDocument(Collection &collection, const Stored &stored);
	static void UnindexDocument(Collection &collection, const Stored &stored);
	void InsertOne(const std::string &ns, Collection &collection, BsonPtr doc);
	// {cursor: {firstBatch|nextBatch, id, ns}, ok: 1}: up to batch_size documents (all when negative) from
	// cursor.position on; the rest stays open under cursor_id (a new id when 0).
	BsonPtr CursorReply(int64_t cursor_id, Cursor cursor, int64_t batch_size, bool single_batch,
						const char *batch_name);
	// The next documents of an _id-order walk into batch, up to batch_size (negative: no limit) and the batch
	// byte limit; false when the walk is over.
	bool ScanBatch(IdScan &scan, const bson_t *projection, int64_t batch_size, bson_t *batch, int64_t &count);
	static void SeekIdBounds(const bson_t *filter, IdScan &scan);

	// change_stream.cpp
	// aggregate with a leading $changeStream on db (body: the command, for the namespace and the batch size).
	BsonPtr OpenChangeStream(const std::string &db, const bson_t *body, const bson_t *pipeline);
	// The next events of a change stream cursor, with postBatchResumeToken. With none and context->may_wait, it
	// asks the connection to wait max_time_ms (-1: the default 1 s) by setting context->wait (the reply is unused).
	BsonPtr StreamReply(int64_t cursor_id, Cursor cursor, int64_t batch_size, const char *batch_name,
						CommandContext *context, int64_t max_time_ms);
	// The collection's document with _id (the key of an oplog entry) now, or nullptr.
	const bson_t *CurrentDocument(const OplogEntry &entry);
	void
	Record(OplogEntry entry) {
		oplog_.Append(std::move(entry));
	}

	std::string address_;
	Oplog oplog_;
	std::map<std::string, Database> databases_;
	std::map<int64_t, Cursor> cursors_;
	int64_t next_cursor_id_ = 4'000'000'001;
};

} // namespace mosta::testmongod
