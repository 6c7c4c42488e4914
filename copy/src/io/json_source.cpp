/*
 * json_source.cpp
 *     PLACEHOLDER until this part lands.
 */
#include "io/open.hpp"

namespace mosta::copy {

std::unique_ptr<Source>
MakeJsonSource(const std::string &) {
	throw CopyError("a JSON source is not built yet");
}

} // namespace mosta::copy
