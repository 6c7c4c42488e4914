/*
 * pg_destination.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Destination>
MakePgDestination(const std::string &, const DestinationOptions &) {
	throw CopyError("a PostgreSQL destination is not built yet");
}

} // namespace mosta::copy
