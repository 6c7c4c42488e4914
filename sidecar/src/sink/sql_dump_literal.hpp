/*
 * sql_dump_literal.hpp
 *     PostgreSQL SQL literals for the values of change documents (docs/protocol.md section 8), as the SQL dump
 *     sink writes them: every non-NULL value is a quoted literal cast to the column's declared type from "types"
 *     ('12.500'::numeric(10,3)), so PostgreSQL's own input function reads the protocol's text back exactly.
 *
 *     Conversions where the protocol's form is not PostgreSQL's input form:
 *       - arrays (JSON arrays) become array literals ('{1,NULL,3}'::integer[]); lower bounds are already lost;
 *       - BC dates and timestamps, in ISO 8601 astronomical years ("-0043-03-15"), get PostgreSQL's " BC" form;
 *       - text with a line break is written as E'...' (QuoteDumpLiteral), so the dump's lines are its statements;
 *       - floats use the shortest round-trip text; NaN and infinities arrive as strings and are cast as such.
 */
#pragma once

#include <string>
#include <string_view>

#include "decode/change.hpp"

namespace mosta::sidecar {

// QuoteDumpLiteral returns text as a SQL string literal that spans one line: QuoteLiteral's '...' form, or
// E'...' with \\, \n and \r escapes when text holds a line break (so no data line can pass for a checkpoint line).
// Throws std::invalid_argument on a NUL byte.
std::string QuoteDumpLiteral(std::string_view text);

// DollarQuote returns body between dollar-quote tags that do not occur in it ("$mosta$ body $mosta$").
std::string DollarQuote(std::string_view body);

// SqlLiteral returns value as a SQL expression for a column of the given type ("" when unknown: no cast). The
// value's form follows base_type when given: a domain's base type, which the protocol encodes values by.
std::string SqlLiteral(const Value &value, std::string_view type, std::string_view base_type = {});

// JsonArrayToPgArray converts the text of a JSON array (nested per dimension) to PostgreSQL's array input form:
// strings and objects double-quoted with \ and " escaped, null as NULL, numbers and booleans as written. Throws
// std::invalid_argument on text that is not a JSON array.
std::string JsonArrayToPgArray(std::string_view json);

// AstronomicalToBc rewrites a date or timestamp text whose year is 0 or negative ("-0043-03-15T12:00:00+00:00")
// to PostgreSQL's form ("0044-03-15T12:00:00+00:00 BC"); other text is returned as it is.
std::string AstronomicalToBc(std::string_view text);

} // namespace mosta::sidecar
