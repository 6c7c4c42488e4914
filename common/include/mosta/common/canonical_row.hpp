/*
 * canonical_row.hpp
 *     The canonical row encoding and checksum of docs/verification.md, shared by the extension
 *     (mosta_checksum, mosta.row_hashes) and mosta-sidecar verify, so that a source table and its copy
 *     hash alike when they hold the same rows.
 *
 *     Encoding of one row: for each selected column, in bytewise order of the column names,
 *         u32 name length, name bytes, then 'N' (NULL) or 'V' + u32 value length + value bytes
 *     (u32 big-endian). A value's bytes are its canonical text: the value as the output plugin's typed
 *     encoding writes it (docs/protocol.md, "Values"), a JSON string being taken as its content.
 *     Row hash: 128 bits, SipHash-2-4 of the encoding under two fixed keys (kRowHashKeyHigh/Low).
 *     Checksum of a multiset of rows: (row count, sum of the row hashes mod 2^128, xor of the row hashes),
 *     rendered as 64 lowercase hex digits (sum, then xor).
 *
 * Regime: plain C++17, no PostgreSQL header. Everything the extension calls is noexcept and allocates
 * nothing (the functions returning std::string are for the sidecar and tests).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mosta {

// A 128-bit hash: high and low 64-bit halves.
struct Hash128 {
	std::uint64_t high = 0;
	std::uint64_t low = 0;

	// operator== compares both halves.
	friend bool
	operator==(const Hash128 &a, const Hash128 &b) noexcept {
		return a.high == b.high && a.low == b.low;
	}
	friend bool
	operator!=(const Hash128 &a, const Hash128 &b) noexcept {
		return !(a == b);
	}
};

// The two SipHash keys of the row hash: the ASCII texts "mosta.row.hash.H" and "mosta.row.hash.L".
inline constexpr char kRowHashKeyHigh[17] = "mosta.row.hash.H";
inline constexpr char kRowHashKeyLow[17] = "mosta.row.hash.L";

// kHash128HexSize and kChecksumHexSize are the lengths of the hex texts (without a terminating NUL).
inline constexpr std::size_t kHash128HexSize = 32;
inline constexpr std::size_t kChecksumHexSize = 64;

// SipHash24 returns SipHash-2-4 (64-bit output) of data under the 16-byte key.
std::uint64_t SipHash24(const unsigned char key[16], const void *data, std::size_t size) noexcept;

// CanonicalRowHash returns the row hash of an encoded row.
Hash128 CanonicalRowHash(const void *encoded, std::size_t size) noexcept;

// EncodeLength writes value as the encoding's u32 big-endian length.
void EncodeLength(std::uint32_t value, unsigned char out[4]) noexcept;

// FormatHash128 writes hash as 32 lowercase hex digits (high half first) and a NUL into out.
void FormatHash128(const Hash128 &hash, char out[kHash128HexSize + 1]) noexcept;

// ChecksumState is the order-independent combination of row hashes.
struct ChecksumState {
	std::uint64_t rows = 0;
	Hash128 sum; // mod 2^128
	Hash128 xored;

	// Add counts one row of hash hash.
	void Add(const Hash128 &hash) noexcept;
	// Merge adds the rows other counted (the aggregate's combine step).
	void Merge(const ChecksumState &other) noexcept;
	// Format writes the checksum text: 64 lowercase hex digits (sum, then xor) and a NUL.
	void Format(char out[kChecksumHexSize + 1]) const noexcept;
	// Text returns the checksum text.
	std::string Text() const;
};

// JsonUnquoteInPlace turns a JSON string token text[0..*size) (quotes included) into its content, in UTF-8,
// in place (the content is never longer than the token); false when the token is not a well-formed string.
bool JsonUnquoteInPlace(char *text, std::size_t *size) noexcept;

// JsonQuote returns text as a JSON string token the way PostgreSQL's escape_json writes it: ", \, \b, \f, \n,
// \r, \t escaped by name, other bytes below 0x20 as \u00XX, everything else as is.
std::string JsonQuote(std::string_view text);

// AppendJsonQuoted appends JsonQuote(text) to out without a string per value (writers of many values).
void AppendJsonQuoted(std::string &out, std::string_view text);

// FormatPgFloat8 and FormatPgFloat4 return a finite float's text as PostgreSQL writes it with
// extra_float_digits >= 1 (the output plugin's form): the shortest round-trip digits, fixed notation for
// decimal exponents in [-4, 15) (float4: [-4, 6)), else d.ddde+XX with a sign and at least two exponent digits.
// NaN and infinities give "NaN", "Infinity", "-Infinity".
std::string FormatPgFloat8(double value);
std::string FormatPgFloat4(float value);

// One column of a row to encode: its name and its canonical text (nullopt for NULL).
struct CanonicalColumn {
	std::string name;
	std::optional<std::string> value;
};

// EncodeCanonicalRow returns the encoding of columns (sorted here by name; names must be distinct).
std::string EncodeCanonicalRow(std::vector<CanonicalColumn> columns);

// CanonicalKeyText joins key values for display and matching: each value with '\' and ',' escaped by '\',
// joined by ','; a NULL key value is written \N.
std::string CanonicalKeyText(const std::vector<std::optional<std::string>> &values);

} // namespace mosta
