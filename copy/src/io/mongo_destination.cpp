/*
 * mongo_destination.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Destination>
MakeMongoDestination(const std::string &, const DestinationOptions &) {
	throw CopyError("a MongoDB destination is not built yet");
}

} // namespace mosta::copy
