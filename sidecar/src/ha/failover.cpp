/*
 * failover.cpp
 *     The failover subcommand (see failover.hpp).
 */
#include "ha/failover.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include "ha/command_report.hpp"
#include "ha/promotion.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "util/run_to_exit.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;

bool
IsSynchronous(const std::string &sync_state) {
	return sync_state == "sync" || sync_state == "quorum";
}

GateVerdict
LagGate(long long lag_tolerance_ms, const LastObservation &last) {
	if (!last.present)
		return {false, "never reported by mosta-sidecar: nothing tells what it holds"};
	if (lag_tolerance_ms == 0) {
		if (!IsSynchronous(last.sync_state))
			return {false, "lag_tolerance_ms is 0 and it was not a synchronous standby at the last observation (" +
							   last.Describe() + ")"};
		if (last.status != "up" && last.status != "catching-up")
			return {false, "lag_tolerance_ms is 0 and its last observation is not of a watched, connected standby (" +
							   last.Describe() + ")"};
		return {true, "synchronous standby at the last observation (" + last.Describe() + ")"};
	}
	if (last.status != "up" || !last.lag_ms)
		return {false, "not up at the last observation (" + last.Describe() + ")"};
	if (*last.lag_ms > lag_tolerance_ms)
		return {false, "lag " + std::to_string(*last.lag_ms) + " ms beyond its tolerance of " +
						   std::to_string(lag_tolerance_ms) + " ms at the last observation (" + last.Describe() + ")"};
	return {true, "within its tolerance of " + std::to_string(lag_tolerance_ms) + " ms at the last observation (" +
					  last.Describe() + ")"};
}

std::string
CandidateProblem(const NodeProbe &probe, const std::string &system_identifier) {
	if (!probe.reachable)
		return "unreachable: " + probe.error;
	if (!probe.in_recovery)
		return "not in recovery: it is a primary, not a standby";
	if (!system_identifier.empty() && probe.system_identifier != system_identifier)
		return "system identifier " + probe.system_identifier + " differs from the catalog node's " +
			   system_identifier + ": not a physical standby of this cluster";
	return {};
}

bool
BetterCandidate(const RankedCandidate &a, const RankedCandidate &b) {
	if (a.lsn != b.lsn)
		return a.lsn > b.lsn;
	bool a_sync = IsSynchronous(a.sync_state);
	bool b_sync = IsSynchronous(b.sync_state);
	if (a_sync != b_sync)
		return a_sync;
	return a.name < b.name;
}

