/*
 * follow_apply.hpp
 *     Applying a reduced batch of change events (follow_reduce.hpp) inside the caller's transaction, through the one
 *     write path (apply.hpp): upserts transformed with TransformDocument, deletes by legacy id. A document whose _id
 *     has no legacy id form is recorded as a 'rejected' problem (field "_id") instead of stopping the catch-up.
 *
 *     After a batch, the 'missing_parent' problems whose parent is now mapped (mosta.id_map knows it) are retried:
 *     their documents are read again from MongoDB by _id and upserted, so a child that arrived before its parent
 *     lands as soon as the parent does.
 */
#pragma once

#include <vector>

#include "apply.hpp"
#include "follow_reduce.hpp"
#include "legacy_id.hpp" // LegacyIdCandidates
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

// ApplyPlan applies plan's steps in order; throws PgError when the session fails (the transaction is lost).
ApplyCounts ApplyPlan(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping,
					  const FollowPlan &plan);

// RetryMissingParents re-reads and upserts (in load order) the documents held back for a parent that is mapped now;
// returns what the upserts did. Documents gone from MongoDB are left to their delete event.
ApplyCounts RetryMissingParents(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping,
								const std::vector<const mapping::CollectionMap *> &order, MongoSource &source);

} // namespace mosta::migrate
