/*-------------------------------------------------------------------------
 * uuid_functions.cpp
 *	  mosta.uuid_v7(), mosta.uuid_v5(), mosta.uuid_from_legacy_id() and
 *	  mosta.uuid_from_objectid(): the uuid generators behind the id_map
 *	  policies (sql/parts/20_idmap.sql; docs/sql-api.md, section 14.1).
 *
 * Regime: the extern "C" entries are PG regime and only call InvokeCpp;
 * the *Impl functions are C++ regime and reach PostgreSQL through PgCall
 * (digests, results) or through calls that cannot raise (commented).
 * PostgreSQL 15 has no uuid v7 or v5 of its own; digests come from
 * pg_cryptohash (OpenSSL or PostgreSQL's fallback).
 *-------------------------------------------------------------------------
 */
#include "mostajs/migration/uuid.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "mostajs/invoke_cpp.hpp"
#include "mostajs/pg/text.hpp"
#include "mostajs/pg_call.hpp"

extern "C" {
#include "postgres.h"
#include "common/cryptohash.h" /* pg_cryptohash_create and friends */
#include "fmgr.h"
#include "utils/uuid.h" /* pg_uuid_t, DatumGetUUIDP, UUIDPGetDatum */

PG_FUNCTION_INFO_V1(mostajs_uuid_v7);
PG_FUNCTION_INFO_V1(mostajs_uuid_v5);
PG_FUNCTION_INFO_V1(mostajs_uuid_from_legacy_id);
PG_FUNCTION_INFO_V1(mostajs_uuid_from_objectid);
}

