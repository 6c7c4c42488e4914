/*
 * health.hpp
 *     The health endpoints a load balancer checks (HAProxy option httpchk, as Patroni's REST API serves them):
 *     /master, /replica and /route. Each decision is a pure function of the state, returning the HTTP status and a
 *     small JSON body that explains it.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "state.hpp"

namespace mosta::monitor {

// A health answer.
struct HealthAnswer {
	unsigned status = 200; // 200, 503, 404 or 400
	std::string body;	   // JSON
};

// MasterHealth: 200 when project has a master and the state is not stale at now; else 503 (404 for an unknown
// project, 400 without one). With a replica name (not empty), 200 only when that replica is the master: a load
// balancer that lists every node checks each by name and sends writes to the catalog's master after a switchover or
// a failover; 503 for another replica, 404 for an unknown one.
HealthAnswer MasterHealth(const MonitorState &state, const std::string &project, const std::string &replica,
						  double now);

// ReplicaHealth: 200 when replica is a slave of project, its status is up, the state is not stale and its lagMs is
// at most max_lag when given (else its withinTolerance is true); 503 otherwise; 404 for an unknown project or
// replica.
HealthAnswer ReplicaHealth(const MonitorState &state, const std::string &project, const std::string &replica,
						   std::optional<std::chrono::milliseconds> max_lag, double now);

// RouteHealth: 200 with where a read of project goes now (routing.hpp's ChooseRoute, advancing counter for
// round-robin); 503 when there is nowhere, 404 for an unknown project. When the state is stale at now, no slave's
// lag is known any more: no slave is eligible and reads go to the master (as mosta_read_replica decides once the
// reports are older than mostajs.status_max_age), the body saying why ("stale").
HealthAnswer RouteHealth(const MonitorState &state, const std::string &project, std::uint64_t &counter,
						 std::mt19937_64 &random, double now);

// QueryParameter returns the decoded value of name in the query string query ("a=1&b=x%20y"), or nullopt.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view name);

// PercentDecode decodes %XX escapes and '+' (as a space) of a query or form value.
std::string PercentDecode(std::string_view text);

} // namespace mosta::monitor
