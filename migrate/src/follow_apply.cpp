/*
 * follow_apply.cpp
 *     ApplyPlan, RetryMissingParents (follow_apply.hpp).
 */
#include "follow_apply.hpp"

#include <map>
#include <set>

#include <libpq-fe.h>

#include "mapping/transform.hpp"
#include "mosta/common/identifiers.hpp"

namespace mosta::migrate {

namespace {

// kRetryLimit bounds the documents one batch retries (the rest wait for the next batch).
constexpr int kRetryLimit = 1000;

void
RecordBadId(sidecar::PgSession &session, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
			const std::string &id_json, const std::string &message) {
	session.Query("INSERT INTO mosta_migration.problems (mapping, collection, legacy_id, kind, field, message) "
				  "VALUES ($1, $2, $3, 'rejected', '_id', $4) "
				  "ON CONFLICT (mapping, collection, legacy_id, kind, field) DO UPDATE SET message = EXCLUDED.message, "
				  "last_seen = now(), attempts = mosta_migration.problems.attempts + 1",
				  {mapping.name.c_str(), collection.collection.c_str(), id_json.c_str(), message.c_str()},
				  "recording a rejected document");
}

ApplyCounts
Upserts(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping, const PlanStep &step) {
	ApplyCounts counts;
	std::vector<mapping::MappedDocument> docs;
	docs.reserve(step.changes.size());
	for (const KeyChange &change : step.changes) {
		try {
			docs.push_back(mapping::TransformDocument(mapping, *step.collection, change.document));
		} catch (const mapping::MappingError &e) {
			RecordBadId(session, mapping, *step.collection, change.legacy_id, e.what());
			++counts.rejected;
		}
	}
	if (!docs.empty())
		counts += applier.Upsert(*step.collection, docs);
	return counts;
}

ApplyCounts
Deletes(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping, const PlanStep &step) {
	std::vector<std::string> ids;
	for (const KeyChange &change : step.changes) {
		if (!change.bad_id) {
			ids.push_back(change.legacy_id);
			continue;
		}
		// a document without a legacy id form was never applied: only its 'rejected' problem goes
		session.Query("DELETE FROM mosta_migration.problems WHERE mapping = $1 AND collection = $2 AND legacy_id = $3",
					  {mapping.name.c_str(), step.collection->collection.c_str(), change.legacy_id.c_str()},
					  "clearing the problem of a deleted document");
	}
	return ids.empty() ? ApplyCounts{} : applier.Delete(*step.collection, ids);
}

// HeldBack returns, per collection, the legacy ids held back for a parent that is in PostgreSQL now (its row exists
// under id_map's uuid: what the Applier's hold-back and the foreign key check).
std::map<std::string, std::vector<std::string>>
HeldBack(sidecar::PgSession &session, const mapping::Mapping &mapping) {
	std::string parent_present;
	for (const mapping::CollectionMap &parent : mapping.collections)
		parent_present += std::string(parent_present.empty() ? "" : " OR ") +
						  "(p.parent_collection = " + QuoteLiteral(parent.collection) +
						  " AND EXISTS (SELECT 1 FROM mosta.id_map m JOIN " +
						  QuoteQualifiedName(mapping.schema, parent.table) + " t ON t." +
						  QuoteIdentifier(parent.id_column) + " = m.new_id WHERE m.collection = p.parent_collection " +
						  "AND m.legacy_id = p.parent_legacy_id))";
	if (parent_present.empty())
		return {};
	std::string limit = std::to_string(kRetryLimit);
	sidecar::PgResultHandle result =
		session.Query("SELECT DISTINCT p.collection, p.legacy_id FROM mosta_migration.problems p "
					  "WHERE p.mapping = $1 AND p.kind = 'missing_parent' AND (" +
						  parent_present + ") LIMIT $2::integer",
					  {mapping.name.c_str(), limit.c_str()}, "reading the documents held back for a missing parent");
	std::map<std::string, std::vector<std::string>> held;
	for (int i = 0; i < PQntuples(result.get()); ++i)
		held[PQgetvalue(result.get(), i, 0)].push_back(PQgetvalue(result.get(), i, 1));
	return held;
}

// ReadByLegacyId returns the documents of collection whose legacy id is one of legacy_ids.
std::vector<sidecar::BsonHandle>
ReadByLegacyId(MongoSource &source, const std::string &collection, const std::vector<std::string> &legacy_ids) {
	sidecar::BsonHandle filter(bson_new());
	bson_t id;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
	sidecar::BsonHandle candidates = LegacyIdCandidates(legacy_ids);
	BSON_APPEND_ARRAY(&id, "$in", candidates.get());
	bson_append_document_end(filter.get(), &id);
	MongoCollection handle = source.Collection(collection);
	MongoCursor cursor(mongoc_collection_find_with_opts(handle.get(), filter.get(), nullptr, nullptr));
	std::set<std::string> wanted(legacy_ids.begin(), legacy_ids.end());
	std::vector<sidecar::BsonHandle> docs;
	const bson_t *doc = nullptr;
	while (mongoc_cursor_next(cursor.get(), &doc)) {
		bson_iter_t iter;
		if (!bson_iter_init_find(&iter, doc, "_id"))
			continue;
		std::optional<std::string> legacy = mapping::LegacyIdText(&iter);
		// "1" the string and 1 the integer share a text: the first one found is taken
		if (legacy && wanted.erase(*legacy) != 0)
			docs.emplace_back(bson_copy(doc));
	}
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source.Fail("re-reading documents of " + collection + " held back for a missing parent", error);
	return docs;
}

} // namespace

ApplyCounts
ApplyPlan(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping, const FollowPlan &plan) {
	ApplyCounts counts;
	for (const PlanStep &step : plan.steps)
		counts += step.deletes ? Deletes(session, applier, mapping, step) : Upserts(session, applier, mapping, step);
	return counts;
}

ApplyCounts
RetryMissingParents(sidecar::PgSession &session, Applier &applier, const mapping::Mapping &mapping,
					const std::vector<const mapping::CollectionMap *> &order, MongoSource &source) {
	std::map<std::string, std::vector<std::string>> held = HeldBack(session, mapping);
	ApplyCounts counts;
	for (const mapping::CollectionMap *collection : order) {
		auto ids = held.find(collection->collection);
		if (ids == held.end())
			continue;
		std::vector<sidecar::BsonHandle> docs = ReadByLegacyId(source, collection->collection, ids->second);
		PlanStep step{collection, false, {}};
		for (const sidecar::BsonHandle &doc : docs) {
			KeyChange change;
			change.document = doc.get();
			step.changes.push_back(change);
		}
		if (!step.changes.empty())
			counts += Upserts(session, applier, mapping, step);
	}
	return counts;
}

} // namespace mosta::migrate
