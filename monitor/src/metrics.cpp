/*
 * metrics.cpp
 *     The Prometheus metrics (see metrics.hpp).
 */
#include "metrics.hpp"

#include <initializer_list>
#include <utility>
#include <vector>

#include "json_writer.hpp"

namespace mosta::monitor {

std::string
EscapeLabelValue(std::string_view value) {
	std::string out;
	out.reserve(value.size());
	for (char c : value) {
		if (c == '\\')
			out += "\\\\";
		else if (c == '"')
			out += "\\\"";
		else if (c == '\n')
			out += "\\n";
		else
			out.push_back(c);
	}
	return out;
}

namespace {

using Labels = std::initializer_list<std::pair<const char *, std::string_view>>;

// Family collects one metric family: its HELP and TYPE lines are written only when it has a sample.
class Family {
  public:
	Family(std::string &out, const char *name, const char *type, const char *help)
		: out_(out), name_(name), type_(type), help_(help) {}

	// Sample appends one sample of the family.
	void
	Sample(Labels labels, double value) {
		if (!header_written_) {
			out_ += std::string("# HELP ") + name_ + " " + help_ + "\n# TYPE " + name_ + " " + type_ + "\n";
			header_written_ = true;
		}
		out_ += name_;
		if (labels.size() != 0) {
			out_ += "{";
			bool first = true;
			for (const auto &[label, label_value] : labels) {
				out_ += first ? "" : ",";
				first = false;
				out_ += label;
				out_ += "=\"" + EscapeLabelValue(label_value) + "\"";
			}
			out_ += "}";
		}
		out_ += " ";
		AppendJsonNumber(out_, value);
		out_ += "\n";
	}

  private:
	std::string &out_;
	const char *name_;
	const char *type_;
	const char *help_;
	bool header_written_ = false;
};

// kReplicaStatuses is the state set of mosta_replica_status.
constexpr const char *kReplicaStatuses[] = {"unknown", "up", "catching-up", "down", "error"};

void
ReplicaMetrics(std::string &out, const Topology &topology) {
	Family up(out, "mosta_replica_up", "gauge", "1 when the replica's reported status is up.");
	for (const Project &p : topology.projects)
		for (const Replica &r : p.replicas)
			up.Sample({{"project", p.name}, {"replica", r.name}, {"role", r.role}, {"dialect", r.dialect}},
					  r.status.status == "up" ? 1 : 0);
	Family status(out, "mosta_replica_status", "gauge", "1 for the replica's current reported status.");
	for (const Project &p : topology.projects)
		for (const Replica &r : p.replicas) {
			bool known = false;
			for (const char *name : kReplicaStatuses) {
				known = known || r.status.status == name;
				status.Sample({{"project", p.name}, {"replica", r.name}, {"status", name}},
							  r.status.status == name ? 1 : 0);
			}
			if (!known)
				status.Sample({{"project", p.name}, {"replica", r.name}, {"status", r.status.status}}, 1);
		}
	Family lag(out, "mosta_replica_lag_seconds", "gauge", "The replica's reported lag behind its source.");
	for (const Project &p : topology.projects)
		for (const Replica &r : p.replicas)
			if (r.status.lag_ms)
				lag.Sample({{"project", p.name}, {"replica", r.name}}, static_cast<double>(*r.status.lag_ms) / 1000);
	Family bytes(out, "mosta_replica_lag_bytes", "gauge",
				 "The replica's reported lag behind its source, in WAL bytes.");
	for (const Project &p : topology.projects)
		for (const Replica &r : p.replicas)
			if (r.status.lag_bytes)
				bytes.Sample({{"project", p.name}, {"replica", r.name}}, static_cast<double>(*r.status.lag_bytes));
	Family within(out, "mosta_replica_within_tolerance", "gauge",
				  "1 when the replica is within its lag tolerance (mosta_read_replica may choose it).");
	for (const Project &p : topology.projects)
		for (const Replica &r : p.replicas)
			if (r.status.status != "unknown" && r.status.within_tolerance)
				within.Sample({{"project", p.name}, {"replica", r.name}}, *r.status.within_tolerance ? 1 : 0);
}

void
RuleMetrics(std::string &out, const Topology &topology) {
	struct Counter {
		const char *name;
		const char *help;
		std::optional<std::int64_t> Rule::*field;
	};
	static constexpr Counter kCounters[] = {
		{"mosta_rule_changes_applied_total", "Changes the rule applied to its targets.", &Rule::changes_applied},
		{"mosta_rule_transactions_total", "Transactions the rule applied to its targets.", &Rule::transactions},
		{"mosta_rule_snapshot_rows_total", "Rows the rule's initial copies wrote.", &Rule::snapshot_rows},
		{"mosta_rule_conflicts_total", "Conflicts of the bidirectional rule recorded in mosta.conflicts.",
		 &Rule::conflicts},
	};
	for (const Counter &counter : kCounters) {
		Family family(out, counter.name, "counter", counter.help);
		for (const Rule &rule : topology.rules)
			if (rule.*counter.field)
				family.Sample({{"rule", rule.name}}, static_cast<double>(*(rule.*counter.field)));
	}
	Family status(out, "mosta_rule_status", "gauge", "1 for the rule's current status.");
	for (const Rule &rule : topology.rules)
		status.Sample({{"rule", rule.name}, {"status", rule.status}}, 1);
	Family applied(out, "mosta_rule_last_apply_timestamp_seconds", "gauge",
				   "When the rule last applied a transaction (Unix time).");
	for (const Rule &rule : topology.rules)
		if (rule.last_applied_at)
			applied.Sample({{"rule", rule.name}}, *rule.last_applied_at);
	Family retained(out, "mosta_target_retained_wal_bytes", "gauge", "WAL the target's slot makes the source retain.");
	for (const Rule &rule : topology.rules)
		for (const Target &t : rule.targets)
			if (t.retained_bytes)
				retained.Sample({{"rule", rule.name}, {"project", t.project}, {"replica", t.replica}, {"slot", t.slot}},
								static_cast<double>(*t.retained_bytes));
	Family resnapshots(out, "mosta_target_resnapshots_total", "counter",
					   "Times the target was copied again after its slot was lost.");
	for (const Rule &rule : topology.rules)
		for (const Target &t : rule.targets)
			if (t.resnapshots)
				resnapshots.Sample({{"rule", rule.name}, {"project", t.project}, {"replica", t.replica}},
								   static_cast<double>(*t.resnapshots));
}

} // namespace

std::string
RenderMetrics(const MonitorState &state, double now) {
	std::string out;
	Family build(out, "mosta_monitor_build_info", "gauge", "The monitor's version; always 1.");
	build.Sample({{"version", MOSTA_VERSION}}, 1);
	const Topology *topology = state.GetTopology();
	Family stale(out, "mosta_topology_stale", "gauge",
				 "1 when the topology is stale (missing, unreadable or older than --stale-after).");
	stale.Sample({}, state.StaleReason(now) ? 1 : 0);
	if (topology != nullptr && topology->generated_at_unix) {
		Family age(out, "mosta_topology_age_seconds", "gauge", "Seconds since the topology was generated.");
		age.Sample({}, now - *topology->generated_at_unix);
	}
	if (topology != nullptr) {
		ReplicaMetrics(out, *topology);
		RuleMetrics(out, *topology);
	}
	return out;
}

} // namespace mosta::monitor
