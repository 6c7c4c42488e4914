/*
 * transform_numeric.cpp
 *     numeric_out's text of a number text (see transform_numeric.hpp).
 */
#include "mapping/transform_numeric.hpp"

#include <algorithm>
#include <cctype>

namespace mosta::mapping {

namespace {

// numeric's limits (NUMERIC_MAX_PRECISION-free form): 131072 digits before the point, 16383 after.
constexpr long long kMaxIntegerDigits = 131072;
constexpr long long kMaxScale = 16383;

// A number as digits × 10^exponent.
struct Decimal {
	bool negative = false;
	std::string digits; // at least one digit
	long long exponent = 0;
};

bool
EqualsNoCase(std::string_view text, std::string_view word) {
	return text.size() == word.size() && std::equal(text.begin(), text.end(), word.begin(), [](char a, char b) {
			   return std::tolower(static_cast<unsigned char>(a)) == b;
		   });
}

std::string_view
Trim(std::string_view text) {
	while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
		text.remove_prefix(1);
	while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
		text.remove_suffix(1);
	return text;
}

// ParseDecimal reads [+-]digits[.digits][(e|E)[+-]digits] (at least one digit before or after the point).
std::optional<Decimal>
ParseDecimal(std::string_view text) {
	Decimal value;
	std::size_t pos = 0;
	if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
		value.negative = text[pos++] == '-';
	bool point = false;
	for (; pos < text.size(); ++pos) {
		const char c = text[pos];
		if (c >= '0' && c <= '9') {
			value.digits += c;
			if (point)
				--value.exponent;
		} else if (c == '.' && !point) {
			point = true;
		} else {
			break;
		}
	}
	if (value.digits.empty())
		return std::nullopt;
	if (pos < text.size()) {
		if (text[pos] != 'e' && text[pos] != 'E')
			return std::nullopt;
		++pos;
		bool negative = false;
		if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
			negative = text[pos++] == '-';
		if (pos == text.size())
			return std::nullopt;
		long long written = 0;
		for (; pos < text.size(); ++pos) {
			if (text[pos] < '0' || text[pos] > '9')
				return std::nullopt;
			written = std::min(written * 10 + (text[pos] - '0'), 10'000'000LL); // beyond numeric's range anyway
		}
		value.exponent += negative ? -written : written;
	}
	return value;
}

} // namespace

std::optional<std::string>
NumericText(std::string_view text, NumericTypmod typmod, std::string *reason) {
	text = Trim(text);
	if (EqualsNoCase(text, "nan"))
		return std::string("NaN");
	const bool constrained = typmod.precision >= 0;
	for (std::string_view word : {"infinity", "+infinity", "inf", "+inf", "-infinity", "-inf"}) {
		if (EqualsNoCase(text, word)) {
			if (constrained) {
				*reason = "an infinite value does not fit numeric(" + std::to_string(typmod.precision) + "," +
						  std::to_string(typmod.scale) + ")";
				return std::nullopt;
			}
			return std::string(word[0] == '-' ? "-Infinity" : "Infinity");
		}
	}
	std::optional<Decimal> value = ParseDecimal(text);
	if (!value) {
		*reason = "not a number";
		return std::nullopt;
	}
	// the digits at the value's own scale: integer digits, then `scale` fraction digits
	std::string digits = value->digits;
	long long scale = 0;
	if (value->exponent >= 0) {
		if (static_cast<long long>(digits.size()) + value->exponent > kMaxIntegerDigits + 1) {
			*reason = "out of numeric's range";
			return std::nullopt;
		}
		digits.append(static_cast<std::size_t>(value->exponent), '0');
	} else {
		scale = -value->exponent;
	}
	long long target = scale;
	if (constrained) {
		target = typmod.scale;
		// digits below the typmod's scale must be zeros: numeric_in would round them away
		const long long drop = scale - target;
		if (drop > 0) {
			const std::size_t keep =
				drop >= static_cast<long long>(digits.size()) ? 0 : digits.size() - static_cast<std::size_t>(drop);
			if (digits.find_first_not_of('0', keep) != std::string::npos) {
				*reason = "has digits beyond numeric(" + std::to_string(typmod.precision) + "," +
						  std::to_string(typmod.scale) + ")'s scale: PostgreSQL would round it (widen the column)";
				return std::nullopt;
			}
			digits.resize(keep);
			scale = target;
		}
		if (target < 0) // a negative scale: the digits below 10^-target are zeros (checked above); printed as integers
			target = 0;
		if (scale < target) {
			digits.append(static_cast<std::size_t>(target - scale), '0');
			scale = target;
		}
	}
	if (scale > kMaxScale) {
		*reason = "has more than 16383 digits after the point";
		return std::nullopt;
	}
	if (digits.size() < static_cast<std::size_t>(scale) + 1)
		digits.insert(0, static_cast<std::size_t>(scale) + 1 - digits.size(), '0');
	const std::size_t integer_size = digits.size() - static_cast<std::size_t>(scale);
	std::size_t first = digits.find_first_not_of('0');
	if (first == std::string::npos || first >= integer_size)
		first = integer_size - 1; // keep one "0" before the point
	const std::size_t significant = digits[first] == '0' ? 0 : integer_size - first;
	if (constrained && static_cast<long long>(significant) > typmod.precision - typmod.scale) {
		*reason = "does not fit numeric(" + std::to_string(typmod.precision) + "," + std::to_string(typmod.scale) +
				  "): at most " + std::to_string(std::max(0, typmod.precision - typmod.scale)) +
				  " digits before the point";
		return std::nullopt;
	}
	if (static_cast<long long>(significant) > kMaxIntegerDigits) {
		*reason = "out of numeric's range";
		return std::nullopt;
	}
	std::string out;
	if (value->negative && digits.find_first_not_of('0') != std::string::npos)
		out += '-';
	out.append(digits, first, integer_size - first);
	if (scale > 0) {
		out += '.';
		out.append(digits, integer_size, std::string::npos);
	}
	return out;
}

std::optional<std::string>
IntegralText(std::string_view text) {
	std::string reason;
	std::optional<std::string> plain = NumericText(text, NumericTypmod{}, &reason);
	if (!plain || plain->empty() || ((*plain)[0] != '-' && ((*plain)[0] < '0' || (*plain)[0] > '9')))
		return std::nullopt; // NaN, infinities
	const std::size_t point = plain->find('.');
	if (point == std::string::npos)
		return plain;
	if (plain->find_first_not_of('0', point + 1) != std::string::npos)
		return std::nullopt;
	plain->resize(point);
	if (*plain == "-0")
		*plain = "0";
	return plain;
}

} // namespace mosta::mapping
