/*
 * lsn.hpp
 *     WAL positions (LSNs) as the sidecar stores them, and their text form "16/B374D848" as PostgreSQL's pg_lsn
 *     type reads and prints it.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mosta::sidecar {

// An LSN (XLogRecPtr): a byte position in the WAL. 0 is InvalidXLogRecPtr.
using Lsn = std::uint64_t;

// kInvalidLsn is PostgreSQL's InvalidXLogRecPtr ("0/0").
inline constexpr Lsn kInvalidLsn = 0;

// ParseLsn reads "X/Y" by pg_lsn's rules: two parts of 1 to 8 hex digits (either case) around one '/', nothing
// else (no blanks, no sign, no "0x"); std::nullopt for anything else.
std::optional<Lsn> ParseLsn(std::string_view text);

// FormatLsn prints lsn as PostgreSQL does ("%X/%X"): uppercase hex, no leading zeros, "0/0" for 0.
std::string FormatLsn(Lsn lsn);

} // namespace mosta::sidecar
