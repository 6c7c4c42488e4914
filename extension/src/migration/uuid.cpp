/*-------------------------------------------------------------------------
 * uuid.cpp
 *	  Byte layouts of the id_map uuids (versions 7 and 5, and the objectid
 *	  layout) and the monotonic version 7 clock.
 *
 * Regime: C++ only; no PostgreSQL call, nothing here can raise.
 *-------------------------------------------------------------------------
 */
#include "mostajs/migration/uuid.hpp"

#include "mosta/common/hex.hpp"

#include <cstring>

namespace mostajs::migration {

namespace {

constexpr uint8_t kVersion5 = 0x50;
constexpr uint8_t kVersion7 = 0x70;
constexpr uint8_t kVariantRfc = 0x80;
constexpr uint8_t kVariantMask = 0x3F;
constexpr uint8_t kVersionMask = 0x0F;
constexpr uint16_t kCounterSeedMask = 0x07FF;

/* SetTime48 writes the low 48 bits of unix_ms big-endian into octets 0-5. */
void
SetTime48(UuidBytes &uuid, uint64_t unix_ms) {
	for (int i = 0; i < 6; i++)
		uuid[i] = static_cast<uint8_t>(unix_ms >> (8 * (5 - i)));
}

} // namespace

UuidBytes
UuidV7(uint64_t unix_ms, uint16_t rand_a, const uint8_t (&rand_b)[8]) {
	UuidBytes uuid{};
	SetTime48(uuid, unix_ms);
	uuid[6] = static_cast<uint8_t>(kVersion7 | ((rand_a >> 8) & kVersionMask));
	uuid[7] = static_cast<uint8_t>(rand_a);
	std::memcpy(&uuid[8], rand_b, 8);
	uuid[8] = static_cast<uint8_t>(kVariantRfc | (uuid[8] & kVariantMask));
	return uuid;
}

UuidBytes
UuidV5(const uint8_t (&sha1)[kSha1Size]) {
	UuidBytes uuid{};
	std::memcpy(uuid.data(), sha1, uuid.size());
	uuid[6] = static_cast<uint8_t>(kVersion5 | (uuid[6] & kVersionMask));
	uuid[8] = static_cast<uint8_t>(kVariantRfc | (uuid[8] & kVariantMask));
	return uuid;
}

UuidBytes
UuidFromObjectIdDigest(uint64_t unix_ms, const uint8_t (&sha256)[kSha256Size]) {
	const uint8_t rand_b[8] = {sha256[2], sha256[3], sha256[4], sha256[5],
	                           sha256[6], sha256[7], sha256[8], sha256[9]};
	uint16_t rand_a = static_cast<uint16_t>(((sha256[0] & kVersionMask) << 8) | sha256[1]);
	return UuidV7(unix_ms, rand_a, rand_b);
}

std::optional<uint32_t>
ObjectIdSeconds(std::string_view hex) {
	if (hex.size() != kObjectIdHexDigits)
		return std::nullopt;
	uint32_t seconds = 0;
	for (size_t i = 0; i < hex.size(); i++) {
		int value = mosta::HexDigitValue(hex[i]);
		if (value < 0)
			return std::nullopt;
		if (i < 8)
			seconds = (seconds << 4) | static_cast<uint32_t>(value);
	}
	return seconds;
}

std::string
AsciiLower(std::string_view text) {
	std::string lowered(text);
	for (char &c : lowered)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return lowered;
}

V7Clock::Tick
V7Clock::Next(uint64_t now_ms, uint16_t seed) {
	if (now_ms > last_ms_) {
		last_ms_ = now_ms;
		last_rand_a_ = seed & kCounterSeedMask;
	} else if (last_rand_a_ < kRandAMask) {
		/* same millisecond, or the clock went back: count on from the last uuid */
		last_rand_a_++;
	} else {
		/* counter exhausted: borrow the next millisecond (RFC 9562 6.2, counter rollover) */
		last_ms_++;
		last_rand_a_ = seed & kCounterSeedMask;
	}
	return Tick{last_ms_, last_rand_a_};
}

} // namespace mostajs::migration
