/*
 * stream_start.cpp
 *     Placeholder until the change-stream part lands: records nothing (issue 16).
 */
#include "stream_start.hpp"

namespace mosta::migrate {

std::string
EnsureStreamStart(sidecar::PgSession &, const mapping::Mapping &, MongoSource &) {
	return {};
}

} // namespace mosta::migrate
