/*
 * json_writer.hpp
 *     The JSON the monitor writes (the state, health answers): strings escaped so that the text is safe inside
 *     HTML and an SSE data line as well as JSON (", \, control characters, and <, >, &, U+2028, U+2029 as \u
 *     escapes), and a topology read with simdjson's DOM written back compact in that escaping.
 */
#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

namespace mosta::monitor {

// AppendJsonString appends text as a JSON string token (with its quotes).
void AppendJsonString(std::string &out, std::string_view text);

// JsonString returns text as a JSON string token.
std::string JsonString(std::string_view text);

// AppendJsonNumber appends a double the shortest way that reads back the same ("null" when not finite).
void AppendJsonNumber(std::string &out, double value);

// AppendJsonElement appends element compact, strings escaped as AppendJsonString does, keys in document order.
void AppendJsonElement(std::string &out, simdjson::dom::element element);

} // namespace mosta::monitor
