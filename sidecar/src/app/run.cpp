/*
 * run.cpp
 *     The supervisor (see run.hpp).
 */
#include "app/run.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/bidir_reverse.hpp"
#include "app/catalog.hpp"
#include "app/log.hpp"
#include "app/rule_leases.hpp"
#include "app/rule_runner.hpp"
#include "app/standby_watch.hpp"
#include "app/topology_tree.hpp"
#include "app/ttl.hpp"
#include "mosta/common/canonical_row.hpp"
#include "pg/errors.hpp"
#include "util/backoff.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

// A rule the supervisor runs (or ran): its plan, and the flags it shares with its coroutine.
struct RuleTask {
	RulePlan plan;
	std::string fingerprint; // what, when it changes, needs a new slot and a new copy of every target
	std::map<std::string, std::string> targets; // "project.replica" -> TargetFingerprint
	std::set<std::string> recopy;				// targets whose replica changed: copied again
	std::set<std::string> promoted;				// "project.replica" of its SQLite targets promoted at its start
	bool stop = false;							// asks the runner to finish the transaction in flight and return
	bool running = true;
	int coroutines = 0;	 // the rule's and its reverse directions' coroutines still running (running while > 0)
	bool failed = false; // ended on an error it will not retry (fatal, or --once)
	bool lost = false;	 // --dcs: its lease is not ours any more: stopped without writing a status (the new
						 // holder writes it)
};

// The supervisor's shared state, on the io_context's one thread.
struct State {
	const Config &config;
	asio::signal_set &signals;
	bool stop = false;
	bool failed = false;
	bool reload = false;				// SIGHUP: read the catalog now and retry the rules that stopped on an error
	asio::steady_timer *wake = nullptr; // the supervisor's timer: cancelled when a rule ends or a signal comes
	std::map<std::string, RuleProgress> progress;			// by rule
	std::map<std::string, std::shared_ptr<RuleTask>> tasks; // by rule
	std::set<std::string> reported;							// "rule\nerror" already written for rules that cannot run
	bool supervised = false;								// the supervisor returned: the standby watch ends too
	RuleLeases *leases = nullptr; // --dcs: only the rules whose lease this sidecar holds run (app/rule_leases.hpp)
	bool leases_changed = false;  // --dcs: the owned rules changed: reconcile now
	bool standby_stop = false;	  // --dcs: the standby watch ends (the supervisor returned, or leadership lost)
};

// Fingerprint spells what a running rule's slot depends on: a change means a new slot and a new copy.
std::string
Fingerprint(const RulePlan &plan) {
	std::string text = plan.mode + '\n' + plan.source_project + '\n';
	for (const std::string &collection : plan.collections)
		text += collection + ',';
	return text;
}

// TargetFingerprint spells what one target depends on: a change means a new copy of that target.
std::string
TargetFingerprint(const ReplicaInfo &target) {
	return target.dialect + '\n' + target.uri;
}

// TargetFingerprints maps each target of plan ("project.replica") to its TargetFingerprint.
std::map<std::string, std::string>
TargetFingerprints(const RulePlan &plan) {
	std::map<std::string, std::string> targets;
	for (const ReplicaInfo &target : plan.targets)
		targets[target.project + "." + target.name] = TargetFingerprint(target);
	return targets;
}

// PolicyChanged tells whether the catalog's rule resolves conflicts otherwise than the running task: the rule is
// restarted (stopped and started again, slot and targets kept) to take it.
bool
PolicyChanged(const RulePlan &plan, const RuleTask &task) {
	return plan.conflict_resolution != task.plan.conflict_resolution;
}

// PromotedTargets lists ("project.replica") the SQLite targets of a cdc rule whose file holds a promotion
// (docs/failover.md, "Writes on a promoted SQLite replica"): Spawn runs those as bidirectional, so a promotion or a
// switch-back made while the rule runs (a daemon that ran through the outage) restarts the rule to take it.
std::set<std::string>
PromotedTargets(const RulePlan &plan, const std::string &data_dir) {
	std::set<std::string> promoted;
	if (plan.mode != "cdc")
		return promoted;
	for (const ReplicaInfo &target : plan.targets)
		if (target.dialect == "sqlite" && SqliteFilePromoted(data_dir, target))
			promoted.insert(target.project + "." + target.name);
	return promoted;
}

