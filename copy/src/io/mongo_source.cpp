/*
 * mongo_source.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Source>
MakeMongoSource(const std::string &, const DatabaseSchema &) {
	throw CopyError("a MongoDB source is not built yet");
}

} // namespace mosta::copy
