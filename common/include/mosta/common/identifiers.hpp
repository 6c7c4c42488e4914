/*
 * identifiers.hpp
 *     Quote SQL identifiers and string literals for PostgreSQL and SQLite.
 *
 * Regime: plain C++17, no PostgreSQL server header; shared by the extension (C++17, PGXS) and the sidecar (C++20).
 * Functions report bad input by throwing std::invalid_argument, so extension callers must call them inside the
 * C++ side of the boundary and turn the exception into an ereport there.
 * PostgreSQL versions assumed: any (standard_conforming_strings = on, the default since 9.1).
 */
#pragma once

#include <string>
#include <string_view>

namespace mosta {

// QuoteIdentifier returns name as a double-quoted SQL identifier (PostgreSQL and SQLite rules): always quoted,
// embedded " doubled. Throws std::invalid_argument if name is empty or contains a NUL byte.
std::string QuoteIdentifier(std::string_view name);

// QuoteQualifiedName returns "schema"."name", quoting each part with QuoteIdentifier (and throwing like it).
std::string QuoteQualifiedName(std::string_view schema, std::string_view name);

// QuoteLiteral returns value as a standard-conforming SQL string literal: '...' with ' doubled (backslashes are
// NOT special). Throws std::invalid_argument on a NUL byte.
std::string QuoteLiteral(std::string_view value);

} // namespace mosta
