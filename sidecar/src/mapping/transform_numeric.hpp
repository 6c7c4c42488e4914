/*
 * transform_numeric.hpp
 *     Decimal texts for the forward transform: a number's text (a Decimal128's, a double's shortest digits, a
 *     string holding a number) brought to the text PostgreSQL's numeric_out prints for the value a numeric column
 *     stores. A typmod numeric(p,s) pads the scale to s; a value with non-zero digits beyond s is refused rather
 *     than rounded (a migration does not change amounts silently: widen the column instead), as is a value whose
 *     integer digits exceed p - s.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mosta::mapping {

// A numeric column's typmod (numeric(p,s)); precision < 0: none.
struct NumericTypmod {
	int precision = -1;
	int scale = 0;
};

// NumericText returns numeric_out's text of the number written in text (decimal digits with an optional sign,
// point and exponent; surrounding spaces, NaN and [+-]Infinity/inf as numeric_in takes them) for a column with
// typmod, or nullopt with *reason set.
std::optional<std::string> NumericText(std::string_view text, NumericTypmod typmod, std::string *reason);

// IntegralText returns the integer text of a number text whose value is integral (no non-zero fraction digits),
// or nullopt.
std::optional<std::string> IntegralText(std::string_view text);

} // namespace mosta::mapping
