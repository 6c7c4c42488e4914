/*
 * canonical_row.cpp
 *     The canonical row encoding, row hash and checksum (see canonical_row.hpp and docs/verification.md).
 */
#include "mosta/common/canonical_row.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace mosta {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Rotl rotates x left by b bits.
constexpr std::uint64_t
Rotl(std::uint64_t x, int b) noexcept {
	return (x << b) | (x >> (64 - b));
}

// LoadLe64 reads 8 bytes as a little-endian integer.
std::uint64_t
LoadLe64(const unsigned char *p) noexcept {
	std::uint64_t value = 0;
	for (int i = 7; i >= 0; --i)
		value = (value << 8) | p[i];
	return value;
}

// SipRound is one round of SipHash's ARX network.
void
SipRound(std::uint64_t &v0, std::uint64_t &v1, std::uint64_t &v2, std::uint64_t &v3) noexcept {
	v0 += v1;
	v1 = Rotl(v1, 13);
	v1 ^= v0;
	v0 = Rotl(v0, 32);
	v2 += v3;
	v3 = Rotl(v3, 16);
	v3 ^= v2;
	v0 += v3;
	v3 = Rotl(v3, 21);
	v3 ^= v0;
	v2 += v1;
	v1 = Rotl(v1, 17);
	v1 ^= v2;
	v2 = Rotl(v2, 32);
}

// FormatU64 writes value as 16 lowercase hex digits.
void
FormatU64(std::uint64_t value, char *out) noexcept {
	for (int i = 15; i >= 0; --i) {
		out[i] = kHexDigits[value & 0xf];
		value >>= 4;
	}
}