// Running counts the tasks whose coroutine has not returned.
int
Running(const State &state) {
	int running = 0;
	for (const auto &[key, task] : state.tasks)
		running += task->running ? 1 : 0;
	return running;
}

// SleepUnlessStopped waits for delay, in steps of the poll interval so that a stop request is seen, writing the
// runner's status at each status interval (the retained WAL of a failing target keeps being reported).
asio::awaitable<void>
SleepUnlessStopped(State &state, RuleTask &task, RuleRunner &runner, std::chrono::milliseconds delay) {
	asio::steady_timer timer(co_await asio::this_coro::executor);
	auto until = std::chrono::steady_clock::now() + delay;
	auto next_status = std::chrono::steady_clock::now() + state.config.status_interval;
	while (!task.stop && std::chrono::steady_clock::now() < until) {
		timer.expires_at(std::min(until, std::chrono::steady_clock::now() + state.config.poll_interval));
		co_await timer.async_wait(asio::use_awaitable);
		if (std::chrono::steady_clock::now() >= next_status) {
			co_await runner.RefreshStatus();
			next_status = std::chrono::steady_clock::now() + state.config.status_interval;
		}
	}
}

// IsFatal tells whether an exception is one that retrying cannot fix.
bool
IsFatal(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const PgError &e) {
		return e.Class() == ErrorClass::Fatal;
	} catch (...) {
		return false;
	}
}

// A run that lasted this long was healthy: the next failure is a new outage, not the same one retried.
constexpr std::chrono::seconds kHealthyRun{30};

// SuperviseRule runs one rule until it finishes, is stopped, or fails for good. A failing target of the rule is
// the runner's to retry (the others keep streaming); a failure of the rule itself (its slot, its stream, the
// source) ends the run and is retried here with backoff.
asio::awaitable<void>
SuperviseRule(State &state, std::shared_ptr<RuleTask> task) {
	Backoff backoff(BackoffPolicy{});
	RuleProgress &progress = state.progress[task->plan.name];
	for (;;) {
		RuleRunner runner(co_await asio::this_coro::executor, state.config, task->plan, &task->stop, progress,
						  task->recopy);
		std::exception_ptr error;
		auto started = std::chrono::steady_clock::now();
		try {
			co_await runner.Run();
		} catch (...) {
			error = std::current_exception();
		}
		if (runner.TargetFailed()) {
			task->failed = true;
			state.failed = true;
		}
		if (task->lost) {
			// another sidecar holds its lease now: it writes the status from here on
			LogLine("rule " + task->plan.name + ": stopped, its lease is not this sidecar's any more" +
					(error ? ": " + DescribeError(error) : std::string()));
			co_return;
		}
		if (!error) {
			task->recopy.clear();
			if (task->stop && !state.stop)
				co_await runner.Pause();
			else if (state.stop || state.config.once)
				co_await runner.MarkStopped();
			co_return;
		}
		std::string text = DescribeError(error);
		if (task->stop && !state.stop) {
			// removed or changed under it: its rows may be gone with the rule, nothing to report
			LogLine("rule " + task->plan.name + ": stopped on: " + text);
			co_return;
		}
		co_await runner.ReportError(text);
		if (state.config.once || IsFatal(error) || task->stop) {
			task->failed = !task->stop || state.config.once;
			state.failed = state.failed || task->failed;
			co_return;
		}
		if (std::chrono::steady_clock::now() - started > kHealthyRun)
			backoff.Reset();
		std::chrono::milliseconds delay = backoff.NextDelay();
		LogLine("rule " + task->plan.name + ": retrying in " + std::to_string(delay.count()) + " ms");
		co_await SleepUnlessStopped(state, *task, runner, delay);
		if (task->stop)
			co_return;
	}
}

