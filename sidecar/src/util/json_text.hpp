/*
 * json_text.hpp
 *     Reading JSON text with simdjson's On-Demand API, the sidecar's one JSON library: a parse of a string_view
 *     (copied into a padded buffer), the exact text of any value (numbers as written, objects and arrays as sent),
 *     and a compact writer. The walkers of the sinks (JSON arrays → PostgreSQL arrays, json → BSON, DDL and type
 *     messages) build on it.
 *
 *     Errors: simdjson reports a malformed text where it is read, as simdjson::simdjson_error (exceptions are on
 *     in Debian's build); JsonError turns one into a message, so each walker keeps its own error text.
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace mosta::sidecar {

namespace ondemand = simdjson::ondemand;

// JsonParse parses one JSON text. A parse nested inside another (a json value held in a string of an outer
// document) takes its own parser and buffer from a per-thread pool, so the outer one stays valid; parsers are
// reused across parses, so a parse allocates nothing once the pool has grown to the texts' size (a text over
// 1 MiB frees its parser's memory when done, so one big value does not stay in the RSS).
class JsonParse {
  public:
	// JsonParse copies text into a padded buffer and starts iterating it; throws simdjson::simdjson_error when the
	// text cannot even be indexed (unbalanced quotes, invalid UTF-8, too deep).
	explicit JsonParse(std::string_view text);
	~JsonParse();
	JsonParse(const JsonParse &) = delete;
	JsonParse &operator=(const JsonParse &) = delete;

	// Document returns the document to walk (once, as On-Demand documents are).
	ondemand::document &
	Document() noexcept {
		return document_;
	}

	// ExpectEnd throws simdjson::simdjson_error(TRAILING_CONTENT) when text is left after the root object or
	// array just walked.
	void ExpectEnd();

	// ExpectScalarEnd throws simdjson::simdjson_error(TRAILING_CONTENT) when text is left after root_token, the
	// raw_json_token of a scalar root.
	void ExpectScalarEnd(std::string_view root_token) const;

  private:
	std::size_t slot_;
	std::string_view padded_;
	ondemand::document document_;
};

// ForEachElement calls each(element) for the elements of the JSON array text array; throws
// simdjson::simdjson_error when array is not one.
template <typename Each>
void
ForEachElement(std::string_view array, Each each) {
	JsonParse parse(array);
	// named: a range over value()'s result would refer into a destroyed temporary
	ondemand::array elements = parse.Document().get_array().value();
	for (auto element : elements)
		each(element.value());
	parse.ExpectEnd();
}

// TrimJsonSpace returns token without the JSON whitespace raw_json_token leaves after it.
std::string_view TrimJsonSpace(std::string_view token) noexcept;

// RawJsonText returns the exact text of value (consuming it): an object or array as sent, a scalar's token (a
// string with its quotes and escapes, a number as written).
std::string_view RawJsonText(ondemand::value value);

// AppendCompactJson writes value (consuming it) as compact JSON: no whitespace, strings escaped as the
// dumps' type records have them (\" \\ \b \f \n \r \t, other control characters \u00XX, the rest as UTF-8), numbers as
// written.
void AppendCompactJson(ondemand::value value, std::string &out);

// JsonErrorText returns simdjson's message for a parse error.
std::string JsonErrorText(const simdjson::simdjson_error &error);

} // namespace mosta::sidecar
