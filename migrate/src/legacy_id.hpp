/*
 * legacy_id.hpp
 *     From a legacy id text back to the _id values that print as it (the inverse of mapping::LegacyIdText): to read
 *     a document of MongoDB by the legacy id PostgreSQL keeps (follow's retries of held-back documents, shadow's
 *     samples). A text may stand for several _id types ("42": int32, int64 or the string), so a reader asks for all
 *     of them with {_id: {$in: [...]}} and keeps the documents whose LegacyIdText matches.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <bson/bson.h>

#include "sink/mongo_bson.hpp"

namespace mosta::migrate {

// AppendLegacyIdCandidates appends to array (an open BSON array whose next element number is index, advanced) the
// _id values legacy_id may stand for: 24 lowercase hex digits an ObjectId, a decimal integer an int32 (when in its
// range) and an int64, and always the string.
void AppendLegacyIdCandidates(bson_t *array, std::uint32_t &index, const std::string &legacy_id);

// LegacyIdCandidates returns the candidates of every legacy id, as the elements of a {"$in": [...]} array document.
sidecar::BsonHandle LegacyIdCandidates(const std::vector<std::string> &legacy_ids);

} // namespace mosta::migrate
