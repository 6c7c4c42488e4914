/*
 * apply_problems.cpp
 *     RecordProblems (apply_problems.hpp): two statements per call, whatever the number of documents.
 */
#include "apply_problems.hpp"

#include <set>
#include <tuple>

#include "apply_sql.hpp"

namespace mosta::migrate {

void
RecordProblems(sidecar::PgSession &session, const std::string &mapping, const std::string &collection,
			   const std::vector<std::string> &documents, const std::vector<Problem> &problems) {
	// one row per key: ON CONFLICT cannot touch a row twice in one statement (the first problem of a key wins)
	std::set<std::tuple<std::string, std::string, std::string>> seen;
	std::vector<std::optional<std::string>> ids, kinds, fields, parents, parent_ids, states, messages;
	for (const Problem &problem : problems) {
		if (!seen.emplace(problem.legacy_id, problem.kind, problem.field).second)
			continue;
		ids.emplace_back(problem.legacy_id);
		kinds.emplace_back(problem.kind);
		fields.emplace_back(problem.field);
		parents.push_back(problem.parent_collection);
		parent_ids.push_back(problem.parent_legacy_id);
		states.push_back(problem.sqlstate);
		messages.emplace_back(problem.message);
	}
	std::string all = TextArrayLiteral(documents), id_array = TextArrayLiteral(ids),
				kind_array = TextArrayLiteral(kinds), field_array = TextArrayLiteral(fields);
	session.Query(
		"DELETE FROM mosta_migration.problems p WHERE p.mapping = $1 AND p.collection = $2"
		" AND p.legacy_id = ANY ($3::text[]) AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[],"
		" $6::text[]) AS c(legacy_id, kind, field) WHERE c.legacy_id = p.legacy_id AND c.kind = p.kind"
		" AND c.field = p.field)",
		{mapping.c_str(), collection.c_str(), all.c_str(), id_array.c_str(), kind_array.c_str(), field_array.c_str()},
		"clearing the problems of applied documents");
	if (ids.empty())
		return;
	std::string parent_array = TextArrayLiteral(parents), parent_id_array = TextArrayLiteral(parent_ids),
				state_array = TextArrayLiteral(states), message_array = TextArrayLiteral(messages);
	session.Query(
		"INSERT INTO mosta_migration.problems AS p (mapping, collection, legacy_id, kind, field, parent_collection,"
		" parent_legacy_id, sqlstate, message) SELECT $1, $2, c.* FROM unnest($3::text[], $4::text[], $5::text[],"
		" $6::text[], $7::text[], $8::text[], $9::text[]) AS c ON CONFLICT (mapping, collection, legacy_id, kind,"
		" field) DO UPDATE SET attempts = p.attempts + 1, last_seen = now(), parent_collection ="
		" excluded.parent_collection, parent_legacy_id = excluded.parent_legacy_id, sqlstate = excluded.sqlstate,"
		" message = excluded.message",
		{mapping.c_str(), collection.c_str(), id_array.c_str(), kind_array.c_str(), field_array.c_str(),
		 parent_array.c_str(), parent_id_array.c_str(), state_array.c_str(), message_array.c_str()},
		"recording the documents not applied");
}

} // namespace mosta::migrate
