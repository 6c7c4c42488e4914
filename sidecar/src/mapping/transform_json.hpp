/*
 * transform_json.hpp
 *     jsonb texts for the forward transform: a BSON value as the text jsonb_out prints after PostgreSQL stored it,
 *     so that the canonical text the transform gives equals what mosta_checksum reads back. jsonb sorts an
 *     object's keys (shorter first, then bytewise), keeps the last of duplicate keys, prints ", " and ": ", and
 *     numbers as numeric_out does. BSON types JSON has no type for follow verify_mongo's reading (ObjectId → its
 *     hex string, date → the timestamptz text, binary → "\x…" or a uuid's text, Decimal128 → a number with its
 *     scale); NaN and infinities become the strings "NaN", "Infinity", "-Infinity"; regular expressions,
 *     timestamps, code, symbols, min/max keys become their relaxed extended JSON object ({"$timestamp": {"i": 1,
 *     "t": 2}}), so nothing is dropped. A string jsonb cannot hold (a NUL character, invalid UTF-8) is a problem.
 */
#pragma once

#include <map>
#include <string>

#include <bson/bson.h>

namespace mosta::mapping {

// The mapped paths of a document, as a tree of field names: a leaf is removed whole from extra.
struct PathTree {
	bool leaf = false;
	std::map<std::string, PathTree, std::less<>> children;

	void Add(const std::string &dotted_path);
};

// Where a jsonb text could not be written: the dotted path of the value (from the value written) and why.
struct JsonProblem {
	std::string path;
	std::string reason;
	bson_iter_t value{};
};

// AppendJsonb appends the jsonb text of the value at iter; false (and *problem) when a string cannot be held.
bool AppendJsonb(std::string &out, const bson_iter_t *iter, JsonProblem *problem);

// AppendJsonbDocumentExcept appends the jsonb text of the document iter points into (an iterator on a document,
// as bson_iter_init leaves it), without removed's leaves and without its top-level key skip ("_id"); a
// subdocument that the removal leaves empty is dropped. False (and *problem, whose path is prefixed) on a string
// jsonb cannot hold.
bool AppendJsonbDocumentExcept(std::string &out, bson_iter_t *fields, const PathTree &removed, const char *skip,
							   JsonProblem *problem);

// PgStringProblem tells why PostgreSQL's text cannot hold these bytes ("" when it can).
const char *PgStringProblem(const char *text, std::uint32_t length);

} // namespace mosta::mapping
