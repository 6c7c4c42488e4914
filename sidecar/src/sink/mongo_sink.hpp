/*
 * mongo_sink.hpp
 *     MongoSink: replicates into one MongoDB database through the mongo-c-driver (a mongoc_client_pool_t; the sink
 *     pops one client and uses it from the one thread that drives it at a time). docs/mongodb.md is the user's
 *     description; mongo_bson.hpp has the document mapping.
 *
 *     Target: the replica's uri is a MongoDB connection string, "mongodb://host:port/dbname?options"; the database
 *     is its path, or the replica's project name when the path is empty. Each source table goes to the collection
 *     MongoCollectionName(schema, table) ("table" in public, else "schema.table").
 *
 *     Applying: insert → replaceOne({_id}, doc, upsert); update → the same, or, when the document carries
 *     "unchanged" (TOAST) columns whose old value is unknown, updateOne({_id}, {$set: columns present}, upsert); an
 *     update that changes the key deletes the old _id first; delete → deleteOne({_id}); truncate → deleteMany({})
 *     on each collection; mostajs.ddl messages about the rule's tables fill a column added with a "fill" into the
 *     documents that lack it (updateMany $set, mongo_ddl.cpp); other messages are ignored. Every one of these is
 *     idempotent, so replaying a change any number of times leaves the same documents.
 *
 *     Durability: operations go into an ordered bulk write per collection, handed to the sink's bulk writer (a
 *     thread of its own with a client of its own, MongoBulkWriter) when the collection changes and when it holds
 *     max_bulk_operations operations: the writer executes the bulks one at a time in the order they were handed
 *     over (acknowledged, with the URI's write concern) while the sink builds the next ones, so that the server
 *     applies one bulk while the sidecar encodes the next. A group of source transactions (up to
 *     group_max_transactions, or Flush) is committed by handing over its last bulk, waiting until the writer has
 *     had every bulk acknowledged, and only then writing the checkpoint document
 *       _mosta_checkpoints: {_id: slot, lsn: "X/Y", end_lsn: int64, updated_at: date}
 *     and DurableLsn() moves only once that write is acknowledged: the checkpoint is never sent before the data it
 *     covers is acknowledged. A failed bulk stops the writer (the bulks queued after it are dropped) and its error
 *     is thrown by the sink's next call. MongoDB has no transaction here, so a crash or a
 *     failure leaves in the target what the executed bulks wrote past the checkpoint: the daemon replays from the
 *     checkpoint, which re-applies those changes idempotently (the target holds a later state of some documents
 *     until then; it never misses one). Rollback() drops the operations not yet sent.
 *
 *     The transaction state machine (grouping, poisoning after an Apply that throws, Rollback) is SinkCore's
 *     (sink_core.hpp); a group's durable commit (MakeGroupDurable) is the bulks' acknowledgement, then the
 *     checkpoint document.
 */
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <mongoc/mongoc.h>

#include "sink/ddl_message.hpp"
#include "sink/mongo_bson.hpp"
#include "sink/mongo_mapped.hpp"
#include "sink/sink_core.hpp"

