/*
 * backfill.hpp
 *     Backfill (docs/migration.md, "Backfill"): each collection read in _id order from its checkpoint, mapped
 *     (mapping/transform.hpp) and applied (apply.hpp) in batches, each batch ONE PostgreSQL transaction with its
 *     checkpoint row (mosta_migration.checkpoints: the last _id as relaxed extended JSON, so its BSON type
 *     survives). A kill at any moment loses at most the batch in flight, which the next run reads again; re-applying
 *     is harmless (upserts keyed on the legacy id change nothing). Then the documents held back for a missing
 *     parent are read again and retried, and the mapping's counters seeded.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "apply.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "progress.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

struct BackfillOptions {
	std::int64_t batch = 5000;
	bool again = false; // re-read collections already done
};

// What one collection's backfill did in this run.
struct CollectionRun {
	std::string collection;
	bool skipped = false; // done already (no --again)
	bool finished = false;
	std::int64_t read = 0;
	ApplyCounts counts;
	// where the time went: waiting for MongoDB, mapping documents, writing PostgreSQL (the bottleneck shows)
	// (reading and mapping run on the reader thread while PostgreSQL writes; waiting: the writer idle)
	double read_seconds = 0, map_seconds = 0, write_seconds = 0, wait_seconds = 0;
};

// BackfillCollection backfills collection from its checkpoint; stops early (finished false) after the batch that
// commits when StopRequested. Throws PgError, MongoSourceError.
CollectionRun BackfillCollection(sidecar::PgSession &session, Applier &applier, MongoSource &source,
								 const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
								 const BackfillOptions &options, Progress &progress);

// RetryMissingParents reads the documents recorded as 'missing_parent' again (collections in load order) and
// applies them, pass after pass while a pass applies any; returns what the passes did.
ApplyCounts RetryMissingParents(sidecar::PgSession &session, Applier &applier, MongoSource &source,
								const mapping::Mapping &mapping,
								const std::vector<const mapping::CollectionMap *> &order, std::int64_t batch);

// SeedCounters raises each counter of the mapping to the highest value backfilled (mosta_seed_counter); returns
// the number of keys seeded, or -1 when the database lacks mosta_seed_counter (an older extension).
std::int64_t SeedCounters(sidecar::PgSession &session, const mapping::Mapping &mapping);

} // namespace mosta::migrate
