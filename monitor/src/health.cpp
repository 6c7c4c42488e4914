/*
 * health.cpp
 *     The health decisions (see health.hpp).
 */
#include "health.hpp"

#include "json_writer.hpp"
#include "mosta/common/hex.hpp"
#include "routing.hpp"

namespace mosta::monitor {

namespace {

// Answer builds an answer whose body is {"status":..,"project":..,<extra>,"reason":..}.
HealthAnswer
Answer(unsigned status, const std::string &project, const std::string &reason, const std::string &extra = "") {
	std::string body = "{\"healthy\":";
	body += status == 200 ? "true" : "false";
	body += ",\"project\":" + JsonString(project);
	body += extra;
	body += ",\"reason\":" + JsonString(reason) + "}";
	return {status, body};
}

// FindReplica returns project's replica named name, or null.
const Replica *
FindReplica(const Project &project, const std::string &name) {
	for (const Replica &replica : project.replicas)
		if (replica.name == name)
			return &replica;
	return nullptr;
}

// Lookup finds project in the state, or sets answer (400 without a name, 503 without a topology, 404 when unknown).
const Project *
Lookup(const MonitorState &state, const std::string &project, HealthAnswer &answer) {
	if (project.empty()) {
		answer = Answer(400, project, "give the project: ?project=NAME");
		return nullptr;
	}
	const Topology *topology = state.GetTopology();
	if (topology == nullptr) {
		answer = Answer(503, project, "no topology read yet");
		return nullptr;
	}
	const Project *found = topology->FindProject(project);
	if (found == nullptr)
		answer = Answer(404, project, "no project \"" + project + "\" in the topology");
	return found;
}

} // namespace

HealthAnswer
MasterHealth(const MonitorState &state, const std::string &project, const std::string &replica, double now) {
	HealthAnswer answer;
	const Project *found = Lookup(state, project, answer);
	if (found == nullptr)
		return answer;
	if (!replica.empty() && FindReplica(*found, replica) == nullptr)
		return Answer(404, project, "no replica \"" + replica + "\" in project \"" + project + "\"");
	const Replica *master = FindMaster(*found);
	if (master == nullptr)
		return Answer(503, project, "the project has no master");
	std::string extra = ",\"master\":" + JsonString(master->name);
	if (!replica.empty()) {
		extra += ",\"replica\":" + JsonString(replica);
		if (replica != master->name)
			return Answer(503, project, "the master is " + master->name + ", not " + replica, extra);
	}
	if (std::optional<std::string> stale = state.StaleReason(now))
		return Answer(503, project, "stale: " + *stale, extra);
	return Answer(200, project, replica.empty() ? "the project has a master" : replica + " is the master", extra);
}

HealthAnswer
ReplicaHealth(const MonitorState &state, const std::string &project, const std::string &replica,
			  std::optional<std::chrono::milliseconds> max_lag, double now) {
	HealthAnswer answer;
	const Project *found = Lookup(state, project, answer);
	if (found == nullptr)
		return answer;
	if (replica.empty())
		return Answer(400, project, "give the replica: ?replica=NAME");
	const Replica *r = FindReplica(*found, replica);
	if (r == nullptr)
		return Answer(404, project, "no replica \"" + replica + "\" in project \"" + project + "\"");
	std::string extra = ",\"replica\":" + JsonString(replica) + ",\"role\":" + JsonString(r->role) +
						",\"status\":" + JsonString(r->status.status) +
						",\"lagMs\":" + (r->status.lag_ms ? std::to_string(*r->status.lag_ms) : "null");
	if (r->role != "slave")
		return Answer(503, project, "the replica is a " + r->role + ", not a slave", extra);
	if (r->status.status != "up")
		return Answer(503, project, "the replica's status is " + r->status.status + ", not up", extra);
	if (std::optional<std::string> stale = state.StaleReason(now))
		return Answer(503, project, "stale: " + *stale, extra);
	if (max_lag) {
		if (!r->status.lag_ms)
			return Answer(503, project, "the replica's lag is not reported", extra);
		if (*r->status.lag_ms > max_lag->count())
			return Answer(503, project,
						  "lag " + std::to_string(*r->status.lag_ms) + " ms exceeds " +
							  std::to_string(max_lag->count()) + " ms",
						  extra);
		return Answer(200, project,
					  "lag " + std::to_string(*r->status.lag_ms) + " ms is within " + std::to_string(max_lag->count()) +
						  " ms",
					  extra);
	}
	if (!r->status.within_tolerance.value_or(false))
		return Answer(503, project, "the replica is not within its lag tolerance", extra);
	return Answer(200, project, "the replica is within its lag tolerance", extra);
}

HealthAnswer
RouteHealth(const MonitorState &state, const std::string &project, std::uint64_t &counter, std::mt19937_64 &random,
			double now) {
	HealthAnswer answer;
	const Project *found = Lookup(state, project, answer);
	if (found == nullptr)
		return answer;
	// a stale state's lags are the last ones known, not the current ones: fail closed, to the master
	std::optional<std::string> stale = state.StaleReason(now);
	Routing routing = ComputeRouting(*found, stale.has_value());
	std::optional<RouteChoice> choice = ChooseRoute(*found, routing, counter, random);
	std::string body = "{\"project\":" + JsonString(project) + ",\"strategy\":" + JsonString(routing.strategy);
	body += ",\"replica\":" + (choice ? JsonString(choice->replica) : std::string("null"));
	body += ",\"role\":" + (choice ? JsonString(choice->role) : std::string("null"));
	body += ",\"eligible\":[";
	for (std::size_t i = 0; i < routing.eligible.size(); ++i)
		body += (i ? "," : "") + JsonString(routing.eligible[i]);
	body += "]";
	if (stale)
		body += ",\"stale\":" + JsonString(*stale);
	body += "}";
	return {choice ? 200u : 503u, body};
}

std::string
PercentDecode(std::string_view text) {
	auto hex = [](char c) { return HexDigitValue(c); };
	std::string out;
	out.reserve(text.size());
	for (std::size_t i = 0; i < text.size(); ++i) {
		if (text[i] == '+') {
			out.push_back(' ');
		} else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
			out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
			i += 2;
		} else {
			out.push_back(text[i]);
		}
	}
	return out;
}

std::optional<std::string>
QueryParameter(std::string_view query, std::string_view name) {
	while (!query.empty()) {
		std::size_t end = query.find('&');
		std::string_view pair = query.substr(0, end);
		std::size_t eq = pair.find('=');
		if (PercentDecode(pair.substr(0, eq)) == name)
			return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
		if (end == std::string_view::npos)
			break;
		query.remove_prefix(end + 1);
	}
	return std::nullopt;
}

} // namespace mosta::monitor