// Spawn starts the coroutine of task, and those of its reverse directions (app/bidir_reverse.hpp): one per side
// of a bidirectional rule, and one per SQLite target of a cdc rule that is promoted (docs/failover.md). The task
// is running until all of them returned.
void
Spawn(State &state, const asio::any_io_executor &executor, std::shared_ptr<RuleTask> task) {
	LogLine("rule " + task->plan.name + ": starting (" + task->plan.mode + ", " +
			std::to_string(task->plan.targets.size()) + " target(s), slot " + RuleSlotName(task->plan.name) + ")");
	state.tasks[task->plan.name] = task;
	auto ended = [&state, task](std::exception_ptr error) {
		if (--task->coroutines == 0)
			task->running = false;
		if (state.wake != nullptr)
			state.wake->cancel();
		if (error) {
			LogLine("supervisor: " + DescribeError(error));
			task->failed = true;
			state.failed = true;
		}
	};
	++task->coroutines;
	asio::co_spawn(executor, SuperviseRule(state, task), ended);
	if (task->plan.mode == "snapshot")
		return;
	for (const ReplicaInfo &target : task->plan.targets) {
		bool promoted = target.dialect == "sqlite" && SqliteFilePromoted(state.config.data_dir, target);
		if (!task->plan.Bidirectional() && !promoted)
			continue;
		++task->coroutines;
		asio::co_spawn(executor,
					   SuperviseReverse(state.config, task->plan, target, &task->stop, state.progress[task->plan.name],
										&task->failed),
					   [&state, task, ended](std::exception_ptr error) {
						   state.failed = state.failed || task->failed;
						   ended(error);
					   });
	}
}

// LostRunning tells whether a rule stopped for a lost lease still runs.
bool
LostRunning(const State &state) {
	for (const auto &[rule, task] : state.tasks)
		if (task->running && task->lost)
			return true;
	return false;
}

// StopUnowned stops at once (task->stop: the transaction in flight finishes, then the runner returns) every rule
// running here whose lease this sidecar does not hold any more (--dcs).
void
StopUnowned(State &state) {
	for (auto &[rule, task] : state.tasks) {
		if (!task->running || task->stop || state.leases->Owns(rule))
			continue;
		LogLine("rule " + rule + ": its lease is not held any more, stopping");
		task->lost = true;
		task->stop = true;
	}
}

// TakeOver prepares the start of a rule whose lease this sidecar just took (--dcs): a walsender still holding the
// rule's slot belongs to the former holder (frozen, or dead without its connection noticed yet): it is terminated
// rather than waited for (the runner would back off for up to tens of seconds); logged, with an activity row
// rule_takeover {rule, from, to, terminated_pid} when there was a former holder or a walsender. Never throws: a
// slot it cannot free is the runner's to retry.
asio::awaitable<void>
TakeOver(State &state, PgConnection &conn, const std::string &rule) {
	std::string from = state.leases->TakeFormerHolder(rule);
	const std::string slot = RuleSlotName(rule);
	std::string pid;
	try {
		const std::string sql =
			"SELECT active_pid, pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots WHERE slot_name = " +
			SqlLiteral(conn, slot) + " AND active_pid IS NOT NULL AND active_pid <> pg_backend_pid()";
		PgResultHandle result = co_await conn.Exec("terminating the former holder's walsender of slot " + slot, sql);
		if (PQntuples(result.get()) > 0) {
			pid = PQgetvalue(result.get(), 0, 0);
			bool gone = std::string(PQgetvalue(result.get(), 0, 1)) == "t";
			LogLine("rule " + rule + ": slot " + slot + " was still active for walsender pid " + pid +
					(from.empty() ? std::string() : " (former holder " + from + ")") +
					(gone ? ": terminated" : ": terminate requested, not gone within 5 s"));
		}
		if (from.empty() && pid.empty())
			co_return;
		LogLine("rule " + rule + ": taken over" + (from.empty() ? std::string() : " from " + from) + " by " +
				state.leases->Name());
		const std::string detail = "{\"rule\":" + JsonQuote(rule) +
								   ",\"from\":" + (from.empty() ? std::string("null") : JsonQuote(from)) +
								   ",\"to\":" + JsonQuote(state.leases->Name()) +
								   ",\"terminated_pid\":" + (pid.empty() ? std::string("null") : pid) + "}";
		co_await LogActivity(conn, "rule_takeover", rule, detail);
	} catch (const std::exception &e) {
		LogLine("rule " + rule + ": takeover: " + e.what());
	}
}

