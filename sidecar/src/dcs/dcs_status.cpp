/*
 * dcs_status.cpp
 *     mosta-sidecar dcs-status (see dcs_status.hpp).
 */
#include "dcs/dcs_status.hpp"

#include <cstdio>

namespace mosta::sidecar::dcs {

int
RunDcsStatus(boost::asio::io_context &, const Config &) {
	std::fputs("mosta-sidecar: dcs-status is not built yet\n", stderr);
	return 1;
}

} // namespace mosta::sidecar::dcs
