/*
 * topology.hpp
 *     The topology the monitor reads (mosta_topology(), format version 1 or 2, docs/sql-api.md section 13): the
 *     fields the state, metrics and health need, and the whole document written back compact with the
 *     monitor's escaping (json_writer.hpp) for the state JSON. Parsed with simdjson's DOM (the file is small).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mosta::monitor {

// A replica's reported status ("status" of a replica in the topology).
struct ReplicaStatus {
	std::string status = "unknown";
	std::optional<std::int64_t> lag_ms;
	std::optional<std::int64_t> lag_bytes;
	std::optional<bool> within_tolerance; // null when not given
};

// One replica of a project.
struct Replica {
	std::string name;
	std::string role;
	std::string dialect;
	std::int64_t lag_tolerance_ms = 0;
	ReplicaStatus status;
};

// One project: its routing and replicas (master first, as the topology lists them).
struct Project {
	std::string name;
	std::string read_routing = "least-lag";
	bool has_routing_fields = false;		// version 2: readsGoTo and eligible were given
	std::optional<std::string> reads_go_to; // version 2's readsGoTo
	std::vector<std::string> eligible;		// version 2's eligible
	std::vector<Replica> replicas;
};

// One target of a rule.
struct Target {
	std::string project;
	std::string replica;
	std::string slot;
	std::string status;
	std::optional<std::int64_t> retained_bytes;
	std::optional<std::int64_t> resnapshots;
};

// One rule and its aggregate stats.
struct Rule {
	std::string name;
	std::string status = "unknown";
	std::optional<std::int64_t> snapshot_rows;
	std::optional<std::int64_t> changes_applied;
	std::optional<std::int64_t> transactions;
	std::optional<std::int64_t> conflicts; // of a bidirectional rule, recorded in mosta.conflicts (absent before it)
	std::optional<double> last_applied_at; // Unix seconds
	std::vector<Target> targets;
};

// A parsed topology.
struct Topology {
	std::int64_t version = 0;
	std::optional<std::string> generated_at; // as written
	std::optional<double> generated_at_unix; // the same, in Unix seconds
	std::optional<std::int64_t> status_max_age_ms;
	std::vector<Project> projects; // by name
	std::vector<Rule> rules;
	std::string json; // the whole document, compact, escaped by json_writer.hpp

	// FindProject returns the project named name, or null.
	const Project *FindProject(std::string_view name) const noexcept;
};

// TopologyError is a text that is not a topology; what() says why.
class TopologyError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// ParseTopology reads a topology text; throws TopologyError.
Topology ParseTopology(std::string_view text);

// ParseIsoTime reads an ISO 8601 time as PostgreSQL writes timestamptz in JSON ("2026-12-07T07:00:00.123+00:00",
// "...Z", with or without fraction) into Unix seconds; nullopt when it is not one.
std::optional<double> ParseIsoTime(std::string_view text);

// FormatIsoTime writes Unix seconds as "2026-12-07T07:00:00.123Z".
std::string FormatIsoTime(double unix_seconds);

} // namespace mosta::monitor
