/*
 * sqlite_source.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Source>
MakeSqliteSource(const std::string &) {
	throw CopyError("a SQLite source is not built yet");
}

} // namespace mosta::copy
