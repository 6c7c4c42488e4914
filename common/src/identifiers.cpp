/*
 * identifiers.cpp
 *     Quote SQL identifiers and string literals for PostgreSQL and SQLite.
 *
 * Regime: plain C++17 (throws std::invalid_argument); no PostgreSQL server header.
 * PostgreSQL versions assumed: any, with standard_conforming_strings = on.
 */
#include "mosta/common/identifiers.hpp"

#include <stdexcept>

namespace mosta {

namespace {

// QuoteWith returns text enclosed in quote, with every embedded quote doubled; what names the input in errors.
std::string
QuoteWith(std::string_view text, char quote, const char *what) {
	if (text.find('\0') != std::string_view::npos)
		throw std::invalid_argument(std::string(what) + " contains a NUL byte");

	std::string quoted;
	quoted.reserve(text.size() + 2);
	quoted += quote;
	for (char c : text) {
		if (c == quote)
			quoted += quote;
		quoted += c;
	}
	quoted += quote;
	return quoted;
}

} // namespace

// QuoteIdentifier returns name double-quoted, with embedded double quotes doubled.
std::string
QuoteIdentifier(std::string_view name) {
	if (name.empty())
		throw std::invalid_argument("SQL identifier is empty");
	return QuoteWith(name, '"', "SQL identifier");
}

// QuoteQualifiedName returns "schema"."name".
std::string
QuoteQualifiedName(std::string_view schema, std::string_view name) {
	return QuoteIdentifier(schema) + "." + QuoteIdentifier(name);
}

// QuoteLiteral returns value single-quoted, with embedded single quotes doubled.
std::string
QuoteLiteral(std::string_view value) {
	return QuoteWith(value, '\'', "SQL literal");
}

} // namespace mosta