// DropSlotIfIdle drops slot unless a walsender still holds it (then the next poll tries again); true when gone.
asio::awaitable<bool>
DropSlotIfIdle(PgConnection &conn, const std::string &slot, const std::string &why) {
	const std::string sql = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = " +
							SqlLiteral(conn, slot) + " AND NOT active";
	const std::string context = "dropping slot " + slot;
	PgResultHandle result = co_await conn.Exec(context, sql);
	SlotState left = co_await ReadSlotState(conn, slot);
	if (PQntuples(result.get()) > 0)
		LogLine("dropped slot " + slot + ": " + why);
	co_return !left.exists;
}

// DropOrphanSlots drops this database's inactive mosta slots that no rule of the catalog can own any more: the
// rule was removed, so nobody will consume them and they would retain WAL forever. The per-target slots of 0.2.0
// of a rule that still exists are its runner's to migrate, not orphans.
asio::awaitable<void>
DropOrphanSlots(PgConnection &conn, const std::vector<RulePlan> &plans) {
	const std::string replicas_sql = "SELECT project, name FROM mosta.replicas";
	PgResultHandle replicas = co_await conn.Exec("reading mosta.replicas", replicas_sql);
	std::set<std::string> owned;
	for (const RulePlan &plan : plans) {
		owned.insert(RuleSlotName(plan.name));
		for (int row = 0; row < PQntuples(replicas.get()); ++row)
			owned.insert(SlotName(plan.name, PQgetvalue(replicas.get(), row, 0), PQgetvalue(replicas.get(), row, 1)));
	}
	const std::string slots_sql = "SELECT slot_name FROM pg_replication_slots WHERE plugin = 'mostajs' AND NOT active"
								  " AND NOT temporary AND database = current_database()";
	PgResultHandle slots = co_await conn.Exec("listing the mosta slots", slots_sql);
	for (int row = 0; row < PQntuples(slots.get()); ++row) {
		std::string slot = PQgetvalue(slots.get(), row, 0);
		if (IsMostaSlot(slot) && owned.count(slot) == 0)
			co_await DropSlotIfIdle(conn, slot, "no rule of the catalog owns it any more");
	}
}

