/*
 * verify_scan.cpp
 *     ScanCollection (verify_scan.hpp).
 */
#include "verify_scan.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "backfill_reader.hpp" // IdJson
#include "commands.hpp"

namespace mosta::migrate {

namespace {

// kScanBatch is the cursor's batch size; kProgressEvery how often progress is written.
constexpr int kScanBatch = 1000;
constexpr std::chrono::seconds kProgressEvery{5};

} // namespace

void
ScanCollection(MongoSource &source, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
			   const std::function<void(const mapping::MappedDocument &)> &each,
			   const std::function<void(const std::string &)> &untransformable) {
	MongoCollection handle = source.Collection(collection.collection);
	bson_t filter = BSON_INITIALIZER;
	bson_t *opts = BCON_NEW("batchSize", BCON_INT32(kScanBatch));
	MongoCursor cursor(mongoc_collection_find_with_opts(handle.get(), &filter, opts, nullptr));
	bson_destroy(&filter);
	bson_destroy(opts);
	const bson_t *doc = nullptr;
	long long read = 0;
	auto last = std::chrono::steady_clock::now();
	while (mongoc_cursor_next(cursor.get(), &doc)) {
		try {
			each(mapping::TransformDocument(mapping, collection, doc));
		} catch (const mapping::MappingError &) {
			untransformable(IdJson(doc));
		}
		if (++read % kScanBatch == 0) {
			if (StopRequested())
				throw std::runtime_error("interrupted while reading " + collection.collection);
			auto now = std::chrono::steady_clock::now();
			if (now - last >= kProgressEvery) {
				std::fprintf(stderr, "verify: %s: %lld documents read\n", collection.collection.c_str(), read);
				last = now;
			}
		}
	}
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source.Fail("reading " + collection.collection, error);
}

} // namespace mosta::migrate
