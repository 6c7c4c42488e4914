/*
 * backfill_reader.hpp
 *     BatchReader: backfill's reading half on a thread of its own, so that MongoDB and the mapping work while
 *     PostgreSQL writes the previous batch. It reads one collection in _id order after a checkpoint, maps each
 *     document and hands over batches of mapped documents with the last _id of each (the checkpoint the batch
 *     commits), at most kBatchesAhead ahead of the writer. It uses the MongoSource's client alone while it runs
 *     (mongo-c-driver clients are one thread's at a time: the caller leaves the source alone until the reader is
 *     destroyed).
 */
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/transform.hpp"
#include "mongo_source.hpp"

namespace mosta::migrate {

// kBatchesAhead is how many mapped batches may wait for the writer (memory: that many batches of documents).
inline constexpr std::size_t kBatchesAhead = 2;

struct ReadBatch {
	std::vector<mapping::MappedDocument> docs;
	std::string last_id; // {"_id": ...} of the batch's last document, relaxed extended JSON
	double read_seconds = 0, map_seconds = 0;
};

class BatchReader {
  public:
	// BatchReader starts reading collection after last_id (relaxed extended JSON of {"_id": ...}; none: from
	// the start) in batches of batch documents.
	BatchReader(MongoSource &source, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
				std::optional<std::string> last_id, std::int64_t batch);
	// ~BatchReader stops the thread (at its next document or batch) and joins it.
	~BatchReader();
	BatchReader(const BatchReader &) = delete;
	BatchReader &operator=(const BatchReader &) = delete;

	// Next waits for the next batch; false at the end of the collection. Rethrows what the reader threw
	// (MongoSourceError, ...).
	bool Next(ReadBatch &batch);

  private:
	void Run() noexcept;
	void Read();
	bool Push(ReadBatch &&batch);

	MongoSource &source_;
	const mapping::Mapping &mapping_;
	const mapping::CollectionMap &collection_;
	std::optional<std::string> last_id_;
	std::int64_t batch_;
	std::mutex mutex_;
	std::condition_variable changed_;
	std::deque<ReadBatch> ready_;
	bool finished_ = false, stop_ = false;
	std::exception_ptr error_;
	std::thread thread_;
};

// IdJson returns {"_id": <doc's _id>} as relaxed extended JSON.
std::string IdJson(const bson_t *doc);

// TransformOrReject maps doc, turning a document without a usable _id into a rejected one (its legacy id: the
// _id as relaxed extended JSON) instead of an exception.
mapping::MappedDocument TransformOrReject(const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
										  const bson_t *doc);

// FindOptions returns {sort: {_id: 1}, batchSize: batch} (bson_destroy it).
bson_t *NewFindOptions(std::int64_t batch);

} // namespace mosta::migrate
