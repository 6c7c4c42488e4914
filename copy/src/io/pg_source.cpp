/*
 * pg_source.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Source>
MakePgSource(const std::string &, int) {
	throw CopyError("a PostgreSQL source is not built yet");
}

} // namespace mosta::copy