// Reconcile makes the running rules match the catalog: starts the new ones, stops those disabled or removed,
// restarts those whose targets changed (a changed replica is copied again alone) or whose rule changed (new slot,
// new copy of every target), and reports the rules that cannot run.
asio::awaitable<void>
Reconcile(State &state, PgConnection &conn) {
	std::vector<RulePlan> plans = co_await LoadRulePlans(conn);
	std::map<std::string, const RulePlan *> desired;
	for (const RulePlan &plan : plans) {
		if (!plan.enabled)
			continue;
		if (!plan.error.empty()) {
			if (state.reported.insert(plan.name + '\n' + plan.error).second) {
				LogLine("rule " + plan.name + ": error: " + plan.error);
				RuleStatus status;
				status.status = "error";
				status.last_error = plan.error;
				co_await WriteRuleStatus(conn, plan.name, status);
			}
			continue;
		}
		if (plan.mode == "snapshot" && plan.stats_status == "done")
			continue;
		desired[plan.name] = &plan;
	}
	// --dcs: race for what this sidecar would run (or still runs); run only what it holds
	std::set<std::string> unowned;
	if (state.leases != nullptr) {
		std::set<std::string> wanted;
		for (const auto &[rule, plan] : desired)
			wanted.insert(rule);
		for (const auto &[rule, task] : state.tasks)
			if (task->running)
				wanted.insert(rule);
		state.leases->SetWanted(std::move(wanted));
		for (auto it = desired.begin(); it != desired.end();) {
			if (state.leases->Owns(it->first)) {
				++it;
				continue;
			}
			unowned.insert(it->first);
			it = desired.erase(it);
		}
	}
	// stop what is no longer wanted, as it is
	for (auto &[rule, task] : state.tasks) {
		auto wanted = desired.find(rule);
		bool promotion =
			wanted != desired.end() && PromotedTargets(*wanted->second, state.config.data_dir) != task->promoted;
		bool changed = wanted != desired.end() &&
					   (Fingerprint(*wanted->second) != task->fingerprint ||
						TargetFingerprints(*wanted->second) != task->targets || PolicyChanged(*wanted->second, *task));
		if (wanted == desired.end() && unowned.count(rule) != 0 && task->running && !task->stop) {
			LogLine("rule " + rule + ": its lease is not held any more, stopping");
			task->lost = true;
			task->stop = true;
		}
		if ((wanted == desired.end() || changed || promotion) && task->running && !task->stop) {
			LogLine("rule " + rule +
					(changed	 ? ": rule or its replicas changed, restarting"
					 : promotion ? ": a SQLite target was promoted or switched back, restarting"
								 : ": rule disabled or removed, stopping"));
			task->stop = true;
		}
	}
	// forget the stopped tasks; a changed rule's old slot goes before its new run
	std::map<std::string, std::set<std::string>> recopy;
	for (auto it = state.tasks.begin(); it != state.tasks.end();) {
		auto &[rule, task] = *it;
		auto wanted = desired.find(rule);
		bool rule_changed = wanted != desired.end() && Fingerprint(*wanted->second) != task->fingerprint;
		bool targets_changed = wanted != desired.end() && TargetFingerprints(*wanted->second) != task->targets;
		bool retry = state.reload && task->failed;
		// a new conflict_resolution restarts the rule with its slot and its targets as they are
		bool policy_changed = wanted != desired.end() && PolicyChanged(*wanted->second, *task);
		// a promotion or a switch-back of a SQLite target too (PromotedTargets)
		bool promotion_changed =
			wanted != desired.end() && PromotedTargets(*wanted->second, state.config.data_dir) != task->promoted;
		// a task stopped for a change is started again even when the change was undone meanwhile (a switch-back
		// then a new promotion before it ended)
		bool stopped = task->stop;
		if (task->running || (wanted != desired.end() && !rule_changed && !targets_changed && !retry &&
							  !policy_changed && !promotion_changed && !stopped)) {
			++it;
			continue;
		}
		if (rule_changed && !co_await DropSlotIfIdle(conn, RuleSlotName(rule), "its rule changed")) {
			++it;
			continue;
		}
		if (wanted != desired.end()) {
			std::map<std::string, std::string> now = TargetFingerprints(*wanted->second);
			RuleProgress &progress = state.progress[rule];
			for (const auto &[name, fingerprint] : task->targets) {
				auto found = now.find(name);
				if (found != now.end() && found->second != fingerprint && !rule_changed)
					recopy[rule].insert(name);
			}
			for (const ReplicaInfo &target : wanted->second->targets) {
				auto old = task->targets.find(target.project + "." + target.name);
				if (rule_changed || (old != task->targets.end() && old->second != TargetFingerprint(target)))
					progress.targets.erase({target.project, target.name});
			}
			recopy[rule].insert(task->recopy.begin(), task->recopy.end());
		}
		it = state.tasks.erase(it);
	}
	for (auto &[rule, progress] : state.progress) {
		auto wanted = desired.find(rule);
		for (auto it = progress.targets.begin(); it != progress.targets.end();) {
			bool known = false;
			if (wanted != desired.end())
				for (const ReplicaInfo &target : wanted->second->targets)
					known = known || (target.project == it->first.first && target.name == it->first.second);
			known = known || state.tasks.count(rule) != 0;
			it = known ? std::next(it) : progress.targets.erase(it);
		}
	}
	state.reload = false;
	auto executor = co_await asio::this_coro::executor;
	for (auto &[rule, plan] : desired) {
		if (state.tasks.count(rule) != 0)
			continue;
		auto task = std::make_shared<RuleTask>();
		task->plan = *plan;
		task->fingerprint = Fingerprint(*plan);
		task->targets = TargetFingerprints(*plan);
		task->recopy = recopy[rule];
		task->promoted = PromotedTargets(*plan, state.config.data_dir);
		if (state.leases != nullptr)
			co_await TakeOver(state, conn, rule);
		Spawn(state, executor, task);
	}
	if (!state.config.once)
		co_await DropOrphanSlots(conn, plans);
}

