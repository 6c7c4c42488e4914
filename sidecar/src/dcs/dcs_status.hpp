/*
 * dcs_status.hpp
 *     mosta-sidecar dcs-status --dcs URL: print, as one JSON document, what the DCS holds under the prefix (per
 *     project: the leader key and its lease's remaining TTL, the members, the sync key, the last observations;
 *     the rules' owners) and which endpoint answered. For operators and the tests; exit 0, 1 when no endpoint
 *     answers.
 */
#pragma once

#include <boost/asio/io_context.hpp>

#include "app/config.hpp"

namespace mosta::sidecar::dcs {

int RunDcsStatus(boost::asio::io_context &context, const Config &config);

} // namespace mosta::sidecar::dcs
