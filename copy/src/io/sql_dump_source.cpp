/*
 * sql_dump_source.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Source>
MakeSqlDumpSource(const std::string &) {
	throw CopyError("an SQL dump source is not built yet");
}

} // namespace mosta::copy
