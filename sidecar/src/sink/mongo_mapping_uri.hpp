/*
 * mongo_mapping_uri.hpp
 *     The mapped mirror's URI option (docs/mongodb.md, "Mapped mirror"): a mongodb replica whose URI names a migration
 *     mapping (?mosta_mapping=/etc/mosta/shop.mapping.json) holds the legacy collections in their legacy shape. Every
 *     code that hands such a URI to the driver takes the option out first (mongoc warns about an option it does not
 *     know): the sink (mongo_mapped.hpp), mosta-sidecar verify and resync (verify_mongo.hpp), mosta-copy.
 */
#pragma once

#include <string>

namespace mosta::sidecar {

// kMappingUriOption is the URI option that names a mapping file.
inline constexpr const char *kMappingUriOption = "mosta_mapping";

// A MongoDB URI with its mapping option taken out.
struct MappedUri {
	std::string uri;		  // the URI without mosta_mapping
	std::string mapping_path; // percent-decoded; empty when the URI names no mapping
};

// SplitMappingOption takes mosta_mapping out of uri's options; throws std::invalid_argument when it is given twice,
// empty or badly percent-encoded.
MappedUri SplitMappingOption(const std::string &uri);

} // namespace mosta::sidecar