PossibleLoss
EstimateLoss(Lsn promoted_lsn, const std::vector<Lsn> &seen_lsns, std::optional<Lsn> master_at_last_observation,
			 bool master_read) {
	PossibleLoss loss;
	loss.most_advanced_lsn = promoted_lsn;
	for (Lsn lsn : seen_lsns)
		loss.most_advanced_lsn = std::max(loss.most_advanced_lsn, lsn);
	if (master_at_last_observation)
		loss.most_advanced_lsn = std::max(loss.most_advanced_lsn, *master_at_last_observation);
	loss.known_bytes = static_cast<long long>(loss.most_advanced_lsn - promoted_lsn);
	loss.beyond_unknown = !master_read;
	loss.text = loss.known_bytes == 0
					? "no WAL known beyond the promoted standby's " + FormatLsn(promoted_lsn)
					: std::to_string(loss.known_bytes) + " bytes of WAL known beyond the promoted standby's " +
						  FormatLsn(promoted_lsn) + " (up to " + FormatLsn(loss.most_advanced_lsn) + ")";
	if (loss.beyond_unknown)
		loss.text += "; beyond that unknown: the master could not be read, and it may have written WAL after the "
					 "last observation that no reachable standby received";
	return loss;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string
ObservationJson(const LastObservation &last) {
	if (!last.present)
		return "null";
	return "{\"status\":" + TextJson(last.status) + ",\"sync_state\":" + TextJson(last.sync_state) +
		   ",\"lag_ms\":" + NumberJson(last.lag_ms) + ",\"lag_bytes\":" + NumberJson(last.lag_bytes) +
		   ",\"applied_lsn\":" + LsnJson(last.applied_lsn) + ",\"last_seen\":" + TextJson(last.last_seen) +
		   ",\"age_ms\":" + NumberJson(last.age_ms) + "}";
}

// One postgres slave of the project, probed, with its gate verdict.
struct Candidate {
	const TopologyReplica *replica = nullptr; // from the topology read first (its URI)
	NodeProbe probe;
	LastObservation last; // from the freshest catalog copy
	std::string problem;  // "" when it can be promoted
	GateVerdict gate;
};

std::string
CandidateJson(const Candidate &c) {
	return "{\"name\":" + JsonQuote(c.replica->name) + ",\"reachable\":" + (c.probe.reachable ? "true" : "false") +
		   ",\"in_recovery\":" + (c.probe.in_recovery ? "true" : "false") +
		   ",\"receive_lsn\":" + LsnJson(c.probe.receive_lsn) + ",\"replay_lsn\":" + LsnJson(c.probe.replay_lsn) +
		   ",\"timeline\":" + (c.probe.timeline ? std::to_string(*c.probe.timeline) : std::string("null")) +
		   ",\"lag_tolerance_ms\":" + std::to_string(c.replica->lag_tolerance_ms) +
		   ",\"last_observation\":" + ObservationJson(c.last) +
		   ",\"gate\":{\"allows\":" + (c.gate.allows ? "true" : "false") + ",\"reason\":" + JsonQuote(c.gate.reason) +
		   "},\"problem\":" + TextJson(c.problem) + "}";
}

// What the run decided before changing anything.
struct Plan {
	Topology topology;	   // read from --source
	Topology observations; // the last observations: from the freshest standby's copy
	const TopologyReplica *master = nullptr;
	NodeProbe master_probe;
	std::vector<Candidate> candidates; // every postgres slave
	std::size_t chosen = 0;			   // index into candidates
	std::string chosen_by;			   // named, best
	Lsn promoted_from = kInvalidLsn;   // the WAL the chosen standby holds
	PossibleLoss loss;

	const Candidate &
	Chosen() const {
		return candidates[chosen];
	}
};

// What the run changed.
struct Changes {
	PromotionResult promotion;
	long long writable_ms = 0; // from the start of the run to the end of the promotion
	SwapResult swap;
	std::string synchronous_names; // the new primary's synchronous_standby_names
	std::vector<std::string> repointed;
	std::vector<std::pair<std::string, std::string>> not_repointed; // name, why
};

std::string
DetailJson(const Config &config, const Plan &plan, const Changes &changes, long long took_ms) {
	const Candidate &chosen = plan.Chosen();
	const std::optional<Lsn> master_lsn = plan.observations.MasterLsnAtLastObservation();
	std::string json =
		"{\"from\":" + JsonQuote(changes.swap.old_master.empty() ? plan.master->name : changes.swap.old_master) +
		",\"to\":" + JsonQuote(chosen.replica->name) + ",\"chosen_by\":" + JsonQuote(plan.chosen_by) +
		",\"allow_data_loss\":" + (config.allow_data_loss ? "true" : "false") +
		",\"gate\":{\"allows\":" + (chosen.gate.allows ? "true" : "false") +
		",\"lag_tolerance_ms\":" + std::to_string(chosen.replica->lag_tolerance_ms) +
		",\"reason\":" + JsonQuote(chosen.gate.reason) + ",\"last_observation\":" + ObservationJson(chosen.last) +
		"},\"topology_from\":" + JsonQuote(plan.topology.node) +
		",\"observations_from\":" + JsonQuote(plan.observations.node) +
		",\"master\":{\"name\":" + JsonQuote(plan.master->name) +
		",\"reachable\":" + (plan.master_probe.reachable ? "true" : "false") +
		",\"error\":" + TextJson(plan.master_probe.error) + ",\"lsn_at_last_observation\":" + LsnJson(master_lsn) +
		"},\"candidates\":[";
	for (std::size_t i = 0; i < plan.candidates.size(); ++i)
		json += (i == 0 ? "" : ",") + CandidateJson(plan.candidates[i]);
	const PromotionResult &promotion = changes.promotion;
	json += "],\"promoted_lsn\":" + LsnJson(plan.promoted_from) +
			",\"new_timeline\":" + (promotion.timeline ? std::to_string(*promotion.timeline) : std::string("null")) +
			",\"new_primary_lsn\":" + LsnJson(promotion.lsn) +
			",\"possible_loss\":{\"known_bytes\":" + std::to_string(plan.loss.known_bytes) +
			",\"most_advanced_lsn\":" + LsnJson(plan.loss.most_advanced_lsn) + ",\"beyond\":" +
			JsonQuote(plan.loss.beyond_unknown ? "unknown: the master could not be read; WAL it wrote after the last "
												 "observation and that no reachable standby received is not counted"
											   : "none: the master was read") +
			",\"text\":" + JsonQuote(plan.loss.text) + "},\"repointed\":[";
	for (std::size_t i = 0; i < changes.repointed.size(); ++i)
		json += (i == 0 ? "" : ",") + JsonQuote(changes.repointed[i]);
	json += "],\"not_repointed\":[";
	for (std::size_t i = 0; i < changes.not_repointed.size(); ++i)
		json += std::string(i == 0 ? "" : ",") + "{\"name\":" + JsonQuote(changes.not_repointed[i].first) +
				",\"reason\":" + JsonQuote(changes.not_repointed[i].second) + "}";
	json += "],\"synchronous_standby_names\":" + TextJson(changes.synchronous_names) +
			",\"promotion_ms\":" + std::to_string(promotion.took.count()) +
			",\"writable_after_ms\":" + std::to_string(changes.writable_ms) +
			",\"took_ms\":" + std::to_string(took_ms) + "}";
	return json;
}

// DescribeCandidate is a candidate's line: its WAL positions (or why it cannot be promoted) and the gate's verdict.
std::string
DescribeCandidate(const Candidate &candidate) {
	const NodeProbe &p = candidate.probe;
	std::string text = "  " + candidate.replica->name + ": ";
	if (candidate.problem.empty())
		text += "standby, received " + (p.receive_lsn ? FormatLsn(*p.receive_lsn) : std::string("-")) + ", replayed " +
				(p.replay_lsn ? FormatLsn(*p.replay_lsn) : std::string("-")) +
				(p.replay_paused ? " (replay paused)" : std::string()) + ", timeline " +
				(p.timeline ? std::to_string(*p.timeline) : std::string("?"));
	else
		text += candidate.problem;
	return text + "; gate (tolerance " + std::to_string(candidate.replica->lag_tolerance_ms) + " ms) " +
		   (candidate.gate.allows ? "allows it: " : "refuses it: ") + candidate.gate.reason;
}

// The run: its start, the step lines it prints, and its steps in order. Every step before Promote only reads
// and may refuse (Refused); from Promote on, the steps change the topology.
class Run {
  public:
	explicit Run(const Config &config) : config_(config), start_(Clock::now()) {}

	// Step prints "failover: [  0.123 s] text" on stdout, at once.
	void
	Step(const std::string &text) const {
		std::printf("failover: [%8.3f s] %s\n", Seconds(), MaskCredentialsInText(text).c_str());
		std::fflush(stdout);
	}

	double
	Seconds() const {
		return std::chrono::duration<double>(Clock::now() - start_).count();
	}

	long long
	Ms() const {
		return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
	}

	// Execute runs every step; returns the exit status, throws Refused or the failure of a step.
	asio::awaitable<int> Execute();

  private:
	asio::awaitable<void> ReadTopologyStep(Plan &plan);
	asio::awaitable<void> ProbeStep(Plan &plan);
	asio::awaitable<void> ObservationsStep(Plan &plan);
	void ChooseStep(Plan &plan);
	void LossStep(Plan &plan);
	asio::awaitable<void> RepointStep(const Plan &plan, Changes &changes);

	const Config &config_;
	Clock::time_point start_;
};

// ReadTopologyStep reads the topology from --source and refuses what cannot be failed over.
asio::awaitable<void>
Run::ReadTopologyStep(Plan &plan) {
	const std::string &project = config_.failover_project;
	const std::string source = config_.source.empty() ? std::string("the PG* environment") : config_.source;
	Step("reading the topology of project \"" + project + "\" from " + MaskCredentials(source));
	try {
		plan.topology = co_await ReadTopologyFrom(config_.source, project, std::chrono::milliseconds(5'000));
	} catch (...) {
		throw Refused("cannot read the topology of project \"" + project + "\": " + CurrentErrorText(),
					  "--source (or MOSTA_SOURCE_URI) must reach a live node of the project; it may name several "
					  "hosts (host=a,b port=5432,5433): any node's copy of the catalog serves.");
	}
	const Topology &topology = plan.topology;
	Step("topology read from " + topology.node +
		 (topology.node_in_recovery
			  ? " (a standby: its catalog as of its replay point " +
					(topology.node_replay_lsn ? FormatLsn(*topology.node_replay_lsn) : std::string("unknown")) + ")"
			  : std::string(" (a primary)")));
	plan.master = topology.Master();
	if (plan.master == nullptr)
		throw Refused("project \"" + project + "\" has no master in the catalog of " + topology.node,
					  "A failover replaces a dead master; declare one with mosta_add_replica.");
	if (plan.master->dialect != "postgres")
		throw Refused("the master of project \"" + project + "\" is a " + plan.master->dialect +
						  " replica: a failover promotes PostgreSQL standbys only",
					  "");
	if (!config_.failover_to.empty()) {
		const TopologyReplica *named = topology.Find(config_.failover_to);
		if (named == nullptr || named->role != "slave" || named->dialect != "postgres")
			throw Refused(
				"replica \"" + config_.failover_to + "\" is not a postgres slave of project \"" + project + "\"" +
					(named == nullptr ? std::string(" (no such replica)")
									  : " (it is a " + named->dialect + " " + named->role + ")"),
				named != nullptr && named->dialect == "sqlite"
					? "A SQLite replica takes the writes while the master is away with mosta-sidecar promote " +
						  project + " " + config_.failover_to +
						  " (docs/failover.md, \"Writes on a promoted SQLite replica\")."
					: "Name a postgres standby of the project (mosta_replica_status('" + project +
						  "') lists them), or leave --to out to choose the best one.");
	}
}

// ProbeStep probes the master and every postgres slave at once; refuses when the master is up.
asio::awaitable<void>
Run::ProbeStep(Plan &plan) {
	const std::string &project = config_.failover_project;
	std::vector<std::string> uris{plan.master->uri};
	for (const TopologyReplica &replica : plan.topology.replicas)
		if (replica.role == "slave" && replica.dialect == "postgres") {
			Candidate candidate;
			candidate.replica = &replica;
			plan.candidates.push_back(std::move(candidate));
			uris.push_back(replica.uri);
		}
	if (plan.candidates.empty())
		throw Refused("project \"" + project + "\" has no postgres slave to promote",
					  "Add a physical standby with mosta_add_replica(project, name, 'slave', 'postgres', uri).");
	Step("probing the master " + plan.master->name + " and " + std::to_string(plan.candidates.size()) + " standby(s)");
	std::vector<NodeProbe> probes = co_await ProbeNodes(uris);
	plan.master_probe = probes[0];
	if (plan.master_probe.reachable && !plan.master_probe.in_recovery)
		throw Refused("the master " + plan.master->name +
						  " is up: it accepts connections and is not in recovery, so a failover would make two "
						  "primaries",
					  "Use a switchover (mosta_switchover('" + project +
						  "', replica)) to move the master without losing writes; stop the master first if it must "
						  "be replaced by force.");
	Step(plan.master_probe.reachable
			 ? "master " + plan.master->name + " is reachable but in recovery: not a primary any more"
			 : "master " + plan.master->name + " is down (" + plan.master_probe.error + ")");
	for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
		plan.candidates[i].probe = probes[i + 1];
		plan.candidates[i].problem = CandidateProblem(probes[i + 1], plan.topology.node_system_identifier);
	}
}

// ObservationsStep reads the last observations from the reachable standby that replayed the most (its copy of
// the catalog is the freshest), and runs the gate on each candidate.
asio::awaitable<void>
Run::ObservationsStep(Plan &plan) {
	plan.observations = plan.topology;
	const Candidate *freshest = nullptr;
	for (const Candidate &candidate : plan.candidates)
		if (candidate.problem.empty() && candidate.probe.replay_lsn &&
			(freshest == nullptr || *candidate.probe.replay_lsn > *freshest->probe.replay_lsn))
			freshest = &candidate;
	const Topology &topology = plan.topology;
	if (freshest != nullptr && topology.node_in_recovery &&
		(!topology.node_replay_lsn || *freshest->probe.replay_lsn > *topology.node_replay_lsn)) {
		try {
			plan.observations = co_await ReadTopologyFrom(freshest->replica->uri, config_.failover_project);
			Step("last observations read from " + freshest->replica->name + " (" + plan.observations.node +
				 "), the standby that replayed the most (" + FormatLsn(*freshest->probe.replay_lsn) + ")");
		} catch (...) {
			Step("cannot read the catalog of " + freshest->replica->name + " (" + CurrentErrorText() +
				 "): the last observations are those of " + topology.node);
		}
	} else {
		Step("last observations read from " + topology.node);
	}
	for (Candidate &candidate : plan.candidates) {
		const TopologyReplica *seen = plan.observations.Find(candidate.replica->name);
		candidate.last = seen != nullptr ? seen->last : candidate.replica->last;
		candidate.gate = LagGate(candidate.replica->lag_tolerance_ms, candidate.last);
		Step(DescribeCandidate(candidate));
	}
}

// ChooseStep picks the named standby or the best eligible one, and applies the gate (or --allow-data-loss).
void
Run::ChooseStep(Plan &plan) {
	plan.chosen_by = config_.failover_to.empty() ? "best" : "named";
	if (!config_.failover_to.empty()) {
		for (std::size_t i = 0; i < plan.candidates.size(); ++i)
			if (plan.candidates[i].replica->name == config_.failover_to)
				plan.chosen = i;
		if (!plan.Chosen().problem.empty())
			throw Refused("cannot promote " + config_.failover_to + ": " + plan.Chosen().problem,
						  "A failover promotes a reachable physical standby of the project's cluster.");
	} else {
		std::vector<RankedCandidate> ranked;
		for (const Candidate &candidate : plan.candidates)
			if (candidate.problem.empty() && (candidate.gate.allows || config_.allow_data_loss))
				ranked.push_back(
					{candidate.replica->name, candidate.probe.MostAdvancedLsn(), candidate.last.sync_state});
		if (ranked.empty()) {
			std::string why;
			for (const Candidate &candidate : plan.candidates)
				why += "; " + candidate.replica->name + ": " +
					   (candidate.problem.empty() ? candidate.gate.reason : candidate.problem);
			throw Refused("no standby of project \"" + config_.failover_project +
							  "\" can be promoted without losing data" + why,
						  config_.allow_data_loss
							  ? "No standby is reachable: start one, then run the failover again."
							  : "--allow-data-loss promotes the most advanced reachable standby anyway: acknowledged "
								"commits may be lost.");
		}
		std::sort(ranked.begin(), ranked.end(), BetterCandidate);
		for (std::size_t i = 0; i < plan.candidates.size(); ++i)
			if (plan.candidates[i].replica->name == ranked.front().name)
				plan.chosen = i;
		Step("best eligible standby: " + ranked.front().name +
			 " (the most advanced WAL, then synchronous first, then by name)");
	}
	const Candidate &chosen = plan.Chosen();
	if (!chosen.gate.allows) {
		if (!config_.allow_data_loss)
			throw Refused("refusing to promote " + chosen.replica->name + ": " + chosen.gate.reason,
						  "Acknowledged commits may be missing on " + chosen.replica->name +
							  ". Promote a standby that the gate allows, or run again with --allow-data-loss to "
							  "accept the loss.");
		Step("WARNING: promoting " + chosen.replica->name +
			 " past the lag gate (--allow-data-loss): " + chosen.gate.reason);
	}
}

// LossStep estimates the possible loss and names the standbys that hold more WAL than the chosen one.
void
Run::LossStep(Plan &plan) {
	const Candidate &chosen = plan.Chosen();
	plan.promoted_from = chosen.probe.MostAdvancedLsn();
	std::vector<Lsn> seen;
	for (const Candidate &candidate : plan.candidates) {
		if (!candidate.probe.reachable)
			continue;
		const Lsn lsn = candidate.probe.MostAdvancedLsn();
		seen.push_back(lsn);
		if (&candidate != &chosen && candidate.probe.in_recovery && lsn > plan.promoted_from)
			Step("WARNING: " + candidate.replica->name + " holds " + std::to_string(lsn - plan.promoted_from) +
				 " bytes of WAL more than " + chosen.replica->name +
				 ": it cannot follow the new primary without pg_rewind or a new base backup");
	}
	if (plan.master_probe.reachable)
		seen.push_back(plan.master_probe.MostAdvancedLsn());
	plan.loss = EstimateLoss(plan.promoted_from, seen, plan.observations.MasterLsnAtLastObservation(),
							 plan.master_probe.reachable);
	Step("possible loss: " + plan.loss.text);
}

// RepointStep points every other reachable standby at the new primary; one that cannot be is listed, not fatal.
asio::awaitable<void>
Run::RepointStep(const Plan &plan, Changes &changes) {
	const Candidate &chosen = plan.Chosen();
	for (const Candidate &candidate : plan.candidates) {
		if (&candidate == &chosen)
			continue;
		const std::string &name = candidate.replica->name;
		if (!candidate.problem.empty()) {
			changes.not_repointed.emplace_back(name, candidate.problem);
			Step("not repointing " + name + ": " + candidate.problem);
			continue;
		}
		std::string error;
		try {
			co_await RepointStandby(candidate.replica->uri, chosen.replica->uri, name);
		} catch (...) {
			error = CurrentErrorText();
		}
		if (error.empty()) {
			changes.repointed.push_back(name);
			Step("repointed " + name + " at " + chosen.replica->name + " (primary_conninfo, reload)");
		} else {
			changes.not_repointed.emplace_back(name, error);
			Step("could not repoint " + name + ": " + error);
		}
	}
}

asio::awaitable<int>
Run::Execute() {
	const std::string &project = config_.failover_project;
	Plan plan;
	co_await ReadTopologyStep(plan);
	co_await ProbeStep(plan);
	co_await ObservationsStep(plan);
	ChooseStep(plan);
	LossStep(plan);

	// from here on the topology changes
	const TopologyReplica &target = *plan.Chosen().replica;
	Changes changes;
	Step("promoting " + target.name + " (pg_promote)");
	changes.promotion = co_await PromoteStandby(target.uri);
	changes.writable_ms = Ms();
	const PromotionResult &promotion = changes.promotion;
	Step(target.name + " is a primary (timeline " +
		 (promotion.timeline ? std::to_string(*promotion.timeline) : std::string("?")) + ", WAL at " +
		 (promotion.lsn ? FormatLsn(*promotion.lsn) : std::string("?")) + "): promotion took " +
		 std::to_string(promotion.took.count()) + " ms");

	// the new primary's catalog is the one that counts now
	PgConnection primary(co_await asio::this_coro::executor);
	const std::string connecting = "connecting to the new primary " + target.name;
	co_await WithTimeout(primary.Connect(target.uri, ConnectionKind::Sql), std::chrono::milliseconds(10'000),
						 connecting);
	changes.swap = co_await SwapMaster(primary, project, target.name);
	Step("catalog on " + target.name + ": " + target.name + " is the master of \"" + project + "\"" +
		 (changes.swap.old_master.empty() ? std::string()
										  : ", " + changes.swap.old_master + " a slave (down until it rejoins)"));
	const std::string names_sql = "SELECT current_setting('synchronous_standby_names')";
	PgResultHandle names = co_await primary.Exec("reading synchronous_standby_names", names_sql);
	changes.synchronous_names = PQgetisnull(names.get(), 0, 0) ? "" : PQgetvalue(names.get(), 0, 0);
	if (!changes.synchronous_names.empty())
		Step("NOTE: synchronous_standby_names on " + target.name + " is '" + changes.synchronous_names +
			 "': its commits wait until such a standby streams from it");

	co_await RepointStep(plan, changes);

	const std::string action = "failover";
	const std::string detail = DetailJson(config_, plan, changes, Ms());
	long long id = co_await LogActivity(primary, action, project, target.name, detail);
	Step("activity row " + std::to_string(id) + " (failover) written on " + target.name);
	std::printf("failover: done in %lld ms: %s is the master of \"%s\" (writable after %lld ms; promotion %lld ms)\n",
				Ms(), target.name.c_str(), project.c_str(), changes.writable_ms,
				static_cast<long long>(promotion.took.count()));
	std::fflush(stdout);
	// a standby left unrepointed is printed and in the activity row: the failover itself is done
	co_return 0;
}

// Failover runs Run::Execute and turns a refusal or a failure into an exit status and a message on stderr.
asio::awaitable<int>
Failover(const Config &config) {
	Run run(config);
	try {
		co_return co_await run.Execute();
	} catch (const Refused &refused) {
		std::fprintf(stderr, "mosta-sidecar: failover refused: %s\n", MaskCredentialsInText(refused.what()).c_str());
		if (!refused.Hint().empty())
			std::fprintf(stderr, "HINT: %s\n", refused.Hint().c_str());
		std::fprintf(stderr, "mosta-sidecar: nothing was changed\n");
	} catch (...) {
		std::fprintf(stderr, "mosta-sidecar: failover failed after %.3f s: %s\n", run.Seconds(),
					 CurrentErrorText().c_str());
		std::fprintf(stderr, "HINT: the steps printed above were done; see docs/failover.md (\"When a failover "
							 "fails half-way\").\n");
	}
	co_return 1;
}

} // namespace

int
RunFailover(asio::io_context &context, const Config &config) {
	return RunToExit(context, Failover(config));
}

} // namespace mosta::sidecar::ha
