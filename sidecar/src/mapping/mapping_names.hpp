/*
 * mapping_names.hpp
 *     The lexical rules of a mapping file (docs/migration-mapping.md): which column and table names it accepts (plain
 *     lowercase identifiers that need no quoting anywhere), how type names are normalised (int → integer, ...),
 *     which BSON type names exist and how a TTL's "after" reads; shared by the parser and by mosta-migrate infer.
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mosta::mapping {

// IsPlainIdentifier tells whether name is a lowercase SQL identifier that needs no quotes: [a-z_][a-z0-9_]*, at
// most 63 bytes, not a reserved word of PostgreSQL.
bool IsPlainIdentifier(std::string_view name) noexcept;

// IsReservedWord tells whether name is one of PostgreSQL's reserved key words (select, user, order, ...).
bool IsReservedWord(std::string_view name) noexcept;

// SnakeCase turns a MongoDB field name into a column name: "displayName" → "display_name", "e-mail" → "e_mail",
// "2fa" → "_2fa"; a reserved word gets a "_" suffix; cut to 63 bytes.
std::string SnakeCase(std::string_view name);

// NormaliseType returns the type text as PostgreSQL's format_type prints a column of that type (int → integer,
// timestamptz(3) → timestamp(3) with time zone, char → character(1), decimal(10) → numeric(10,0), int[3] →
// integer[], ...), but for the dimensions of an array, which it keeps (int[][] → integer[][]: the transform reads
// nested arrays by them; format_type prints integer[]); names it does not know keep their words, lowercased with one
// space between them; "" when text cannot be a type name (empty, unbalanced brackets, characters no type name holds:
// ; ' " --).
std::string NormaliseType(std::string_view text);

// SameColumnType tells whether a column whose format_type is format_type has the (normalised) mapping type type:
// equal, an array's dimensions aside (format_type prints one "[]" whatever they are).
bool SameColumnType(std::string_view format_type, std::string_view type) noexcept;

// BaseType returns type without its typmod and array brackets ("numeric(38,18)" → "numeric", "text[]" → "text").
std::string BaseType(std::string_view type);

// IsTimestampType tells whether type (normalised) is one mosta_add_ttl accepts: timestamp with or without time zone,
// or date.
bool IsTimestampType(std::string_view type) noexcept;

// IsNumericType tells whether type (normalised) holds numbers a sum can add: integer types, numeric, real, double.
bool IsNumericType(std::string_view type) noexcept;

// IsIntegerType tells whether type (normalised) is smallint, integer or bigint.
bool IsIntegerType(std::string_view type) noexcept;

// IsBsonTypeName tells whether name is one of the "bson" values a field may name.
bool IsBsonTypeName(std::string_view name) noexcept;

// EditDistance returns the Levenshtein distance of a and b (the "did you mean" of unknown keys).
std::size_t EditDistance(std::string_view a, std::string_view b);

// IntervalText returns after (a TTL's "after": "90 days", "1 hour 30 minutes", "3600 seconds") normalised, or "" when
// it is not a positive list of <number> <unit> pairs.
std::string IntervalText(std::string_view after);

} // namespace mosta::mapping