namespace mosta::sidecar {

// MongoDriver calls mongoc_init() and, when destroyed, mongoc_cleanup(): one lives in main (and in tests). It
// keeps the driver's own log to warnings and worse (its monitor logs each failed connection attempt at debug
// level otherwise, twice a second while a server is down); the sink reports failures itself.
class MongoDriver {
  public:
	MongoDriver() {
		mongoc_init();
		mongoc_log_set_handler(
			[](mongoc_log_level_t level, const char *domain, const char *message, void *data) {
				if (level <= MONGOC_LOG_LEVEL_WARNING)
					mongoc_log_default_handler(level, domain, message, data);
			},
			nullptr);
	}
	~MongoDriver() {
		mongoc_cleanup();
	}
	MongoDriver(const MongoDriver &) = delete;
	MongoDriver &operator=(const MongoDriver &) = delete;
};

// Deleters of the mongoc handles.
struct MongoUriDeleter {
	void
	operator()(mongoc_uri_t *uri) const noexcept {
		mongoc_uri_destroy(uri);
	}
};
struct MongoPoolDeleter {
	void
	operator()(mongoc_client_pool_t *pool) const noexcept {
		mongoc_client_pool_destroy(pool);
	}
};
struct MongoCollectionDeleter {
	void
	operator()(mongoc_collection_t *collection) const noexcept {
		mongoc_collection_destroy(collection);
	}
};
struct MongoBulkDeleter {
	void
	operator()(mongoc_bulk_operation_t *bulk) const noexcept {
		mongoc_bulk_operation_destroy(bulk);
	}
};
struct MongoCursorDeleter {
	void
	operator()(mongoc_cursor_t *cursor) const noexcept {
		mongoc_cursor_destroy(cursor);
	}
};
using MongoUriHandle = std::unique_ptr<mongoc_uri_t, MongoUriDeleter>;
using MongoPoolHandle = std::unique_ptr<mongoc_client_pool_t, MongoPoolDeleter>;
using MongoCollectionHandle = std::unique_ptr<mongoc_collection_t, MongoCollectionDeleter>;
using MongoBulkHandle = std::unique_ptr<mongoc_bulk_operation_t, MongoBulkDeleter>;
using MongoCursorHandle = std::unique_ptr<mongoc_cursor_t, MongoCursorDeleter>;

// PooledClient is a client popped from a pool, pushed back when destroyed.
class PooledClient {
  public:
	explicit PooledClient(mongoc_client_pool_t *pool) : pool_(pool), client_(mongoc_client_pool_pop(pool)) {}
	~PooledClient() {
		if (client_ != nullptr)
			mongoc_client_pool_push(pool_, client_);
	}
	PooledClient(const PooledClient &) = delete;
	PooledClient &operator=(const PooledClient &) = delete;
	mongoc_client_t *
	get() const noexcept {
		return client_;
	}

  private:
	mongoc_client_pool_t *pool_;
	mongoc_client_t *client_;
};

// MongoBulkWriter executes bulk writes on a thread of its own, with a client of its own popped from the pool, one
// at a time in the order they were submitted, while the thread that submits them builds the next ones. After a
// failure it executes nothing more until Discard(), and Submit() and Drain() throw that failure.
class MongoBulkWriter {
  public:
	// A Job runs on the writer's thread with the writer's client; it throws on failure.
	using Job = std::function<void(mongoc_client_t *client)>;

	// MongoBulkWriter pops its client from pool and starts its thread; at most max_queued jobs wait at a time.
	MongoBulkWriter(mongoc_client_pool_t *pool, std::size_t max_queued);
	// ~MongoBulkWriter drops the waiting jobs, waits for the running one and stops the thread.
	~MongoBulkWriter();
	MongoBulkWriter(const MongoBulkWriter &) = delete;
	MongoBulkWriter &operator=(const MongoBulkWriter &) = delete;

	// Submit queues job, first waiting while max_queued jobs wait; throws the failure of an earlier job instead.
	void Submit(Job job);

	// Drain waits until every submitted job has run; throws the failure of one of them.
	void Drain();

	// Discard drops the waiting jobs, waits for the running one and forgets a failure.
	void Discard() noexcept;

  private:
	void Run();
	void ThrowFailure(std::unique_lock<std::mutex> &lock);

	mongoc_client_pool_t *pool_;
	mongoc_client_t *client_;
	std::size_t max_queued_;
	std::mutex mutex_;
	std::condition_variable changed_;
	std::deque<Job> jobs_;
	bool running_ = false; // a job taken from jobs_ is running
	bool stop_ = false;
	std::exception_ptr failure_;
	std::thread thread_; // started last, joined first
};

// Settings of a MongoSink.
struct MongoSinkOptions {
	std::string uri;							   // mongodb://host:port/dbname?options
	std::string default_database;				   // when the uri names none (the replica's project)
	std::string slot;							   // the checkpoint document's _id (the replication slot)
	std::size_t group_max_transactions = 1;		   // write the checkpoint after this many source transactions
	std::size_t max_bulk_operations = 1000;		   // execute a bulk once it holds this many operations
	std::function<void(const std::string &)> warn; // told once per (collection, column, kind of loss); may be empty
	LegacyObjectId legacy_object_id; // id_map lookup for one-column uuid keys (app/id_map_lookup.hpp); may be empty
	std::vector<std::string> ddl_collections; // the rule's collections: mostajs.ddl messages about them are followed
	// the source's conninfo: a mapped mirror (the uri's mosta_mapping, mongo_mapped.hpp) reads id_map and child rows
	// there
	std::string source;
	// a mapped mirror's lookups instead of the source's (tests); empty: read the source
	std::function<MirrorSource(const mapping::Mapping &)> mirror_source;
};

// kMongoCheckpointCollection is where the checkpoints live, in the target database.
inline constexpr const char *kMongoCheckpointCollection = "_mosta_checkpoints";

// MongoSink replicates into one MongoDB database.
class MongoSink final : public SinkCore {
  public:
	// MongoSink parses the uri, creates the pool and reads the checkpoint (which needs the server: throws
	// std::runtime_error when it cannot be reached within the server selection timeout).
	explicit MongoSink(MongoSinkOptions options);
	~MongoSink() override;

