/*
 * hex.hpp
 *     Hex digits, shared by URI percent-decoding (common), LSN parsing and
 *     bytea decoding (sidecar).
 *
 * Regime: plain C++17, no PostgreSQL header.
 */
#pragma once

namespace mosta {

// HexDigitValue returns the value of hex digit c, or -1 when c is not one.
inline int
HexDigitValue(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace mosta
