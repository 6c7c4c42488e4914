/*
 * routing.cpp
 *     Read routing (see routing.hpp).
 */
#include "routing.hpp"

#include <algorithm>
#include <limits>

namespace mosta::monitor {

bool
IsEligible(const Replica &replica) {
	bool queryable = replica.dialect == "postgres" || replica.dialect == "sqlite" || replica.dialect == "mongodb";
	return replica.role == "slave" && queryable && replica.status.within_tolerance.value_or(false);
}

const Replica *
FindMaster(const Project &project) {
	for (const Replica &replica : project.replicas)
		if (replica.role == "master")
			return &replica;
	return nullptr;
}

Routing
ComputeRouting(const Project &project, bool stale) {
	Routing routing;
	routing.strategy = project.read_routing;
	if (stale) {
		if (const Replica *master = FindMaster(project))
			routing.reads_go_to = master->name;
		return routing;
	}
	if (project.has_routing_fields) {
		routing.eligible = project.eligible;
		routing.reads_go_to = project.reads_go_to;
		return routing;
	}
	std::vector<const Replica *> eligible;
	for (const Replica &replica : project.replicas)
		if (IsEligible(replica))
			eligible.push_back(&replica);
	static constexpr std::int64_t kUnknownLag = std::numeric_limits<std::int64_t>::max();
	std::sort(eligible.begin(), eligible.end(), [](const Replica *a, const Replica *b) {
		std::int64_t lag_a = a->status.lag_ms.value_or(kUnknownLag), lag_b = b->status.lag_ms.value_or(kUnknownLag);
		return lag_a != lag_b ? lag_a < lag_b : a->name < b->name;
	});
	for (const Replica *replica : eligible)
		routing.eligible.push_back(replica->name);
	if (!routing.eligible.empty()) {
		if (routing.strategy == "least-lag")
			routing.reads_go_to = routing.eligible.front();
	} else if (const Replica *master = FindMaster(project)) {
		routing.reads_go_to = master->name;
	}
	return routing;
}

std::optional<RouteChoice>
ChooseRoute(const Project &project, const Routing &routing, std::uint64_t &counter, std::mt19937_64 &random) {
	if (routing.eligible.empty()) {
		const Replica *master = FindMaster(project);
		if (master == nullptr)
			return std::nullopt;
		return RouteChoice{master->name, master->role};
	}
	std::string chosen;
	if (routing.strategy == "round-robin") {
		std::vector<std::string> by_name = routing.eligible;
		std::sort(by_name.begin(), by_name.end());
		chosen = by_name[counter++ % by_name.size()];
	} else if (routing.strategy == "random") {
		std::uniform_int_distribution<std::size_t> pick(0, routing.eligible.size() - 1);
		chosen = routing.eligible[pick(random)];
	} else {
		chosen = routing.eligible.front();
	}
	return RouteChoice{chosen, "slave"};
}

} // namespace mosta::monitor