	MongoSink(const MongoSink &) = delete;
	MongoSink &operator=(const MongoSink &) = delete;

	std::string_view Name() const noexcept override;

	// Database returns the target database's name.
	const std::string &
	Database() const noexcept {
		return database_;
	}

  private:
	// The SinkCore hooks: the operations go into the bulks; RecordCheckpoint has nothing to write in the group (the
	// checkpoint follows the data's acknowledgement); MakeGroupDurable executes the bulk, waits for every bulk to be
	// acknowledged, then writes the checkpoint; DiscardGroup drops the operations not yet sent.
	void ApplyChange(const Change &change) override;
	void OpenSource(Lsn commit_lsn) override; // a new source transaction: the mapped mirror's reads start over
	void InsertRow(const Change &change) override;
	void UpdateRow(const Change &change) override;
	void DeleteRow(const Change &change) override;
	void TruncateTables(const Change &change) override;
	void ApplyMessage(const Change &change) override;
	void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) override;
	void MakeGroupDurable(Lsn pending_lsn) override;
	void DiscardGroup() noexcept override;

	// Bulk returns the open bulk write of collection, executing the open one first if it is another's.
	mongoc_bulk_operation_t *Bulk(const std::string &collection);

	// ExecuteBulk executes the open bulk write, if any, and waits until every bulk handed to the writer is
	// acknowledged; throws with the server's error.
	void ExecuteBulk();

	// SubmitBulk hands the open bulk write, if any, to the writer without waiting for it; throws the error of an
	// earlier bulk.
	void SubmitBulk();

	// Counted executes the bulk once it holds max_bulk_operations operations.
	void Counted(std::size_t operations);

	// ApplyRow applies an insert or update.
	void ApplyRow(const Change &change);

	// ApplyDelete deletes the document of "old"'s key.
	void ApplyDelete(const Change &change);

	// ApplyTruncate empties each listed collection.
	void ApplyTruncate(const Change &change);

	// ApplyDdl follows a mostajs.ddl message about a covered table (mongo_ddl.cpp): documents have no schema, but
	// a column added with a "fill" is set in the documents that lack it, and a rewrite throws RecopyNeeded.
	void ApplyDdl(const Change &change);

	// CheckRewritten throws RecopyNeeded when a document of collection lacks a column that has a default but no
	// "fill" in a "rewritten" message (the rewrite gave it a value only the source holds).
	void CheckRewritten(const std::string &collection, const DdlMessage &message);

	// WriteCheckpoint upserts the checkpoint document at end_lsn.
	void WriteCheckpoint(Lsn end_lsn);

	// ReportNotes warns once per (collection, column, kind) of what notes_ holds, then clears it.
	void ReportNotes(const std::string &collection);

	// ApplyMapped queues the writes of the mapped mirror for change (mongo_mapped.hpp).
	void ApplyMapped(const Change &change);

	MongoSinkOptions options_;
	std::string name_;
	std::string database_;
	MongoUriHandle uri_;
	MongoPoolHandle pool_;
	std::unique_ptr<PooledClient> client_;	  // destroyed before pool_ (declared after it)
	std::unique_ptr<MongoBulkWriter> writer_; // executes the bulks (declared after client_: stopped first)
	MongoCollectionHandle bulk_collection_;	  // the collection of bulk_ (declared first: destroyed after it)
	MongoBulkHandle bulk_;					  // the open bulk write
	std::string bulk_collection_name_;
	std::size_t bulk_operations_ = 0;
	MappingNotes notes_;
	BsonHandle row_upsert_options_; // RowUpsertOptions, built once
	std::set<std::string> warned_;
	std::unique_ptr<MongoMappedMirror> mirror_; // the uri's mosta_mapping, or null
};

} // namespace mosta::sidecar