// PollCatalog reconciles with the catalog, writes the heartbeat and the tree when due, and runs the TTL pass
// (app/ttl.hpp). A lost catalog connection (a PostgreSQL restart) must not end the daemon while its targets
// reconnect on their own: it is logged and reconnected at the next poll, so the status interval paces the retries.
asio::awaitable<void>
PollCatalog(State &state, PgConnection &conn, bool heartbeat) {
	std::exception_ptr error;
	try {
		if (conn.Get() == nullptr)
			co_await conn.Connect(state.config.source, ConnectionKind::Sql);
		co_await Reconcile(state, conn);
		if (heartbeat) {
			const std::string heartbeat_sql = "SELECT mosta_heartbeat()";
			co_await conn.Exec("writing a heartbeat", heartbeat_sql);
		}
		if (!state.config.tree_path.empty())
			co_await WriteTopologyTree(conn, state.config.tree_path, state.config.data_dir);
		// --dcs: once per catalog, by the leading sidecar
		if (state.config.ttl_batch > 0 && (state.leases == nullptr || state.leases->Leads()))
			co_await RunTtlPass(conn, state.config.ttl_batch);
	} catch (...) {
		error = std::current_exception();
	}
	if (error) {
		LogLine("catalog: " + DescribeError(error) + "; trying again at the next poll");
		conn.Close();
	}
}

// Supervise connects to the catalog, starts the targets and, unless --once, keeps them in step with the catalog.
asio::awaitable<void>
Supervise(State &state) {
	PgConnection conn(co_await asio::this_coro::executor);
	co_await conn.Connect(state.config.source, ConnectionKind::Sql);
	LogLine("connected to the source " + std::string(PQdb(conn.Get())) + " on " + PQhost(conn.Get()) + ":" +
			PQport(conn.Get()));
	co_await Reconcile(state, conn);
	if (Running(state) == 0)
		LogLine("no rule to run");
	asio::steady_timer timer(co_await asio::this_coro::executor);
	state.wake = &timer;
	struct ForgetTimer {
		State &state;
		~ForgetTimer() {
			state.wake = nullptr;
		}
	} forget_timer{state};
	using Clock = std::chrono::steady_clock;
	Clock::time_point next_poll = Clock::now() + state.config.status_interval;
	Clock::time_point next_heartbeat = Clock::now() + state.config.heartbeat_interval;
	for (;;) {
		if ((state.config.once || state.stop) && Running(state) == 0)
			break;
		timer.expires_after(std::min(state.config.status_interval, state.config.poll_interval));
		boost::system::error_code cancelled; // a target ended or a signal came: look now
		co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
		// --dcs: the rules stopped for a lost lease have all ended: their batches can no longer be committed
		if (state.leases != nullptr && state.leases->Holding() && !LostRunning(state)) {
			state.leases->ResumeActing();
			state.leases_changed = true;
		}
		if (state.config.once || state.stop || (Clock::now() < next_poll && !state.reload && !state.leases_changed))
			continue;
		state.leases_changed = false;
		bool heartbeat =
			state.config.heartbeat_interval.count() > 0 && Clock::now() >= next_heartbeat && Running(state) > 0;
		co_await PollCatalog(state, conn, heartbeat);
		next_poll = Clock::now() + state.config.status_interval;
		if (heartbeat)
			next_heartbeat = Clock::now() + state.config.heartbeat_interval;
	}
	if (!state.config.tree_path.empty() && conn.IsOpen()) {
		try {
			co_await WriteTopologyTree(conn, state.config.tree_path, state.config.data_dir);
		} catch (const std::exception &e) {
			LogLine("could not write the topology tree: " + std::string(e.what()));
		}
	}
}

