/*
 * crc32c.cpp
 *     CRC-32C by slicing by 8 (see crc32c.hpp); the tables are built at compile time.
 */
#include "util/crc32c.hpp"

#include <array>

namespace mosta::sidecar {

namespace {

// kPolynomial is CRC-32C's polynomial, bit-reversed.
constexpr std::uint32_t kPolynomial = 0x82F63B78u;

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

// MakeTables builds table[k][b]: the CRC of byte b followed by k zero bytes.
constexpr Tables
MakeTables() {
	Tables tables{};
	for (std::uint32_t b = 0; b < 256; ++b) {
		std::uint32_t crc = b;
		for (int bit = 0; bit < 8; ++bit)
			crc = (crc >> 1) ^ ((crc & 1u) != 0 ? kPolynomial : 0u);
		tables[0][b] = crc;
	}
	for (std::size_t k = 1; k < 8; ++k)
		for (std::size_t b = 0; b < 256; ++b)
			tables[k][b] = (tables[k - 1][b] >> 8) ^ tables[0][tables[k - 1][b] & 0xFFu];
	return tables;
}

constexpr Tables kTables = MakeTables();

} // namespace

// Crc32cExtend runs eight bytes at a time through the tables (little-endian loads), then the rest bytewise.
std::uint32_t
Crc32cExtend(std::uint32_t crc, std::string_view data) noexcept {
	const auto *p = reinterpret_cast<const unsigned char *>(data.data());
	std::size_t n = data.size();
	crc = ~crc;
	while (n >= 8) {
		std::uint32_t low = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
								   std::uint32_t{p[3]} << 24);
		crc = kTables[7][low & 0xFFu] ^ kTables[6][(low >> 8) & 0xFFu] ^ kTables[5][(low >> 16) & 0xFFu] ^
			  kTables[4][low >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^ kTables[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFFu];
	return ~crc;
}

} // namespace mosta::sidecar
