/*
 * sql_dump_destination.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Destination>
MakeSqlDumpDestination(const std::string &, const DestinationOptions &) {
	throw CopyError("an SQL dump destination is not built yet");
}

} // namespace mosta::copy
