/*
 * follow_reduce.cpp
 *     ReducePlan and StopsFollow (follow_reduce.hpp).
 */
#include "follow_reduce.hpp"

#include <map>
#include <optional>
#include <utility>

#include "mapping/transform.hpp"

namespace mosta::migrate {

namespace {

// The last state of each key of one collection, keys in the order they first appeared.
struct CollectionState {
	std::vector<KeyChange> keys;
	std::map<std::string, std::size_t> index; // legacy id → position in keys
};

KeyChange
KeyOf(const ChangeEvent &event) {
	KeyChange change;
	bson_iter_t id;
	std::optional<std::string> legacy;
	if (bson_iter_init_find(&id, event.key.get(), "_id"))
		legacy = mapping::LegacyIdText(&id);
	if (legacy) {
		change.legacy_id = *legacy;
	} else {
		change.legacy_id = sidecar::BsonToRelaxedJson(event.key.get());
		change.bad_id = true;
	}
	return change;
}

void
Record(CollectionState &state, KeyChange change) {
	auto [at, inserted] = state.index.emplace(change.legacy_id, state.keys.size());
	if (inserted)
		state.keys.push_back(std::move(change));
	else
		state.keys[at->second] = std::move(change);
}

} // namespace

FollowPlan
ReducePlan(const std::vector<ChangeEvent> &events, const mapping::Mapping &mapping,
		   const std::vector<const mapping::CollectionMap *> &order) {
	FollowPlan plan;
	std::map<std::string, CollectionState> states;
	for (const ChangeEvent &event : events) {
		if (event.wall_ms != 0)
			plan.last_wall_ms = event.wall_ms;
		bool data = event.op == ChangeOp::Insert || event.op == ChangeOp::Update || event.op == ChangeOp::Replace ||
					event.op == ChangeOp::Delete;
		if (!data || mapping.Find(event.collection) == nullptr) {
			++plan.skipped;
			continue;
		}
		++plan.events;
		KeyChange change = KeyOf(event);
		if (event.op != ChangeOp::Delete) {
			if (!event.full_document) {
				++plan.vanished; // deleted since: the delete event follows
				continue;
			}
			change.document = event.full_document.get();
		}
		Record(states[event.collection], std::move(change));
	}
	for (int pass = 0; pass < 2; ++pass) {
		bool deletes = pass == 1;
		for (std::size_t i = 0; i < order.size(); ++i) {
			const mapping::CollectionMap *collection = deletes ? order[order.size() - 1 - i] : order[i];
			auto state = states.find(collection->collection);
			if (state == states.end())
				continue;
			PlanStep step{collection, deletes, {}};
			for (const KeyChange &change : state->second.keys)
				if ((change.document == nullptr) == deletes)
					step.changes.push_back(change);
			if (!step.changes.empty())
				plan.steps.push_back(std::move(step));
		}
	}
	return plan;
}

bool
StopsFollow(const ChangeEvent &event, const mapping::Mapping &mapping, std::string *why) {
	const std::string database = mapping.source_database.empty() ? "the source database" : mapping.source_database;
	switch (event.op) {
	case ChangeOp::Drop:
		if (mapping.Find(event.collection) == nullptr)
			return false;
		*why = "collection " + event.collection +
			   " was dropped in MongoDB: the catch-up cannot follow it. If the drop "
			   "is intended, remove it from the mapping (and its table) and run follow again; otherwise restore the "
			   "collection and re-run backfill with --again, then follow";
		return true;
	case ChangeOp::Rename:
		if (mapping.Find(event.collection) == nullptr && mapping.Find(event.rename_to) == nullptr)
			return false;
		*why = "collection " + event.collection + " was renamed to " + event.rename_to +
			   " in MongoDB: the catch-up cannot follow a rename. Update the mapping's collection names, then re-run "
			   "backfill with --again and follow";
		return true;
	case ChangeOp::DropDatabase:
		*why = database + " was dropped in MongoDB: there is nothing left to follow";
		return true;
	case ChangeOp::Invalidate:
		*why = "the change stream of " + database +
			   " was invalidated (the database was dropped or renamed): re-run "
			   "backfill with --again, then follow";
		return true;
	default:
		return false;
	}
}

} // namespace mosta::migrate
