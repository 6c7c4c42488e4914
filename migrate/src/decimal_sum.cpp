/*
 * decimal_sum.cpp
 *     DecimalSum and RescaleDecimal (decimal_sum.hpp): schoolbook arithmetic on digit strings (sums of thousands or
 *     millions of amounts: linear in the digits, no big-number library needed).
 */
#include "decimal_sum.hpp"

#include <algorithm>

namespace mosta::migrate {

namespace {

// A parsed decimal: its digits without the point (leading zeros stripped), the number of fraction digits, its sign.
struct Decimal {
	std::string digits;
	int scale = 0;
	bool negative = false;
};

// Parse reads [+-]digits[.digits] (at least one digit); nullopt otherwise.
std::optional<Decimal>
Parse(std::string_view text) {
	Decimal out;
	std::size_t i = 0;
	if (i < text.size() && (text[i] == '-' || text[i] == '+'))
		out.negative = text[i++] == '-';
	bool any = false;
	bool point = false;
	for (; i < text.size(); ++i) {
		char c = text[i];
		if (c == '.' && !point) {
			point = true;
			continue;
		}
		if (c < '0' || c > '9')
			return std::nullopt;
		any = true;
		out.digits += c;
		out.scale += point ? 1 : 0;
	}
	if (!any)
		return std::nullopt;
	out.digits.erase(0, std::min(out.digits.find_first_not_of('0'), out.digits.size()));
	if (out.digits.empty())
		out.negative = false;
	return out;
}

// Compare compares two magnitudes (no leading zeros).
int
Compare(const std::string &a, const std::string &b) {
	if (a.size() != b.size())
		return a.size() < b.size() ? -1 : 1;
	return a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
}

std::string
StripZeros(std::string digits) {
	digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
	return digits;
}

// AddMagnitudes returns a + b.
std::string
AddMagnitudes(const std::string &a, const std::string &b) {
	std::string out;
	int carry = 0;
	for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry != 0; ++i) {
		int sum = carry;
		sum += i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
		sum += i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
		out += static_cast<char>('0' + sum % 10);
		carry = sum / 10;
	}
	std::reverse(out.begin(), out.end());
	return StripZeros(out);
}

// SubtractMagnitudes returns a - b, a >= b.
std::string
SubtractMagnitudes(const std::string &a, const std::string &b) {
	std::string out;
	int borrow = 0;
	for (std::size_t i = 0; i < a.size(); ++i) {
		int digit = a[a.size() - 1 - i] - '0' - borrow - (i < b.size() ? b[b.size() - 1 - i] - '0' : 0);
		borrow = digit < 0 ? 1 : 0;
		out += static_cast<char>('0' + digit + 10 * borrow);
	}
	std::reverse(out.begin(), out.end());
	return StripZeros(out);
}

// Format prints magnitude × 10^-scale with its sign as numeric_out does.
std::string
Format(const std::string &magnitude, int scale, bool negative) {
	std::string digits = magnitude;
	if (digits.size() <= static_cast<std::size_t>(scale))
		digits.insert(0, static_cast<std::size_t>(scale) + 1 - digits.size(), '0');
	if (scale > 0)
		digits.insert(digits.size() - static_cast<std::size_t>(scale), 1, '.');
	return (negative && !magnitude.empty() ? "-" : "") + digits;
}

} // namespace

bool
DecimalSum::Add(std::string_view text) {
	if (text == "NaN") {
		nan_ = true;
		return true;
	}
	std::optional<Decimal> value = Parse(text);
	if (!value)
		return false;
	// align both on the larger scale
	if (value->scale < scale_ && !value->digits.empty())
		value->digits.append(static_cast<std::size_t>(scale_ - value->scale), '0');
	if (value->scale > scale_ && !magnitude_.empty())
		magnitude_.append(static_cast<std::size_t>(value->scale - scale_), '0');
	scale_ = std::max(scale_, value->scale);
	if (value->negative == negative_ || magnitude_.empty() || value->digits.empty()) {
		if (magnitude_.empty())
			negative_ = value->negative;
		magnitude_ = AddMagnitudes(magnitude_, value->digits);
	} else if (Compare(magnitude_, value->digits) >= 0) {
		magnitude_ = SubtractMagnitudes(magnitude_, value->digits);
	} else {
		magnitude_ = SubtractMagnitudes(value->digits, magnitude_);
		negative_ = value->negative;
	}
	if (magnitude_.empty())
		negative_ = false;
	return true;
}

std::string
DecimalSum::Text() const {
	return nan_ ? "NaN" : Format(magnitude_, scale_, negative_);
}

std::optional<std::string>
RescaleDecimal(std::string_view text, int scale) {
	if (text == "NaN")
		return std::string(text);
	std::optional<Decimal> value = Parse(text);
	if (!value || scale < 0)
		return std::nullopt;
	std::string digits = value->digits;
	if (value->scale <= scale) {
		if (!digits.empty())
			digits.append(static_cast<std::size_t>(scale - value->scale), '0');
		return Format(digits, scale, value->negative);
	}
	std::size_t drop = static_cast<std::size_t>(value->scale - scale);
	bool round_up = false;
	if (drop <= digits.size()) {
		round_up = digits[digits.size() - drop] >= '5';
		digits.resize(digits.size() - drop);
	} else {
		digits.clear();
	}
	if (round_up)
		digits = AddMagnitudes(digits, "1");
	return Format(StripZeros(digits), scale, value->negative);
}

} // namespace mosta::migrate