namespace mostajs {

namespace {

using migration::UuidBytes;

/* One span of bytes to digest (plain data, so PG-regime code can take it). */
struct DigestPart {
	const uint8 *data;
	size_t length;
};

/*
 * ComputeDigest writes the digest of the concatenated parts to out (PG
 * regime: it raises when pg_cryptohash fails, after freeing the context).
 */
void
ComputeDigest(pg_cryptohash_type type, const DigestPart *parts, int part_count, uint8 *out, size_t out_length) {
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(type);
	bool failed = ctx == nullptr || pg_cryptohash_init(ctx) < 0;
	for (int i = 0; !failed && i < part_count; i++)
		failed = pg_cryptohash_update(ctx, parts[i].data, parts[i].length) < 0;
	failed = failed || pg_cryptohash_final(ctx, out, out_length) < 0;
	if (failed) {
		const char *reason = ctx ? pg_cryptohash_error(ctx) : "out of memory";
		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute digest: %s", reason);
	}
	pg_cryptohash_free(ctx);
}

/* MakeUuidDatum returns a palloc'd uuid Datum holding bytes (PG regime). */
Datum
MakeUuidDatum(const uint8 *bytes) {
	pg_uuid_t *uuid = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
	memcpy(uuid->data, bytes, UUID_LEN);
	return UUIDPGetDatum(uuid);
}

Datum
UuidDatum(const UuidBytes &bytes) {
	return PgCall(MakeUuidDatum, bytes.data());
}

/* RandomBytes fills out with cryptographically strong random bytes. */
void
RandomBytes(void *out, size_t length) {
	/* pg_strong_random reports failure by its result; it never raises. */
	if (!pg_strong_random(out, length))
		throw PgError(sqlstate::kInternalError, "could not generate random values");
}

/* RequireTextArg returns argument n, or throws 22004 naming it when NULL. */
std::string
RequireTextArg(FunctionCallInfo fcinfo, int n, const char *name) {
	if (pg::ArgIsNull(fcinfo, n))
		throw PgError(sqlstate::kNullValueNotAllowed, std::string("argument \"") + name + "\" must not be null", "",
		              std::string("Pass a value for ") + name + ".");
	return pg::TextArg(fcinfo, n);
}

DigestPart
Part(const std::string &text) {
	return DigestPart{reinterpret_cast<const uint8 *>(text.data()), text.size()};
}

/* NameBasedUuid returns the version 5 uuid of name_parts under namespace_bytes. */
UuidBytes
NameBasedUuid(const uint8 *namespace_bytes, std::initializer_list<DigestPart> name_parts) {
	DigestPart parts[4];
	int count = 0;
	parts[count++] = DigestPart{namespace_bytes, UUID_LEN};
	for (const DigestPart &part : name_parts)
		parts[count++] = part;
	uint8_t sha1[migration::kSha1Size];
	PgCall(ComputeDigest, PG_SHA1, static_cast<const DigestPart *>(parts), count, static_cast<uint8 *>(sha1),
	       sizeof sha1);
	return migration::UuidV5(sha1);
}

/* The single byte between collection and legacy id in every digest. */
constexpr uint8 kSeparator[1] = {0};

/* UuidV7Impl returns a new time-ordered uuid, greater than the last one this backend made. */
Datum
UuidV7Impl(FunctionCallInfo fcinfo) {
	/* trivially destructible backend-local state: the monotonic guard */
	static migration::V7Clock clock;
	uint8_t random[10];
	RandomBytes(random, sizeof random);
	auto now = std::chrono::system_clock::now().time_since_epoch();
	uint64_t now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
	migration::V7Clock::Tick tick = clock.Next(now_ms, static_cast<uint16_t>((random[0] << 8) | random[1]));
	const uint8_t rand_b[8] = {random[2], random[3], random[4], random[5],
	                           random[6], random[7], random[8], random[9]};
	return UuidDatum(migration::UuidV7(tick.unix_ms, tick.rand_a, rand_b));
}

/* UuidV5Impl returns the version 5 uuid of name in namespace (RFC 9562 section 5.5). */
Datum
UuidV5Impl(FunctionCallInfo fcinfo) {
	/* a uuid argument is a fixed-length by-reference value: reading it cannot raise */
	const pg_uuid_t *namespace_uuid = DatumGetUUIDP(PG_GETARG_DATUM(0));
	std::string name = RequireTextArg(fcinfo, 1, "name");
	return UuidDatum(NameBasedUuid(namespace_uuid->data, {Part(name)}));
}

/* UuidFromLegacyIdImpl returns v5(id_map namespace, collection || 0x00 || legacy_id). */
Datum
UuidFromLegacyIdImpl(FunctionCallInfo fcinfo) {
	std::string collection = RequireTextArg(fcinfo, 0, "collection");
	std::string legacy_id = RequireTextArg(fcinfo, 1, "legacy_id");
	return UuidDatum(NameBasedUuid(migration::kIdMapNamespace.data(),
	                               {Part(collection), DigestPart{kSeparator, 1}, Part(legacy_id)}));
}

/*
 * UuidFromObjectIdImpl returns the objectid-policy uuid: version 7 with the
 * ObjectId's own time, the rest from SHA-256(collection || 0x00 || lowercase id).
 */
Datum
UuidFromObjectIdImpl(FunctionCallInfo fcinfo) {
	std::string collection = RequireTextArg(fcinfo, 0, "collection");
	std::string legacy_id = RequireTextArg(fcinfo, 1, "legacy_id");
	std::optional<uint32_t> seconds = migration::ObjectIdSeconds(legacy_id);
	if (!seconds)
		throw PgError(sqlstate::kInvalidParameterValue,
		              "legacy id \"" + legacy_id + "\" of collection \"" + collection + "\" is not an ObjectId",
		              "An ObjectId is 24 hexadecimal digits; its first 8 are its creation time in seconds.",
		              "Map ids that are not ObjectIds under another id policy (random, time-ordered or "
		              "deterministic).");
	std::string lowered = migration::AsciiLower(legacy_id);
	const DigestPart parts[3] = {Part(collection), DigestPart{kSeparator, 1}, Part(lowered)};
	uint8_t sha256[migration::kSha256Size];
	PgCall(ComputeDigest, PG_SHA256, static_cast<const DigestPart *>(parts), 3, static_cast<uint8 *>(sha256),
	       sizeof sha256);
	return UuidDatum(migration::UuidFromObjectIdDigest(uint64_t{*seconds} * 1000, sha256));
}

} // namespace

} // namespace mostajs

/* mostajs_uuid_v7 is mosta.uuid_v7() → uuid. */
extern "C" Datum
mostajs_uuid_v7(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::UuidV7Impl>(fcinfo);
}

/* mostajs_uuid_v5 is mosta.uuid_v5(namespace uuid, name text) → uuid. */
extern "C" Datum
mostajs_uuid_v5(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::UuidV5Impl>(fcinfo);
}

/* mostajs_uuid_from_legacy_id is mosta.uuid_from_legacy_id(collection text, legacy_id text) → uuid. */
extern "C" Datum
mostajs_uuid_from_legacy_id(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::UuidFromLegacyIdImpl>(fcinfo);
}

/* mostajs_uuid_from_objectid is mosta.uuid_from_objectid(collection text, legacy_id text) → uuid. */
extern "C" Datum
mostajs_uuid_from_objectid(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::UuidFromObjectIdImpl>(fcinfo);
}