// WatchStandbysWhileLeading runs the standby watch (app/standby_watch.hpp) while this sidecar leads (--dcs): one
// sidecar writes mosta.replica_status, not every one.
asio::awaitable<void>
WatchStandbysWhileLeading(State &state) {
	asio::steady_timer timer(co_await asio::this_coro::executor);
	while (!state.supervised) {
		if (state.leases->Leads()) {
			state.standby_stop = false;
			co_await WatchStandbys(state.config, &state.standby_stop);
			continue;
		}
		timer.expires_after(state.config.poll_interval);
		boost::system::error_code ignored;
		co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
	}
}

// WaitSignals: SIGHUP asks for a catalog reload; the first SIGINT/SIGTERM stops every target, the second exits.
void
WaitSignals(State &state) {
	state.signals.async_wait([&state](const boost::system::error_code &error, int number) {
		if (error)
			return; // cancelled at the end of the run
		if (state.wake != nullptr)
			state.wake->cancel();
		if (number == SIGHUP) {
			LogLine("SIGHUP: reading the catalog now");
			state.reload = true;
			WaitSignals(state);
			return;
		}
		if (state.stop) {
			LogLine("second signal: exiting at once");
			std::_Exit(1);
		}
		LogLine("signal " + std::to_string(number) + ": stopping (finishing the transaction in flight)");
		state.stop = true;
		for (auto &[key, task] : state.tasks)
			task->stop = true;
		WaitSignals(state);
	});
}

} // namespace

int
Run(asio::io_context &context, asio::signal_set &signals, const Config &config) {
	State state{config, signals, false, false, false, nullptr, {}, {}, {}};
	// --dcs: a change of the owned rules stops at once the rules lost and wakes the supervisor to start those won
	std::unique_ptr<RuleLeases> leases;
	if (!config.dcs.empty()) {
		leases = std::make_unique<RuleLeases>(context.get_executor(), config, [&state] {
			StopUnowned(state);
			state.standby_stop = state.supervised || !state.leases->Leads();
			state.leases_changed = true;
			if (state.wake != nullptr)
				state.wake->cancel();
		});
		state.leases = leases.get();
		asio::co_spawn(context, leases->Run(), [](std::exception_ptr error) {
			if (error)
				LogLine("dcs: " + DescribeError(error));
		});
	}
	WaitSignals(state);
	asio::co_spawn(context, Supervise(state), [&state](std::exception_ptr error) {
		if (error) {
			LogLine("stopping: " + DescribeError(error));
			state.failed = true;
		}
		state.supervised = true;
		state.standby_stop = true;
		state.signals.cancel();
		// the rules have stopped: revoke the lease, so that the other sidecars take them at once
		if (state.leases != nullptr)
			state.leases->Finish();
	});
	// the PostgreSQL standbys are watched by the daemon only (app/standby_watch.hpp); it never throws
	auto watched = [](std::exception_ptr error) {
		if (error)
			LogLine("standbys: " + DescribeError(error));
	};
	if (!config.once && state.leases == nullptr)
		asio::co_spawn(context, WatchStandbys(config, &state.supervised), watched);
	else if (!config.once)
		asio::co_spawn(context, WatchStandbysWhileLeading(state), watched);
	context.run();
	LogLine(state.failed ? "exiting after a failure" : "exiting");
	return state.failed ? 1 : 0;
}

} // namespace mosta::sidecar
