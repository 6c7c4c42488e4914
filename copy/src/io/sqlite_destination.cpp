/*
 * sqlite_destination.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Destination>
MakeSqliteDestination(const std::string &, const DestinationOptions &) {
	throw CopyError("a SQLite destination is not built yet");
}

} // namespace mosta::copy
