/*
 * dcs_status.hpp
 *     mosta-sidecar dcs-status --dcs URL: print, as one JSON document, what the DCS holds under the prefix (per
 *     project: the leader key and its lease's remaining TTL, the members, the sync key, the last observations;
 *     the rules' owners) and which endpoint answered. For operators and the tests; exit 0, 1 when no endpoint
 *     answers.
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/config.hpp"
#include "dcs/etcd_client.hpp"

namespace mosta::sidecar::dcs {

// DcsStatusJson builds dcs-status's document from the keys read under prefix ("/mosta") and the remaining TTL
// of each leader key's lease (leases absent from lease_ttls, or nullopt: gone, printed as null). Values stored as
// JSON are copied compactly; one that is not JSON is printed as a JSON string. Keys outside the layout of
// docs/ha.md ("Keys") are left out.
std::string DcsStatusJson(const std::string &prefix, const std::string &endpoint, const std::vector<KeyValue> &kvs,
						  const std::map<std::int64_t, std::optional<std::int64_t>> &lease_ttls);

int RunDcsStatus(boost::asio::io_context &context, const Config &config);

} // namespace mosta::sidecar::dcs