// AppendUtf8 writes code point cp as UTF-8 at out and returns the bytes written.
std::size_t
AppendUtf8(std::uint32_t cp, char *out) noexcept {
	if (cp < 0x80) {
		out[0] = static_cast<char>(cp);
		return 1;
	}
	if (cp < 0x800) {
		out[0] = static_cast<char>(0xc0 | (cp >> 6));
		out[1] = static_cast<char>(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = static_cast<char>(0xe0 | (cp >> 12));
		out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
		out[2] = static_cast<char>(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = static_cast<char>(0xf0 | (cp >> 18));
	out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
	out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
	out[3] = static_cast<char>(0x80 | (cp & 0x3f));
	return 4;
}

// ReadHex4 reads four hex digits at p into *value; false when one is not a hex digit.
bool
ReadHex4(const char *p, std::uint32_t *value) noexcept {
	std::uint32_t result = 0;
	for (int i = 0; i < 4; ++i) {
		char c = p[i];
		int digit = c >= '0' && c <= '9'   ? c - '0'
					: c >= 'a' && c <= 'f' ? c - 'a' + 10
					: c >= 'A' && c <= 'F' ? c - 'A' + 10
										   : -1;
		if (digit < 0)
			return false;
		result = (result << 4) | static_cast<std::uint32_t>(digit);
	}
	*value = result;
	return true;
}

// FormatPgFloat rewrites the shortest scientific form std::to_chars gives ("d.ddde+XX") in PostgreSQL's layout:
// fixed notation when the decimal exponent is in [-4, fixed_limit).
std::string
FormatPgFloat(const char *scientific, std::size_t size, int fixed_limit) {
	std::string_view text(scientific, size);
	bool negative = !text.empty() && text[0] == '-';
	if (negative)
		text.remove_prefix(1);
	std::size_t e = text.find('e');
	std::string digits;
	for (char c : text.substr(0, e))
		if (c != '.')
			digits += c;
	int exponent = std::stoi(std::string(text.substr(e + 1)));
	std::string out = negative ? "-" : "";
	if (exponent < -4 || exponent >= fixed_limit)
		return out += std::string(text);
	int length = static_cast<int>(digits.size());
	if (exponent < 0) {
		out += "0.";
		out.append(static_cast<std::size_t>(-exponent - 1), '0');
		out += digits;
	} else if (exponent + 1 >= length) {
		out += digits;
		out.append(static_cast<std::size_t>(exponent + 1 - length), '0');
	} else {
		out += digits.substr(0, static_cast<std::size_t>(exponent + 1));
		out += '.';
		out += digits.substr(static_cast<std::size_t>(exponent + 1));
	}
	return out;
}

// OnIntervalBound tells whether the decimal digits × 10^exponent (the shortest scientific text to_chars gave for
// value, "d.ddde+XX") is exactly a bound of value's rounding interval, value ± ulp/2. For an integral value beyond
// the mantissa (|value| >= 2^mantissa_bits) that bound is an integer, and can be the shortest decimal that reads
// back as value (ties to even). PostgreSQL's copy of Ryu (float8out, float4out with extra_float_digits > 0)
// never takes a bound there and prints more digits (8.1319437e+08, not 8.131944e+08, for float4 813194368):
// test/integration/migrate_transform_zoo.sh compares both on random values.
template <typename Float>
bool
OnIntervalBound(Float value, const char *scientific, std::size_t size, int mantissa_bits) {
	const Float magnitude = std::fabs(value);
	if (magnitude < std::ldexp(Float(1), mantissa_bits))
		return false;
	// the digits and their power of ten
	std::uint64_t digits = 0;
	int count = 0;
	std::size_t pos = 0;
	for (; pos < size && scientific[pos] != 'e'; ++pos)
		if (scientific[pos] >= '0' && scientific[pos] <= '9') {
			digits = digits * 10 + static_cast<std::uint64_t>(scientific[pos] - '0');
			++count;
		}
	int exponent = 0;
	std::from_chars(scientific + pos + 1 + (scientific[pos + 1] == '+' ? 1 : 0), scientific + size, exponent);
	int power = exponent - (count - 1);
	while (digits != 0 && digits % 10 == 0) {
		digits /= 10;
		++power;
	}
	if (power < 0 || digits == 0)
		return false;
	// value = m × 2^e (m odd or even, mantissa_bits + 1 bits); its bounds: (2m ± 1) × 2^(e - 1)
	int e = 0;
	const Float fraction = std::frexp(magnitude, &e); // magnitude = fraction × 2^e, fraction in [0.5, 1)
	const auto m = static_cast<std::uint64_t>(std::ldexp(fraction, mantissa_bits + 1));
	e -= mantissa_bits + 1;
	// digits × 10^power = (digits >> t) × 5^power × 2^(power + t), with digits >> t odd
	int twos = power;
	while ((digits & 1) == 0) {
		digits >>= 1;
		++twos;
	}
	if (twos != e - 1 || power > 27)
		return false;
	unsigned __int128 odd = digits;
	for (int i = 0; i < power; ++i)
		odd *= 5;
	return odd == 2 * static_cast<unsigned __int128>(m) - 1 || odd == 2 * static_cast<unsigned __int128>(m) + 1;
}

// PgShortest writes value's digits as PostgreSQL prints them in scientific form: to_chars' shortest, or, when
// that is a bound of the rounding interval (OnIntervalBound), the fewest correctly rounded digits that are not.
template <typename Float>
std::size_t
PgShortest(Float value, char *buffer, std::size_t capacity, int mantissa_bits, int max_digits) {
	auto result = std::to_chars(buffer, buffer + capacity, value, std::chars_format::scientific);
	std::size_t size = static_cast<std::size_t>(result.ptr - buffer);
	if (!OnIntervalBound(value, buffer, size, mantissa_bits))
		return size;
	const std::size_t shortest =
		std::count_if(buffer, std::find(buffer, buffer + size, 'e'), [](char c) { return c >= '0' && c <= '9'; });
	for (int precision = static_cast<int>(shortest); precision < max_digits; ++precision) {
		result = std::to_chars(buffer, buffer + capacity, value, std::chars_format::scientific, precision);
		size = static_cast<std::size_t>(result.ptr - buffer);
		// drop the zeros the precision pads with ("3.0925352787701440e+18")
		char *e = std::find(buffer, buffer + size, 'e');
		char *end = e;
		while (end > buffer && end[-1] == '0')
			--end;
		if (end > buffer && end[-1] == '.')
			--end;
		std::memmove(end, e, static_cast<std::size_t>(buffer + size - e));
		size -= static_cast<std::size_t>(e - end);
		Float read = 0;
		std::from_chars(buffer, buffer + size, read);
		if (read == value && !OnIntervalBound(value, buffer, size, mantissa_bits))
			return size;
	}
	return size;
}

// NonFiniteText returns PostgreSQL's text of a NaN or infinite value, or "" for a finite one.
std::string
NonFiniteText(double value) {
	if (std::isnan(value))
		return "NaN";
	if (std::isinf(value))
		return value > 0 ? "Infinity" : "-Infinity";
	return {};
}

} // namespace

std::uint64_t
SipHash24(const unsigned char key[16], const void *data, std::size_t size) noexcept {
	const std::uint64_t k0 = LoadLe64(key);
	const std::uint64_t k1 = LoadLe64(key + 8);
	std::uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	std::uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	std::uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	std::uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	const unsigned char *bytes = static_cast<const unsigned char *>(data);
	const std::size_t full = size - size % 8;
	for (std::size_t i = 0; i < full; i += 8) {
		std::uint64_t m = LoadLe64(bytes + i);
		v3 ^= m;
		SipRound(v0, v1, v2, v3);
		SipRound(v0, v1, v2, v3);
		v0 ^= m;
	}
	std::uint64_t last = static_cast<std::uint64_t>(size & 0xff) << 56;
	for (std::size_t i = 0; i < size % 8; ++i)
		last |= static_cast<std::uint64_t>(bytes[full + i]) << (8 * i);
	v3 ^= last;
	SipRound(v0, v1, v2, v3);
	SipRound(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int i = 0; i < 4; ++i)
		SipRound(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

Hash128
CanonicalRowHash(const void *encoded, std::size_t size) noexcept {
	Hash128 hash;
	hash.high = SipHash24(reinterpret_cast<const unsigned char *>(kRowHashKeyHigh), encoded, size);
	hash.low = SipHash24(reinterpret_cast<const unsigned char *>(kRowHashKeyLow), encoded, size);
	return hash;
}

void
EncodeLength(std::uint32_t value, unsigned char out[4]) noexcept {
	out[0] = static_cast<unsigned char>(value >> 24);
	out[1] = static_cast<unsigned char>(value >> 16);
	out[2] = static_cast<unsigned char>(value >> 8);
	out[3] = static_cast<unsigned char>(value);
}

void
FormatHash128(const Hash128 &hash, char out[kHash128HexSize + 1]) noexcept {
	FormatU64(hash.high, out);
	FormatU64(hash.low, out + 16);
	out[kHash128HexSize] = '\0';
}

// AddTo adds b to a, mod 2^128.
static void
AddTo(Hash128 &a, const Hash128 &b) noexcept {
	std::uint64_t low = a.low + b.low;
	a.high += b.high + (low < a.low ? 1 : 0);
	a.low = low;
}

void
ChecksumState::Add(const Hash128 &hash) noexcept {
	++rows;
	AddTo(sum, hash);
	xored.high ^= hash.high;
	xored.low ^= hash.low;
}

void
ChecksumState::Merge(const ChecksumState &other) noexcept {
	rows += other.rows;
	AddTo(sum, other.sum);
	xored.high ^= other.xored.high;
	xored.low ^= other.xored.low;
}

void
ChecksumState::Format(char out[kChecksumHexSize + 1]) const noexcept {
	FormatHash128(sum, out);
	FormatHash128(xored, out + kHash128HexSize);
}

std::string
ChecksumState::Text() const {
	char text[kChecksumHexSize + 1];
	Format(text);
	return text;
}

bool
JsonUnquoteInPlace(char *text, std::size_t *size) noexcept {
	const std::size_t n = *size;
	if (n < 2 || text[0] != '"' || text[n - 1] != '"')
		return false;
	std::size_t out = 0;
	for (std::size_t i = 1; i < n - 1;) {
		char c = text[i];
		if (c != '\\') {
			if (c == '"')
				return false;
			text[out++] = c;
			++i;
			continue;
		}
		if (i + 1 >= n - 1)
			return false;
		char escape = text[i + 1];
		i += 2;
		switch (escape) {
		case '"':
		case '\\':
		case '/':
			text[out++] = escape;
			break;
		case 'b':
			text[out++] = '\b';
			break;
		case 'f':
			text[out++] = '\f';
			break;
		case 'n':
			text[out++] = '\n';
			break;
		case 'r':
			text[out++] = '\r';
			break;
		case 't':
			text[out++] = '\t';
			break;
		case 'u': {
			std::uint32_t cp;
			if (i + 4 > n - 1 || !ReadHex4(text + i, &cp))
				return false;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				std::uint32_t low;
				if (i + 6 > n - 1 || text[i] != '\\' || text[i + 1] != 'u' || !ReadHex4(text + i + 2, &low) ||
					low < 0xdc00 || low >= 0xe000)
					return false;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return false;
			}
			out += AppendUtf8(cp, text + out);
			break;
		}
		default:
			return false;
		}
	}
	*size = out;
	return true;
}

namespace {

// kJsonEscapes maps each byte to how a JSON string holds it (escape_json's escapes): 0 as it is, a letter for
// \" \\ \b \f \n \r \t, 'u' for \u00XX.
constexpr std::array<char, 256>
MakeJsonEscapes() {
	std::array<char, 256> table{};
	for (int c = 0; c < 0x20; ++c)
		table[c] = 'u';
	table['"'] = '"';
	table['\\'] = '\\';
	table['\b'] = 'b';
	table['\f'] = 'f';
	table['\n'] = 'n';
	table['\r'] = 'r';
	table['\t'] = 't';
	return table;
}
constexpr std::array<char, 256> kJsonEscapes = MakeJsonEscapes();

} // namespace

void
AppendJsonQuoted(std::string &out, std::string_view text) {
	out += '"';
	const char *data = text.data();
	std::size_t run = 0;
	for (std::size_t i = 0; i < text.size(); ++i) {
		unsigned char c = static_cast<unsigned char>(data[i]);
		char escape = kJsonEscapes[c];
		if (escape == 0)
			continue;
		out.append(data + run, i - run);
		run = i + 1;
		if (escape == 'u') {
			char hex[6] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xf]};
			out.append(hex, 6);
		} else {
			char pair[2] = {'\\', escape};
			out.append(pair, 2);
		}
	}
	out.append(data + run, text.size() - run);
	out += '"';
}

std::string
JsonQuote(std::string_view text) {
	std::string out;
	out.reserve(text.size() + 2);
	AppendJsonQuoted(out, text);
	return out;
}

std::string
FormatPgFloat8(double value) {
	if (std::string special = NonFiniteText(value); !special.empty())
		return special;
	char buffer[64];
	return FormatPgFloat(buffer, PgShortest(value, buffer, sizeof buffer, 52, 17), 15);
}

std::string
FormatPgFloat4(float value) {
	if (std::string special = NonFiniteText(value); !special.empty())
		return special;
	char buffer[64];
	return FormatPgFloat(buffer, PgShortest(value, buffer, sizeof buffer, 23, 9), 6);
}

std::string
EncodeCanonicalRow(std::vector<CanonicalColumn> columns) {
	std::sort(columns.begin(), columns.end(),
			  [](const CanonicalColumn &a, const CanonicalColumn &b) { return a.name < b.name; });
	std::string out;
	auto append_length = [&out](std::size_t length) {
		unsigned char bytes[4];
		EncodeLength(static_cast<std::uint32_t>(length), bytes);
		out.append(reinterpret_cast<const char *>(bytes), 4);
	};
	for (const CanonicalColumn &column : columns) {
		append_length(column.name.size());
		out += column.name;
		if (!column.value) {
			out += 'N';
			continue;
		}
		out += 'V';
		append_length(column.value->size());
		out += *column.value;
	}
	return out;
}

std::string
CanonicalKeyText(const std::vector<std::optional<std::string>> &values) {
	std::string out;
	for (std::size_t i = 0; i < values.size(); ++i) {
		if (i > 0)
			out += ',';
		if (!values[i]) {
			out += "\\N";
			continue;
		}
		for (char c : *values[i]) {
			if (c == '\\' || c == ',')
				out += '\\';
			out += c;
		}
	}
	return out;
}

} // namespace mosta
