/*
 * lsn.cpp
 *     ParseLsn and FormatLsn, following pg_lsn_in_internal() and LSN_FORMAT_ARGS in PostgreSQL 15.
 */
#include "pg/lsn.hpp"

#include "mosta/common/hex.hpp"

#include <cstddef>

namespace mosta::sidecar {

namespace {

// Each half of an LSN is a uint32, so at most 8 hex digits (MAXPG_LSNCOMPONENT).
constexpr std::size_t kMaxLsnComponentDigits = 8;

// ParseLsnComponent reads 1 to 8 hex digits that make up the whole of part.
std::optional<std::uint32_t>
ParseLsnComponent(std::string_view part) {
	if (part.empty() || part.size() > kMaxLsnComponentDigits)
		return std::nullopt;
	std::uint32_t value = 0;
	for (char c : part) {
		int digit = mosta::HexDigitValue(c);
		if (digit < 0)
			return std::nullopt;
		value = (value << 4) | static_cast<std::uint32_t>(digit);
	}
	return value;
}

// AppendHex appends value in uppercase hex without leading zeros ("0" for 0).
void
AppendHex(std::string &out, std::uint32_t value) {
	constexpr char digits[] = "0123456789ABCDEF";
	char buffer[kMaxLsnComponentDigits];
	std::size_t used = 0;
	do {
		buffer[used++] = digits[value & 0xF];
		value >>= 4;
	} while (value != 0);
	while (used > 0)
		out += buffer[--used];
}

} // namespace

// ParseLsn reads "X/Y" by pg_lsn's rules, or returns std::nullopt.
std::optional<Lsn>
ParseLsn(std::string_view text) {
	std::size_t slash = text.find('/');
	if (slash == std::string_view::npos)
		return std::nullopt;
	std::optional<std::uint32_t> high = ParseLsnComponent(text.substr(0, slash));
	std::optional<std::uint32_t> low = ParseLsnComponent(text.substr(slash + 1));
	if (!high || !low)
		return std::nullopt;
	return (static_cast<Lsn>(*high) << 32) | *low;
}

// FormatLsn prints lsn as "%X/%X" of its high and low 32 bits.
std::string
FormatLsn(Lsn lsn) {
	std::string text;
	text.reserve(2 * kMaxLsnComponentDigits + 1);
	AppendHex(text, static_cast<std::uint32_t>(lsn >> 32));
	text += '/';
	AppendHex(text, static_cast<std::uint32_t>(lsn));
	return text;
}

} // namespace mosta::sidecar
