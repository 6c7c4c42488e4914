/*
 * legacy_id.cpp
 *     AppendLegacyIdCandidates, LegacyIdCandidates (legacy_id.hpp).
 */
#include "legacy_id.hpp"

#include <cerrno>
#include <cstdlib>

namespace mosta::migrate {

namespace {

// IsLowerHex24 tells whether text is how LegacyIdText prints an ObjectId.
bool
IsLowerHex24(const std::string &text) {
	return text.size() == 24 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

void
AppendLegacyIdCandidates(bson_t *array, std::uint32_t &index, const std::string &legacy_id) {
	char buffer[16];
	// Next returns the next array key (the BSON_APPEND_* macros evaluate their key twice: never pass a call)
	auto next = [&index, &buffer]() {
		const char *key = nullptr;
		bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
		return key;
	};
	if (IsLowerHex24(legacy_id)) {
		bson_oid_t oid;
		bson_oid_init_from_string(&oid, legacy_id.c_str());
		const char *key = next();
		BSON_APPEND_OID(array, key, &oid);
	}
	errno = 0;
	char *end = nullptr;
	long long number = std::strtoll(legacy_id.c_str(), &end, 10);
	// the round trip refuses what LegacyIdText never prints: "042", "+1", " 1", an overflow
	if (!legacy_id.empty() && *end == '\0' && errno == 0 && std::to_string(number) == legacy_id) {
		if (number >= INT32_MIN && number <= INT32_MAX) {
			const char *key = next();
			BSON_APPEND_INT32(array, key, static_cast<std::int32_t>(number));
		}
		const char *key = next();
		BSON_APPEND_INT64(array, key, number);
	}
	const char *key = next();
	BSON_APPEND_UTF8(array, key, legacy_id.c_str());
}

sidecar::BsonHandle
LegacyIdCandidates(const std::vector<std::string> &legacy_ids) {
	sidecar::BsonHandle array(bson_new());
	std::uint32_t index = 0;
	for (const std::string &text : legacy_ids)
		AppendLegacyIdCandidates(array.get(), index, text);
	return array;
}

} // namespace mosta::migrate
