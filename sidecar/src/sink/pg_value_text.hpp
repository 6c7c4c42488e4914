/*
 * pg_value_text.hpp
 *     The two text forms of a PostgreSQL value and the conversions between them, led by the column's base type
 *     classified by the type table (pg_types.hpp): the one owner of this logic (mosta-copy's model/value_text and
 *     the PostgreSQL sink both call it).
 *       PgText: PostgreSQL's output and input text under kPgSessionSettingsSql.
 *       Canonical: the change documents' encoding (docs/protocol.md section 8) as text: booleans true/false, dates
 *         and timestamps in the plugin's XSD form with astronomical years ("-0043-03-15"), arrays as JSON arrays
 *         nested per dimension (elements by their own type), int2vector/oidvector as JSON arrays of integers.
 *     Every other type reads alike in both forms under the session settings (see pg_value_text.cpp).
 */
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "mosta/common/pg_types.hpp"

namespace mosta::sidecar {

// kPgSessionSettingsSql fixes the text of every value read from or written to PostgreSQL as PgText.
inline constexpr const char *kPgSessionSettingsSql =
	"SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; "
	"SET extra_float_digits = 1; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'";

// How a column's values are rewritten from one form to the other.
enum class PgValueConversion { AsIs, Bool, Timestamptz, Timestamp, Date, Array, IntVector };

// A column's conversion, classified once (PlanPgValue).
struct PgValuePlan {
	PgValueConversion conversion = PgValueConversion::AsIs;
	PgTypeKind element = PgTypeKind::Text; // an array's element kind
	char delimiter = ',';				   // an array's element delimiter (';' for box, ',' for every other type)
};

// The two forms.
enum class PgValueForm { PgText, Canonical };

// Buffers reused across the values of one conversion.
struct PgValueScratch {
	std::string element;
	std::string other;
};

// PgValueError is a value that cannot be converted; what() is the problem ("not an ISO date"), which callers
// complete with the column and the value.
class PgValueError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// PlanPgValue classifies a column of type (its base type, a domain's base for a domain) whose base name is
// base_name (SplitPgTypeName(...).base: "int2vector", "box" need their names).
PgValuePlan PlanPgValue(PgColumnType type, std::string_view base_name);

// AppendPgValue appends value, in the form other than to, converted to form to; throws PgValueError.
void AppendPgValue(std::string &out, std::string_view value, const PgValuePlan &plan, PgValueForm to,
				   PgValueScratch &scratch);

} // namespace mosta::sidecar
