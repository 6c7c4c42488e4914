/*
 * run.cpp
 *     The supervisor (see run.hpp).
 */
#include "app/run.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "app/rule_runner.hpp"
#include "pg/errors.hpp"
#include "util/backoff.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

// The supervisor's shared state, on the io_context's one thread.
struct State {
	const Config &config;
	asio::signal_set &signals;
	bool stop = false;
	bool failed = false;
	int running = 0;
	std::set<std::string> started;
};

// SleepUnlessStopped waits for delay, in steps of the poll interval so that a stop request is seen.
asio::awaitable<void>
SleepUnlessStopped(State &state, std::chrono::milliseconds delay) {
	asio::steady_timer timer(co_await asio::this_coro::executor);
	auto until = std::chrono::steady_clock::now() + delay;
	while (!state.stop && std::chrono::steady_clock::now() < until) {
		timer.expires_at(std::min(until, std::chrono::steady_clock::now() + state.config.poll_interval));
		co_await timer.async_wait(asio::use_awaitable);
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

// Describe returns what() of an exception.
std::string
Describe(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unknown error";
	}
}

// A rule run that lasted this long was healthy: the next failure is a new outage, not the same one retried.
constexpr std::chrono::seconds kHealthyRun{30};

// SuperviseRule runs plan until it finishes, stops, or fails for good.
asio::awaitable<void>
SuperviseRule(State &state, RulePlan plan) {
	Backoff backoff(BackoffPolicy{});
	for (;;) {
		RuleRunner runner(co_await asio::this_coro::executor, state.config, plan, &state.stop);
		std::exception_ptr error;
		auto started = std::chrono::steady_clock::now();
		try {
			co_await runner.Run();
			co_return;
		} catch (...) {
			error = std::current_exception();
		}
		std::string text = Describe(error);
		co_await runner.ReportError(text);
		if (state.config.once || IsFatal(error) || state.stop) {
			state.failed = state.failed || !state.stop || state.config.once;
			co_return;
		}
		/* a run that streamed for a while ended in a new outage: start the backoff over */
		if (std::chrono::steady_clock::now() - started > kHealthyRun)
			backoff.Reset();
		std::chrono::milliseconds delay = backoff.NextDelay();
		LogLine("rule " + plan.name + ": retrying in " + std::to_string(delay.count()) + " ms");
		co_await SleepUnlessStopped(state, delay);
		if (state.stop)
			co_return;
	}
}

// StartRules reads the catalog, reports rules that cannot run and starts the ones not started yet.
asio::awaitable<void>
StartRules(State &state, PgConnection &conn) {
	std::vector<RulePlan> plans = co_await LoadRulePlans(conn);
	for (RulePlan &plan : plans) {
		if (state.started.count(plan.name) != 0)
			continue;
		state.started.insert(plan.name);
		if (!plan.error.empty()) {
			LogLine("rule " + plan.name + ": error: " + plan.error);
			RuleStatus status;
			status.status = "error";
			status.last_error = plan.error;
			const std::vector<ReplicaStatusRow> none;
			co_await WriteStatus(conn, plan.name, status, none);
			continue;
		}
		if (plan.mode == "snapshot" && plan.stats_status == "done") {
			LogLine("rule " + plan.name + ": snapshot already done");
			continue;
		}
		LogLine("rule " + plan.name + ": starting (" + plan.mode + ", " + std::to_string(plan.targets.size()) +
				" target(s))");
		++state.running;
		asio::co_spawn(co_await asio::this_coro::executor, SuperviseRule(state, std::move(plan)),
					   [&state](std::exception_ptr error) {
						   --state.running;
						   if (error) {
							   LogLine("supervisor: " + Describe(error));
							   state.failed = true;
						   }
					   });
	}
}

// PollCatalog starts the rules declared since the last poll. A lost catalog connection (a PostgreSQL restart)
// must not end the daemon while its rules reconnect on their own: it is logged and reconnected at the next poll,
// so the status interval paces the retries.
asio::awaitable<void>
PollCatalog(State &state, PgConnection &conn) {
	std::exception_ptr error;
	try {
		if (conn.Get() == nullptr)
			co_await conn.Connect(state.config.source, ConnectionKind::Sql);
		co_await StartRules(state, conn);
	} catch (...) {
		error = std::current_exception();
	}
	if (error) {
		LogLine("catalog: " + Describe(error) + "; reconnecting at the next poll");
		conn.Close();
	}
}

// Supervise connects to the catalog, starts the rules and, unless --once, keeps looking for new ones.
asio::awaitable<void>
Supervise(State &state) {
	PgConnection conn(co_await asio::this_coro::executor);
	co_await conn.Connect(state.config.source, ConnectionKind::Sql);
	LogLine("connected to the source " + std::string(PQdb(conn.Get())) + " on " + PQhost(conn.Get()) + ":" +
			PQport(conn.Get()));
	co_await StartRules(state, conn);
	if (state.running == 0)
		LogLine("no rule to run");
	asio::steady_timer timer(co_await asio::this_coro::executor);
	for (;;) {
		if (state.config.once && state.running == 0)
			break;
		if (state.stop && state.running == 0)
			break;
		timer.expires_after(std::min(state.config.status_interval, state.config.poll_interval));
		co_await timer.async_wait(asio::use_awaitable);
		if (!state.config.once && !state.stop) {
			// catalog polling: rules declared (or enabled) since the start begin to run
			static auto next_reload = std::chrono::steady_clock::now();
			if (std::chrono::steady_clock::now() >= next_reload) {
				co_await PollCatalog(state, conn);
				next_reload = std::chrono::steady_clock::now() + state.config.status_interval;
			}
		}
	}
}

// WaitSignals sets state.stop at the first signal and exits at the second.
void
WaitSignals(State &state) {
	state.signals.async_wait([&state](const boost::system::error_code &error, int number) {
		if (error)
			return; // cancelled at the end of the run
		if (state.stop) {
			LogLine("second signal: exiting at once");
			std::_Exit(1);
		}
		LogLine("signal " + std::to_string(number) + ": stopping (finishing the transaction in flight)");
		state.stop = true;
		WaitSignals(state);
	});
}

} // namespace

int
Run(asio::io_context &context, asio::signal_set &signals, const Config &config) {
	State state{config, signals, false, false, 0, {}};
	WaitSignals(state);
	asio::co_spawn(context, Supervise(state), [&state](std::exception_ptr error) {
		if (error) {
			LogLine("stopping: " + Describe(error));
			state.failed = true;
		}
		state.signals.cancel();
	});
	context.run();
	LogLine(state.failed ? "exiting after a failure" : "exiting");
	return state.failed ? 1 : 0;
}

} // namespace mosta::sidecar
