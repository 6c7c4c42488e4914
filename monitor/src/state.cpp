/*
 * state.cpp
 *     MonitorState (see state.hpp).
 */
#include "state.hpp"

#include <cmath>
#include <set>

#include "json_writer.hpp"
#include "mosta/common/version.hpp"

namespace mosta::monitor {

MonitorState::MonitorState(StateSettings settings) : settings_(std::move(settings)) {}

double
NowUnix() {
	using namespace std::chrono;
	return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool
MonitorState::OnText(std::string_view text, double now) {
	if (topology_ && !condition_ && text == text_) {
		read_at_ = now;
		return OnTick(now);
	}
	Topology topology;
	try {
		topology = ParseTopology(text);
	} catch (const TopologyError &e) {
		return OnError(e.what(), now);
	}
	read_at_ = now;
	condition_.reset();
	bool content_changed = text != text_;
	text_ = std::string(text);
	Remember(topology);
	topology_ = std::move(topology);
	bool published_changed = OnTick(now);
	return content_changed || published_changed;
}

bool
MonitorState::OnMissing(double now) {
	condition_ = "no topology file at " + settings_.source_label;
	return OnTick(now);
}

bool
MonitorState::OnError(const std::string &message, double now) {
	condition_ = "cannot read " + settings_.source_label + ": " + message;
	return OnTick(now);
}

bool
MonitorState::OnTick(double now) {
	std::string reason = StaleReason(now).value_or("");
	if (published_ && *published_ == reason)
		return false;
	published_ = reason;
	return true;
}

std::optional<std::string>
MonitorState::StaleReason(double now) const {
	if (condition_)
		return condition_;
	if (!topology_)
		return "no topology read yet from " + settings_.source_label;
	if (topology_->generated_at_unix &&
		now - *topology_->generated_at_unix > static_cast<double>(settings_.stale_after.count()) / 1000)
		return "sidecar not reporting since " + *topology_->generated_at;
	return std::nullopt;
}

void
MonitorState::Remember(const Topology &topology) {
	if (!topology.generated_at_unix || (last_generated_ && *last_generated_ == *topology.generated_at_unix))
		return;
	double at = *topology.generated_at_unix;
	last_generated_ = at;
	std::set<std::string> present;
	for (const Project &project : topology.projects)
		for (const Replica &replica : project.replicas) {
			std::string key = project.name + "/" + replica.name;
			present.insert(key);
			std::deque<LagPoint> &points = history_[key];
			points.push_back({at, replica.status.lag_ms, replica.status.lag_bytes});
			while (!points.empty() && (points.front().at < at - kHistorySeconds || points.size() > kHistoryMaxPoints))
				points.pop_front();
		}
	std::erase_if(history_, [&](const auto &entry) { return !present.count(entry.first); });
	std::set<std::string> rules;
	for (const Rule &rule : topology.rules) {
		rules.insert(rule.name);
		CounterSample next{at, rule.changes_applied.value_or(0), rule.transactions.value_or(0), 0};
		auto found = samples_.find(rule.name);
		RuleRate &rate = rates_[rule.name];
		if (found == samples_.end()) {
			samples_[rule.name] = next;
			continue;
		}
		CounterSample &last = found->second;
		double elapsed = at - last.at;
		if (next.changes != last.changes || next.transactions != last.transactions) {
			// a counter that went down was reset (the rule was added again): no rate from that pair
			if (elapsed > 0 && next.changes >= last.changes && next.transactions >= last.transactions) {
				rate.changes_per_second = static_cast<double>(next.changes - last.changes) / elapsed;
				rate.transactions_per_second = static_cast<double>(next.transactions - last.transactions) / elapsed;
			} else {
				rate = RuleRate{};
			}
			next.interval = elapsed;
			last = next;
		} else if (elapsed > 2 * last.interval) {
			// idle: the counters stood still for twice as long as their last change took
			rate = RuleRate{};
		}
	}
	std::erase_if(samples_, [&](const auto &entry) { return !rules.count(entry.first); });
	std::erase_if(rates_, [&](const auto &entry) { return !rules.count(entry.first); });
}

namespace {

// AppendOptionalInteger writes value or null.
void
AppendOptionalInteger(std::string &out, const std::optional<std::int64_t> &value) {
	out += value ? std::to_string(*value) : "null";
}

// AppendRounded writes value rounded to 3 decimals.
void
AppendRounded(std::string &out, double value) {
	AppendJsonNumber(out, std::round(value * 1000) / 1000);
}

} // namespace

void
MonitorState::AppendMonitor(std::string &out, double now) const {
	std::optional<std::string> stale = StaleReason(now);
	out += "{\"version\":";
	AppendJsonString(out, MOSTA_VERSION);
	out += ",\"source\":";
	AppendJsonString(out, settings_.source_kind);
	out += ",\"readAt\":";
	out += read_at_ ? JsonString(FormatIsoTime(*read_at_)) : "null";
	out += ",\"generatedAt\":";
	out += topology_ && topology_->generated_at ? JsonString(*topology_->generated_at) : "null";
	out += ",\"ageSeconds\":";
	if (topology_ && topology_->generated_at_unix)
		AppendRounded(out, now - *topology_->generated_at_unix);
	else
		out += "null";
	out += ",\"stale\":";
	out += stale ? "true" : "false";
	out += ",\"staleReason\":";
	out += stale ? JsonString(*stale) : "null";
	out += ",\"pollIntervalMs\":" + std::to_string(settings_.poll_interval.count());
	out += ",\"staleAfterMs\":" + std::to_string(settings_.stale_after.count()) + "}";
}

void
MonitorState::AppendRouting(std::string &out, bool stale) const {
	out += "{";
	bool first = true;
	if (topology_)
		for (const Project &project : topology_->projects) {
			Routing routing = ComputeRouting(project, stale);
			out += first ? "" : ",";
			first = false;
			AppendJsonString(out, project.name);
			out += ":{\"strategy\":";
			AppendJsonString(out, routing.strategy);
			out += ",\"readsGoTo\":";
			out += routing.reads_go_to ? JsonString(*routing.reads_go_to) : "null";
			out += ",\"eligible\":[";
			for (std::size_t i = 0; i < routing.eligible.size(); ++i) {
				out += i ? "," : "";
				AppendJsonString(out, routing.eligible[i]);
			}
			out += "]}";
		}
	out += "}";
}

void
MonitorState::AppendHistory(std::string &out) const {
	out += "{";
	bool first = true;
	for (const auto &[key, points] : history_) {
		out += first ? "" : ",";
		first = false;
		AppendJsonString(out, key);
		out += ":[";
		for (std::size_t i = 0; i < points.size(); ++i) {
			out += i ? ",[" : "[";
			AppendRounded(out, points[i].at);
			out += ",";
			AppendOptionalInteger(out, points[i].lag_ms);
			out += ",";
			AppendOptionalInteger(out, points[i].lag_bytes);
			out += "]";
		}
		out += "]";
	}
	out += "}";
}

void
MonitorState::AppendRates(std::string &out) const {
	out += "{";
	bool first = true;
	for (const auto &[rule, rate] : rates_) {
		out += first ? "" : ",";
		first = false;
		AppendJsonString(out, rule);
		out += ":{\"changesPerSecond\":";
		AppendRounded(out, rate.changes_per_second);
		out += ",\"transactionsPerSecond\":";
		AppendRounded(out, rate.transactions_per_second);
		out += "}";
	}
	out += "}";
}

std::string
MonitorState::StateJson(double now) const {
	std::string out = "{\"monitor\":";
	AppendMonitor(out, now);
	out += ",\"topology\":";
	out += topology_ ? topology_->json : "null";
	out += ",\"routing\":";
	AppendRouting(out, StaleReason(now).has_value());
	out += ",\"history\":";
	AppendHistory(out);
	out += ",\"rates\":";
	AppendRates(out);
	out += "}";
	return out;
}

} // namespace mosta::monitor
