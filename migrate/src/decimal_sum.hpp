/*
 * decimal_sum.hpp
 *     Exact decimal arithmetic on numeric texts, for verify's grouped sums (docs/migration.md, "verify"): the MongoDB
 *     side adds the canonical texts the transform gives ("12.50", "-3", "1000.000000000000000000") as PostgreSQL's
 *     sum(numeric) does: exactly, the result's scale the largest scale added ("0" for no value). RescaleDecimal
 *     gives the text a value takes in a numeric(p,s) column (rounded half away from zero, as numeric does).
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mosta::migrate {

// DecimalSum adds decimal texts exactly.
class DecimalSum {
  public:
	// Add adds text (optional sign, digits, optional fraction; "NaN" makes the sum NaN); false when text is not
	// such a number (the sum is then unchanged).
	bool Add(std::string_view text);
	// Text returns the sum as numeric_out prints it: "-12.50", "0", "0.000", "NaN".
	std::string Text() const;

  private:
	// The value is magnitude (decimal digits, most significant first, no leading zeros) × 10^-scale, with negative_.
	std::string magnitude_;
	bool negative_ = false;
	int scale_ = 0;
	bool nan_ = false;
};

// RescaleDecimal returns text (a decimal text as DecimalSum::Add takes) with exactly scale fraction digits, rounded
// half away from zero; nullopt when text is not a number. "NaN" stays "NaN".
std::optional<std::string> RescaleDecimal(std::string_view text, int scale);

} // namespace mosta::migrate
