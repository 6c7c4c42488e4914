/*
 * apply_problems.hpp
 *     The Applier's records in mosta_migration.problems (state.hpp): per document and field, why it was not
 *     applied. A document seen again keeps its row (attempts + 1, last_seen now); a document applied or deleted
 *     loses its rows, and so does a problem it no longer has.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sink/pg_session.hpp"

namespace mosta::migrate {

inline constexpr const char *kMissingParent = "missing_parent";
inline constexpr const char *kRejected = "rejected";

// One row of mosta_migration.problems.
struct Problem {
	std::string legacy_id;
	std::string kind; // kMissingParent or kRejected
	std::string field;
	std::optional<std::string> parent_collection;
	std::optional<std::string> parent_legacy_id;
	std::optional<std::string> sqlstate;
	std::string message;
};

// RecordProblems makes the problems of documents (legacy ids of one collection, all the documents a call
// handled) exactly problems: the rows of documents without a problem now, and rows of problems that went away,
// are deleted; the others inserted or counted again. Throws PgError.
void RecordProblems(sidecar::PgSession &session, const std::string &mapping, const std::string &collection,
					const std::vector<std::string> &documents, const std::vector<Problem> &problems);

} // namespace mosta::migrate
