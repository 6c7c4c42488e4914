/*
 * state.hpp
 *     MonitorState: what the monitor knows, from the reads of its source (the topology file or the catalog), and
 *     the state JSON of /api/state and /events built from it (docs/monitor.md): the last good topology, whether
 *     it is stale and why, the routing per project, a 10-minute lag history per replica (one point per distinct
 *     generatedAt) and the rules' rates from counter deltas. Times are Unix seconds passed in by the caller, so
 *     tests drive the clock.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "routing.hpp"
#include "topology.hpp"

namespace mosta::monitor {

// kHistorySeconds is how far back the lag history goes.
inline constexpr double kHistorySeconds = 600;

// kHistoryMaxPoints bounds each replica's history (a tree rewritten 10 times a second for 10 minutes).
inline constexpr std::size_t kHistoryMaxPoints = 6000;

// What MonitorState is told about its source.
struct StateSettings {
	std::string source_kind = "tree"; // "tree" or "catalog"
	std::string source_label;		  // the file's path, or "the catalog"
	std::chrono::milliseconds poll_interval{1000};
	std::chrono::milliseconds stale_after{30000};
};

// One point of a replica's lag history.
struct LagPoint {
	double at;
	std::optional<std::int64_t> lag_ms;
	std::optional<std::int64_t> lag_bytes;
};

// A rule's rates.
struct RuleRate {
	double changes_per_second = 0;
	double transactions_per_second = 0;
};

class MonitorState {
  public:
	explicit MonitorState(StateSettings settings);

	// OnText records a successful read of text at now; a text that is no topology counts as OnError. Returns
	// true when what /events shows changed (the content, or the stale flag or reason).
	bool OnText(std::string_view text, double now);

	// OnMissing records that the file is not there (the last good topology is kept). Returns as OnText.
	bool OnMissing(double now);

	// OnError records a failed read (message says why; the last good topology is kept). Returns as OnText.
	bool OnError(const std::string &message, double now);

	// OnTick re-evaluates staleness at now; true when the stale flag or reason changed.
	bool OnTick(double now);

	// StaleReason returns why the state is stale at now, or nullopt when it is not.
	std::optional<std::string> StaleReason(double now) const;

	// Topology returns the last good topology, or null.
	const Topology *
	GetTopology() const noexcept {
		return topology_ ? &*topology_ : nullptr;
	}

	// StateJson returns the state JSON at now (one line).
	std::string StateJson(double now) const;

	// History returns the lag history of "project/replica" keys.
	const std::map<std::string, std::deque<LagPoint>> &
	History() const noexcept {
		return history_;
	}

	// Rates returns the rules' rates.
	const std::map<std::string, RuleRate> &
	Rates() const noexcept {
		return rates_;
	}

	const StateSettings &
	Settings() const noexcept {
		return settings_;
	}

  private:
	// A rule's counters at one generatedAt.
	struct CounterSample {
		double at = 0;
		std::int64_t changes = 0;
		std::int64_t transactions = 0;
		double interval = 0; // time between the two last samples with different counters
	};

	// Remember records the new topology's lag points and counters (once per distinct generatedAt).
	void Remember(const Topology &topology);

	// The parts of StateJson: "monitor", "routing", "history" and "rates".
	void AppendMonitor(std::string &out, double now) const;
	void AppendRouting(std::string &out, bool stale) const;
	void AppendHistory(std::string &out) const;
	void AppendRates(std::string &out) const;

	StateSettings settings_;
	std::optional<Topology> topology_;
	std::string text_;					   // the last good text, to skip unchanged reads
	std::optional<std::string> condition_; // why the last read failed, nullopt when it did not
	std::optional<double> read_at_;		   // the last successful read
	std::optional<std::string> published_; // the stale reason last published ("" when not stale)
	std::optional<double> last_generated_; // the generatedAt the history and rates last took
	std::map<std::string, std::deque<LagPoint>> history_;
	std::map<std::string, CounterSample> samples_;
	std::map<std::string, RuleRate> rates_;
};

// NowUnix returns the system clock as Unix seconds.
double NowUnix();

} // namespace mosta::monitor
