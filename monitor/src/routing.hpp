/*
 * routing.hpp
 *     Read routing as mosta_read_replica decides it (docs/sql-api.md section 6): the eligible slaves (role slave,
 *     dialect postgres/sqlite/mongodb, withinTolerance true), ordered by lag then name; least-lag takes the first,
 *     round-robin cycles over them in name order, random picks one; none eligible → the master. A version 2
 *     topology carries eligible and readsGoTo already; a version 1 one gets them computed here.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "topology.hpp"

namespace mosta::monitor {

// A project's routing as the state JSON shows it.
struct Routing {
	std::string strategy;
	std::optional<std::string> reads_go_to; // null for round-robin/random with eligible slaves, or no replica
	std::vector<std::string> eligible;		// by lag, then name
};

// ComputeRouting returns project's routing: version 2's fields when given, else computed. When stale (the state
// is stale: nobody measures the slaves' lags any more), no slave is eligible and reads go to the master, as
// mosta_read_replica decides once the reports are older than mostajs.status_max_age.
Routing ComputeRouting(const Project &project, bool stale = false);

// IsEligible tells whether replica may serve reads (role slave, a queryable dialect, within tolerance).
bool IsEligible(const Replica &replica);

// FindMaster returns the project's master, or null.
const Replica *FindMaster(const Project &project);

// The replica a read goes to now, as /route answers it.
struct RouteChoice {
	std::string replica;
	std::string role;
};

// ChooseRoute picks where a read of project goes now: least-lag the first eligible, round-robin the eligible
// slave at position counter mod k in name order (counter is then advanced), random a uniform one from random;
// none eligible → the master; nullopt when there is no master either.
std::optional<RouteChoice> ChooseRoute(const Project &project, const Routing &routing, std::uint64_t &counter,
									   std::mt19937_64 &random);

} // namespace mosta::monitor
