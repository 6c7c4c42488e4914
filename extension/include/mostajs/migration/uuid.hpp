/*-------------------------------------------------------------------------
 * uuid.hpp
 *	  The uuid layouts of the id_map policies (sql/parts/20_idmap.sql):
 *	  version 7 (time-ordered), version 5 (name-based, SHA-1) and the
 *	  "objectid" layout (a version 7 uuid whose time is an ObjectId's and
 *	  whose other bits come from SHA-256 of the collection and legacy id).
 *
 * Regime: C++ only. This header never includes postgres.h: the byte
 * layouts are pure functions of their inputs; the SQL functions that feed
 * them randomness, clocks and digests are in uuid_functions.cpp.
 *
 * Layouts follow RFC 9562: octet 6's high nibble is the version, octet
 * 8's two high bits are the variant 0b10.
 *-------------------------------------------------------------------------
 */
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mostajs::migration {

using UuidBytes = std::array<uint8_t, 16>;

constexpr size_t kSha1Size = 20;
constexpr size_t kSha256Size = 32;
/* An ObjectId in hex: 4 bytes of seconds, 5 random bytes, a 3-byte counter. */
constexpr size_t kObjectIdHexDigits = 24;
/* The 12-bit rand_a field of a version 7 uuid. */
constexpr uint16_t kRandAMask = 0x0FFF;

/*
 * The mostajs id_map namespace: uuid v5 of the URL namespace
 * (6ba7b811-9dad-11d1-80b4-00c04fd430c8) and "https://mostajs.dev/id_map".
 */
constexpr UuidBytes kIdMapNamespace = {0x58, 0x87, 0x4c, 0xa3, 0xe5, 0x67, 0x58, 0x07,
                                       0xad, 0x1d, 0x4b, 0xa1, 0x87, 0xdb, 0x26, 0xba};

/* UuidV7 lays out unix_ms (48 bits), rand_a (12 bits) and rand_b (the low 62 bits of 8 bytes). */
UuidBytes UuidV7(uint64_t unix_ms, uint16_t rand_a, const uint8_t (&rand_b)[8]);

/* UuidV5 turns the SHA-1 digest of namespace || name into a version 5 uuid. */
UuidBytes UuidV5(const uint8_t (&sha1)[kSha1Size]);

/*
 * UuidFromObjectIdDigest lays out a version 7 uuid from unix_ms and a
 * SHA-256 digest: rand_a = ((d[0] & 0x0f) << 8) | d[1], rand_b = the low 62
 * bits of d[2..9] (74 digest bits in all).
 */
UuidBytes UuidFromObjectIdDigest(uint64_t unix_ms, const uint8_t (&sha256)[kSha256Size]);

/* ObjectIdSeconds returns the timestamp of a 24-hex-digit ObjectId, or nullopt when it is not one. */
std::optional<uint32_t> ObjectIdSeconds(std::string_view hex);

/* AsciiLower returns text with A-Z lowered (ObjectId hex is case-insensitive). */
std::string AsciiLower(std::string_view text);

/*
 * V7Clock hands out (unix_ms, rand_a) pairs that increase strictly within
 * one backend (RFC 9562 section 6.2, method 1: rand_a is a counter seeded
 * with 11 random bits at each new millisecond, so at least 2,048 uuids fit
 * in one millisecond). When the counter overflows, or the clock goes back,
 * the timestamp moves one millisecond past the last one handed out. It is
 * trivially destructible, so a static instance is fine in a backend.
 */
class V7Clock {
public:
	struct Tick {
		uint64_t unix_ms;
		uint16_t rand_a;
	};

	/* Next returns the pair for a uuid made at now_ms, seeding a new millisecond with seed. */
	Tick Next(uint64_t now_ms, uint16_t seed);

private:
	uint64_t last_ms_ = 0;
	uint16_t last_rand_a_ = 0;
};

} // namespace mostajs::migration
