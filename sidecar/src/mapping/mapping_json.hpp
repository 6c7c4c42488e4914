/*
 * mapping_json.hpp
 *     The mapping file as a small tree of JSON values that remember where they were written (line and column), read
 *     once with simdjson On-Demand: the validation of mapping_parse.cpp then walks it in any order and names the
 *     place of every error, which a forward-only On-Demand walk could not do for cross-references.
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mapping/mapping.hpp"

namespace mosta::mapping {

struct JsonMember;

// One JSON value and where it starts.
struct JsonNode {
	enum class Type { Null, Bool, Number, String, Object, Array };
	Type type = Type::Null;
	std::string text; // String: unescaped; Number: as written
	bool boolean = false;
	std::vector<JsonMember> members; // Object, in file order (duplicate keys are refused)
	std::vector<JsonNode> items;	 // Array
	SourceAt at;
};

// One key of an object with its value; at is where the key is written.
struct JsonMember {
	std::string key;
	SourceAt at;
	JsonNode value;
};

// JsonTypeName names type for messages ("a string", "an object", ...).
const char *JsonTypeName(JsonNode::Type type) noexcept;

// ReadJsonTree reads text (one JSON value) into a tree; throws MappingError "FILE:LINE:COL: ..." for malformed JSON,
// duplicate keys or text after the value.
JsonNode ReadJsonTree(std::string_view text, const std::string &file);

// SourceText formats "FILE:LINE:COL" (or "FILE" when at is unknown).
std::string SourceText(const std::string &file, SourceAt at);

} // namespace mosta::mapping
