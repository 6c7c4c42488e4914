// store.hpp
//     The in-memory server state of mosta-test-mongod (databases → collections → documents keyed by
//     _id, in insertion order; index definitions; open cursors) and the command dispatcher that
//     turns one command document (plus OP_MSG document sequences) into one reply document.
#pragma once

#include "bson_util.hpp"

#include <cstdint>
#include <list>
#include <map>
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

class Store {
  public:
	// db is the database of a legacy OP_QUERY ("admin" in "admin.$cmd"); empty for OP_MSG, whose
	// body carries $db. Never throws: failures become {ok: 0, errmsg, code, codeName}.
	BsonPtr RunCommand(const std::string &db, const bson_t *body, const std::vector<DocumentSequence> &sequences,
					   int64_t connection_id);

  private:
	struct Stored {
		BsonPtr doc;
		std::string id_key;
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
		std::vector<Index> indexes;
	};
	using Database = std::map<std::string, Collection>;
	struct Cursor {
		std::string ns;
		std::vector<BsonPtr> docs;
		size_t position = 0;
	};
	struct Request;

	BsonPtr Dispatch(const Request &request);
	BsonPtr Hello(const Request &request, bool legacy);
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

	std::map<std::string, Database> databases_;
	std::map<int64_t, Cursor> cursors_;
	int64_t next_cursor_id_ = 4'000'000'001;
};

} // namespace mosta::testmongod
