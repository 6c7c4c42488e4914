/*
 * follow_reduce.hpp
 *     What one batch of change events does to the target, as a pure function (no I/O): the events are reduced to
 *     the last state per (collection, _id) — an insert, update or replace is an upsert of the event's full document
 *     (updateLookup), a delete a delete, the later event of a key wins — and ordered for the foreign keys: upserts
 *     collection by collection in load order (parents first), then deletes in reverse load order (children first).
 *
 *     An update whose full document is null (the document was deleted before the event was read) changes nothing:
 *     the delete event follows. Events of collections the mapping does not name are skipped (the caller still moves
 *     the stream position past them). Structural events (drop, rename, dropDatabase, invalidate) never reach the
 *     reduction: the caller stops the batch before them (StopsFollow).
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <bson/bson.h>

#include "change_stream.hpp"
#include "mapping/mapping.hpp"

namespace mosta::migrate {

// One key's final state in a batch.
struct KeyChange {
	std::string legacy_id;			  // LegacyIdText of the _id, or (bad_id) its relaxed JSON
	bool bad_id = false;			  // the _id is neither an ObjectId, a string nor an integer
	const bson_t *document = nullptr; // upsert: the full document (owned by the batch's event); null: delete
};

// One step of the plan: upserts or deletes of one collection.
struct PlanStep {
	const mapping::CollectionMap *collection = nullptr;
	bool deletes = false;
	std::vector<KeyChange> changes; // in the order the keys first appeared in the batch
};

struct FollowPlan {
	std::vector<PlanStep> steps;   // upserts in load order, then deletes in reverse load order; no empty step
	std::int64_t events = 0;	   // data-change events of mapped collections (what stream.applied counts)
	std::int64_t skipped = 0;	   // events of other collections, and operation types follow ignores
	std::int64_t vanished = 0;	   // updates whose full document was null (deleted since)
	std::int64_t last_wall_ms = 0; // wall time of the batch's last event (0: none)
};

// ReducePlan reduces events (in stream order) through mapping, ordered by order (mapping::LoadOrder's result).
FollowPlan ReducePlan(const std::vector<ChangeEvent> &events, const mapping::Mapping &mapping,
					  const std::vector<const mapping::CollectionMap *> &order);

// StopsFollow tells whether event ends the catch-up (a drop or rename of a mapped collection, a dropDatabase, an
// invalidate); *why then says what happened and what to do.
bool StopsFollow(const ChangeEvent &event, const mapping::Mapping &mapping, std::string *why);

} // namespace mosta::migrate
