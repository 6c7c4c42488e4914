/*
 * uri_text.hpp (private to mosta_common)
 *     Byte-level helpers shared by conninfo.cpp (masking) and conninfo_check.cpp (URI checks).
 *
 * Regime: plain C++17, no PostgreSQL header; ASCII only, independent of the C locale.
 */
#pragma once

#include "mosta/common/hex.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mosta::detail {

constexpr std::string_view mask = "***";

// IsBlank tells whether c is a blank as libpq's isspace() sees it.
inline bool
IsBlank(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// IsLetter tells whether c is an ASCII letter.
inline bool
IsLetter(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// IsAlnum tells whether c is an ASCII letter or digit.
inline bool
IsAlnum(char c) {
	return IsLetter(c) || (c >= '0' && c <= '9');
}

// IsSchemeChar tells whether c may appear in an RFC 3986 scheme after its first letter.
inline bool
IsSchemeChar(char c) {
	return IsAlnum(c) || c == '+' || c == '-' || c == '.';
}

// PercentDecode returns text with %XX escapes decoded, or nullopt for a malformed escape or an encoded NUL.
inline std::optional<std::string>
PercentDecode(std::string_view text) {
	std::string decoded;
	for (size_t i = 0; i < text.size(); i++) {
		if (text[i] != '%') {
			decoded += text[i];
			continue;
		}
		if (i + 2 >= text.size())
			return std::nullopt;
		int high = mosta::HexDigitValue(text[i + 1]), low = mosta::HexDigitValue(text[i + 2]);
		if (high < 0 || low < 0 || (high == 0 && low == 0))
			return std::nullopt;
		decoded += static_cast<char>(high * 16 + low);
		i += 2;
	}
	return decoded;
}

// SchemeLength returns the length of an RFC 3986 scheme of two or more characters ending at a ':', or 0.
inline size_t
SchemeLength(std::string_view text) {
	size_t i = 0;
	while (i < text.size() && (IsAlnum(text[i]) || (i > 0 && IsSchemeChar(text[i]))))
		i++;
	bool starts_with_letter = !text.empty() && !(text[0] >= '0' && text[0] <= '9');
	return (i >= 2 && starts_with_letter && i < text.size() && text[i] == ':') ? i : 0;
}

// HasAuthority tells whether text starts with "scheme://".
inline bool
HasAuthority(std::string_view text) {
	size_t length = SchemeLength(text);
	return length > 0 && text.substr(length + 1, 2) == "//";
}

} // namespace mosta::detail
