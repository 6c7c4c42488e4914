/*
 * switchover.cpp
 *     The switchover executor of the master's agent and the switchover command (see switchover.hpp).
 */
#include "ha/switchover.hpp"

#include <cstdio>
#include <exception>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "ha/promotion.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "pg/lsn.hpp"
#include "util/run_to_exit.hpp"
#include "util/pause.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// kPollStep is how often an awaited state (the target's replay position, the request's state) is read again.
constexpr std::chrono::milliseconds kPollStep{50};
// kServerTimeout bounds pg_ctl start and stop.
constexpr std::chrono::seconds kServerTimeout{60};
// kRejoinWait bounds the wait for the old master to follow the new primary after its restart.
constexpr std::chrono::milliseconds kRejoinWait{30'000};

std::string
Value(const PGresult *result, int row, int col) {
	return PQgetisnull(result, row, col) ? std::string() : std::string(PQgetvalue(result, row, col));
}

// The executor's state: what it logs and where.
class Executor {
  public:
	Executor(const LocalServer &server, const Topology &topology, const SwitchoverRequest &request,
			 const AgentOptions &options)
		: server_(server), topology_(topology), request_(request), options_(options) {}

	asio::awaitable<bool>
	Run(PgConnection &local) {
		const TopologyReplica *target = topology_.Find(request_.target);
		try {
			if (target == nullptr || target->role != "slave" || target->dialect != "postgres")
				throw std::runtime_error("replica \"" + request_.target + "\" is not a postgres slave of project \"" +
										 request_.project + "\" any more");
			target_uri_ = target->uri;
			co_await Step(local, "started", "");
			NodeProbe self = co_await CheckSwitchoverTarget(local, request_.target, target_uri_);
			co_await local.Exec("checkpointing before the switchover", "CHECKPOINT");
			// named locals, never temporaries of a conditional, as co_await arguments: GCC 12 destroys those twice
			const std::string lsn = self.current_lsn ? FormatLsn(*self.current_lsn) : std::string();
			const std::string more = ", \"lsn\": " + JsonQuote(lsn);
			co_await Step(local, "stopping the master", more);
		} catch (...) {
			error_ = CurrentErrorText();
		}
		if (!error_.empty()) {
			co_await Finish(local, "failed");
			co_return false;
		}
		local.Close();
		co_return co_await StopAndHandOver();
	}

  private:
	// StopAndHandOver stops the master, waits for the target, promotes it, and rejoins as its standby.
	asio::awaitable<bool>
	StopAndHandOver() {
		stopped_at_ = Clock::now();
		bool promoted = false;
		try {
			checkpoint_ = StopForSwitchover(server_);
			record_.checkpoint = checkpoint_;
			LogLine("agent " + options_.node + ": switchover " + std::to_string(request_.id) +
					": stopped; shutdown checkpoint at " + FormatLsn(checkpoint_) + "; waiting for " + request_.target);
			std::optional<Lsn> replayed =
				co_await WaitForReplay(target_uri_, request_.target, checkpoint_, options_.catchup_timeout);
			if (!replayed || *replayed <= checkpoint_)
				throw std::runtime_error("the target " + request_.target + " did not replay the shutdown checkpoint " +
										 FormatLsn(checkpoint_) + " within " +
										 std::to_string(options_.catchup_timeout.count()) + " ms (replayed up to " +
										 (replayed ? FormatLsn(*replayed) : std::string("unknown")) + ")");
			replay_lsn_ = *replayed;
			PromotionResult promotion = co_await PromoteStandby(target_uri_);
			promoted = true;
			downtime_ms_ = MillisSince(stopped_at_);
			timeline_ = promotion.timeline;
			LogLine("agent " + options_.node + ": switchover " + std::to_string(request_.id) + ": " + request_.target +
					" promoted (writes stopped for " + std::to_string(downtime_ms_) + " ms)");
			PgConnection primary(co_await asio::this_coro::executor);
			co_await WithTimeout(primary.Connect(target_uri_, ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the new primary " + request_.target);
			co_await SwapMaster(primary, request_.project, request_.target);
			const std::string more = ", \"shutdown_checkpoint_lsn\": " + JsonQuote(FormatLsn(checkpoint_)) +
									 ", \"replay_lsn\": " + JsonQuote(FormatLsn(replay_lsn_)) +
									 ", \"downtime_ms\": " + std::to_string(downtime_ms_);
			co_await Step(primary, "promoted", more);
			co_await RepointOthers(primary);
			co_await RestartAsStandby(primary);
			co_await Finish(primary, "done");
			co_return true;
		} catch (...) {
			error_ = CurrentErrorText();
		}
		LogLine("agent " + options_.node + ": switchover " + std::to_string(request_.id) + " failed: " + error_);
		if (!promoted) {
			// nothing was handed over: the master starts again as it was, nothing lost
			co_await StartAgain();
			co_return false;
		}
		// promoted, but a later step failed: the request is finished on the new primary, as failed
		try {
			PgConnection primary(co_await asio::this_coro::executor);
			co_await WithTimeout(primary.Connect(target_uri_, ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the new primary " + request_.target);
			co_await Finish(primary, "failed");
		} catch (...) {
			LogLine("agent " + options_.node + ": cannot mark switchover " + std::to_string(request_.id) +
					" failed: " + CurrentErrorText());
		}
		co_return false;
	}

	// RepointOthers points every other postgres standby of the project at the new primary.
	asio::awaitable<void>
	RepointOthers(PgConnection &primary) {
		for (const TopologyReplica &replica : topology_.replicas) {
			if (replica.dialect != "postgres" || replica.name == options_.node || replica.name == request_.target)
				continue;
			std::string error;
			try {
				co_await RepointStandby(replica.uri, target_uri_, replica.name);
			} catch (...) {
				error = CurrentErrorText();
			}
			// when it cannot be reached now, its own agent repoints it when it comes back
			if (error.empty())
				co_await Step(primary, "repointed " + replica.name, "");
			else
				co_await Step(primary, "could not repoint " + replica.name, ", \"error\": " + JsonQuote(error));
		}
	}

	// RestartAsStandby starts the old master as a standby of the new primary and waits until it follows it (its
	// catalog names the new master: the role swap has been replayed).
	asio::awaitable<void>
	RestartAsStandby(PgConnection &primary) {
		server_.MakeStandby(PrimaryConninfo(target_uri_, options_.node));
		server_.Start(kServerTimeout);
		const auto deadline = Clock::now() + kRejoinWait;
		bool following = false;
		while (!following && Clock::now() < deadline) {
			try {
				Topology local = co_await ReadTopologyFrom(options_.source, request_.project);
				const TopologyReplica *master = local.Master();
				following = local.node_in_recovery && master != nullptr && master->name == request_.target;
			} catch (...) {
			}
			if (!following)
				co_await Pause(kPollStep);
		}
		const std::string step =
			following ? "old master follows the new primary" : "old master restarted as a standby, not yet following";
		co_await Step(primary, step, "");
	}

	// StartAgain starts the stopped master again, as the master, and marks the request failed there.
	asio::awaitable<void>
	StartAgain() {
		try {
			server_.RemoveStandbySignal();
			server_.Start(kServerTimeout);
			PgConnection local(co_await asio::this_coro::executor);
			co_await WithTimeout(local.Connect(options_.source, ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the local server");
			co_await Finish(local, "failed");
		} catch (...) {
			LogLine("agent " + options_.node + ": after the failed switchover " + std::to_string(request_.id) + ": " +
					CurrentErrorText());
		}
	}

	asio::awaitable<void>
	Step(PgConnection &conn, const std::string &step, const std::string &more_json) {
		co_await record_.Step(conn, step, more_json);
	}

	asio::awaitable<void>
	Finish(PgConnection &conn, const std::string &state) {
		record_.downtime_ms = downtime_ms_;
		record_.timeline = timeline_;
		record_.error = error_;
		co_await record_.Finish(conn, state);
	}

	const LocalServer &server_;
	const Topology &topology_;
	const SwitchoverRequest request_;
	const AgentOptions &options_;
	std::string target_uri_;
	Clock::time_point stopped_at_;
	Lsn checkpoint_ = kInvalidLsn;
	Lsn replay_lsn_ = kInvalidLsn;
	long long downtime_ms_ = -1;
	std::optional<std::uint32_t> timeline_;
	std::string error_;
	SwitchoverRecord record_{request_, options_.node};
};

} // namespace

asio::awaitable<NodeProbe>
CheckSwitchoverTarget(PgConnection &local, const std::string &target, const std::string &uri) {
	NodeProbe probe = co_await ProbeNode(uri);
	NodeProbe self = co_await ProbeNodeOn(local);
	if (!probe.reachable)
		throw std::runtime_error("the target " + target + " is unreachable: " + probe.error);
	if (!probe.in_recovery)
		throw std::runtime_error("the target " + target + " is not in recovery");
	// a standby that does not stream now cannot catch up once the master stops: refuse before stopping
	if (probe.wal_receiver != "streaming")
		throw std::runtime_error("the target " + target + " is not streaming (WAL receiver: " +
								 (probe.wal_receiver.empty() ? std::string("none") : probe.wal_receiver) +
								 "); the master was not stopped");
	if (probe.system_identifier != self.system_identifier)
		throw std::runtime_error("the target " + target + " has system identifier " + probe.system_identifier +
								 ", the master " + self.system_identifier);
	co_return self;
}

Lsn
StopForSwitchover(const LocalServer &server) {
	server.Stop("fast", kServerTimeout);
	ControlData control = server.Control();
	if (control.state != "shut down" || !control.checkpoint)
		throw std::runtime_error("after pg_ctl stop the data directory says \"" + control.state +
								 "\", not a clean shutdown");
	return *control.checkpoint;
}

asio::awaitable<std::optional<Lsn>>
WaitForReplay(const std::string &uri, const std::string &target, Lsn checkpoint, std::chrono::milliseconds timeout) {
	const auto deadline = Clock::now() + timeout;
	std::optional<Lsn> replayed;
	PgConnection conn(co_await asio::this_coro::executor);
	while (Clock::now() < deadline) {
		try {
			if (!conn.IsOpen())
				co_await WithTimeout(conn.Connect(uri, ConnectionKind::Sql), kProbeTimeout, "connecting to " + target);
			PgResultHandle result =
				co_await WithTimeout(conn.Exec("reading the replay position", "SELECT pg_last_wal_replay_lsn()::text"),
									 kProbeTimeout, "reading " + target);
			replayed = ParseLsn(Value(result.get(), 0, 0));
			if (replayed && *replayed > checkpoint)
				co_return replayed;
		} catch (...) {
			conn.Close();
		}
		co_await Pause(kPollStep);
	}
	co_return replayed;
}

SwitchoverRecord::SwitchoverRecord(const SwitchoverRequest &request, const std::string &from)
	: request_(request), from_(from), start_(Clock::now()) {}

asio::awaitable<void>
SwitchoverRecord::Step(PgConnection &conn, const std::string &step, const std::string &more_json) {
	const long long ms = MillisSince(start_);
	steps_ += std::string(steps_.empty() ? "" : ", ") + "{\"step\": " + JsonQuote(step) +
			  ", \"ms\": " + std::to_string(ms) + "}";
	LogLine("agent " + from_ + ": switchover " + std::to_string(request_.id) + ": " + step);
	co_await LogActivity(conn, "switchover_step", request_.project, request_.target,
						 "{\"request\": " + std::to_string(request_.id) + ", \"step\": " + JsonQuote(step) +
							 ", \"from\": " + JsonQuote(from_) + ", \"to\": " + JsonQuote(request_.target) +
							 ", \"ms\": " + std::to_string(ms) + more_json + "}");
}

asio::awaitable<void>
SwitchoverRecord::Finish(PgConnection &conn, const std::string &state, bool activity) {
	std::string detail = "{\"request\": " + std::to_string(request_.id) + ", \"from\": " + JsonQuote(from_) +
						 ", \"to\": " + JsonQuote(request_.target) + ", \"state\": " + JsonQuote(state) +
						 ", \"ms\": " + std::to_string(MillisSince(start_));
	if (checkpoint != kInvalidLsn)
		detail += ", \"shutdown_checkpoint_lsn\": " + JsonQuote(FormatLsn(checkpoint));
	if (downtime_ms >= 0)
		detail += ", \"downtime_ms\": " + std::to_string(downtime_ms);
	if (timeline)
		detail += ", \"timeline\": " + std::to_string(*timeline);
	if (!error.empty())
		detail += ", \"error\": " + JsonQuote(error);
	detail += ", \"steps\": [" + steps_ + "]}";
	const std::string masked = MaskCredentialsInText(detail);
	co_await conn.Exec("finishing the switchover request",
					   "UPDATE mosta.ha_requests SET state = " + SqlLiteral(conn, state) +
						   ", finished_at = clock_timestamp(), detail = detail || " + SqlLiteral(conn, masked) +
						   "::jsonb WHERE id = " + std::to_string(request_.id));
	if (activity)
		co_await LogActivity(conn, "switchover", request_.project, request_.target, masked);
	LogLine("agent " + from_ + ": switchover " + std::to_string(request_.id) + ": " + state);
}

asio::awaitable<SwitchoverRequest>
ClaimSwitchoverRequest(PgConnection &conn, const std::string &project) {
	PgResultHandle result = co_await conn.Exec(
		"claiming a switchover request",
		"UPDATE mosta.ha_requests SET state = 'running' WHERE id = (SELECT id FROM mosta.ha_requests WHERE project = " +
			SqlLiteral(conn, project) +
			" AND kind = 'switchover' AND state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
			" AND state = 'pending' RETURNING id, project, target");
	SwitchoverRequest request;
	if (PQntuples(result.get()) == 1) {
		request.id = std::stoll(Value(result.get(), 0, 0));
		request.project = Value(result.get(), 0, 1);
		request.target = Value(result.get(), 0, 2);
	}
	co_return request;
}

asio::awaitable<bool>
ExecuteSwitchover(PgConnection &local, const LocalServer &server, const Topology &topology,
				  const SwitchoverRequest &request, const AgentOptions &options) {
	Executor executor(server, topology, request, options);
	try {
		co_return co_await executor.Run(local);
	} catch (...) {
		LogLine("agent " + options.node + ": switchover " + std::to_string(request.id) + ": " + CurrentErrorText());
	}
	co_return false;
}

namespace {

// Printf prints one line of the command's progress on stdout, at once.
void
Print(const std::string &line) {
	std::fputs((line + "\n").c_str(), stdout);
	std::fflush(stdout);
}

// FollowState reads the request (state, detail) and its activity rows after last_activity from the node at
// conninfo; prints the new rows; returns the state ("" when the node cannot be read).
asio::awaitable<std::string>
ReadRequest(const std::string &conninfo, long long id, long long &last_activity, std::string &detail) {
	PgConnection conn(co_await asio::this_coro::executor);
	std::string state;
	auto work = [&]() -> asio::awaitable<void> {
		co_await conn.Connect(conninfo, ConnectionKind::Sql);
		PgResultHandle rows =
			co_await conn.Exec("reading the switchover's activity",
							   "SELECT id, action, detail->>'step', detail->>'ms' FROM mosta.activity WHERE action IN "
							   "('switchover_step', 'switchover') AND detail->>'request' = '" +
								   std::to_string(id) + "' AND id > " + std::to_string(last_activity) + " ORDER BY id");
		for (int row = 0; row < PQntuples(rows.get()); ++row) {
			last_activity = std::stoll(Value(rows.get(), row, 0));
			if (Value(rows.get(), row, 1) == "switchover_step")
				Print("  " + Value(rows.get(), row, 2) + " (" + Value(rows.get(), row, 3) + " ms)");
		}
		PgResultHandle request =
			co_await conn.Exec("reading the switchover request",
							   "SELECT state, detail::text FROM mosta.ha_requests WHERE id = " + std::to_string(id));
		if (PQntuples(request.get()) == 1) {
			state = Value(request.get(), 0, 0);
			detail = Value(request.get(), 0, 1);
		}
	};
	try {
		co_await WithTimeout(work(), kProbeTimeout, "reading the request");
	} catch (...) {
		state.clear();
	}
	conn.Close();
	co_return state;
}

// CancelPending marks request id failed on the master at conninfo when it is still pending; true when it did.
asio::awaitable<bool>
CancelPending(const std::string &conninfo, long long id) {
	PgConnection conn(co_await asio::this_coro::executor);
	bool cancelled = false;
	auto work = [&]() -> asio::awaitable<void> {
		co_await conn.Connect(conninfo, ConnectionKind::Sql);
		const std::string sql = "UPDATE mosta.ha_requests SET state = 'failed', finished_at = clock_timestamp(), "
								"detail = detail || '{\"error\": \"no agent performed it in time: cancelled by the "
								"switchover command\"}' WHERE id = " +
								std::to_string(id) + " AND state = 'pending' RETURNING id";
		PgResultHandle result = co_await conn.Exec("cancelling the switchover request", sql);
		cancelled = PQntuples(result.get()) == 1;
	};
	try {
		co_await WithTimeout(work(), kProbeTimeout, "cancelling the request");
	} catch (...) {
		Print("cannot cancel switchover request " + std::to_string(id) + ": " + CurrentErrorText());
	}
	conn.Close();
	co_return cancelled;
}

asio::awaitable<int>
Switchover(const SwitchoverCommand &command) {
	PgConnection master(co_await asio::this_coro::executor);
	co_await WithTimeout(master.Connect(command.source, ConnectionKind::Sql), kProbeTimeout,
						 "connecting to the master");
	Topology topology = co_await ReadTopology(master, command.project);
	const TopologyReplica *target = topology.Find(command.replica);
	const TopologyReplica *current = topology.Master();
	const std::string from = current != nullptr ? current->name : std::string("?");
	long long id = 0;
	try {
		PgResultHandle result = co_await master.Exec("requesting the switchover",
													 "SELECT mosta_switchover(" + SqlLiteral(master, command.project) +
														 ", " + SqlLiteral(master, command.replica) + ")");
		id = std::stoll(Value(result.get(), 0, 0));
	} catch (const PgError &e) {
		Print("switchover of project " + command.project + " to " + command.replica +
			  " refused: " + MaskCredentialsInText(e.Message()));
		co_return 1;
	}
	master.Close();
	Print("switchover " + std::to_string(id) + " of project " + command.project + ": " + from + " -> " +
		  command.replica + " requested; the agent of node " + from + " carries it out");
	const auto start = Clock::now();
	const auto deadline = start + command.timeout;
	long long last_activity = 0;
	std::string state = "pending";
	std::string detail;
	while (Clock::now() < deadline) {
		// the target holds the final state; the master holds it until it stops
		std::string seen;
		if (target != nullptr)
			seen = co_await ReadRequest(target->uri, id, last_activity, detail);
		if (seen.empty() || seen == "pending" || seen == "running") {
			std::string on_master = co_await ReadRequest(command.source, id, last_activity, detail);
			if (!on_master.empty() && (seen.empty() || on_master != "pending"))
				seen = on_master;
		}
		if (!seen.empty() && seen != state) {
			state = seen;
			Print("  request " + state);
		}
		if (state == "done" || state == "failed")
			break;
		co_await Pause(std::chrono::milliseconds(200));
	}
	const long long ms = MillisSince(start);
	if (state == "done") {
		Print("switchover " + std::to_string(id) + " done in " + std::to_string(ms) + " ms: " + command.replica +
			  " is the master; detail " + MaskCredentialsInText(detail));
		co_return 0;
	}
	if (state == "failed") {
		Print("switchover " + std::to_string(id) + " failed after " + std::to_string(ms) + " ms: detail " +
			  MaskCredentialsInText(detail));
		co_return 1;
	}
	if (state != "pending") {
		Print("switchover " + std::to_string(id) + " timed out after " + std::to_string(ms) + " ms in state " + state);
		co_return 1;
	}
	// nobody took it: cancel it, or an agent started later would carry it out by surprise
	const bool cancelled = co_await CancelPending(command.source, id);
	Print("switchover " + std::to_string(id) + " timed out after " + std::to_string(ms) + " ms: no agent of node " +
		  from + " performed it (start mosta-sidecar agent --node " + from + " next to it); " +
		  (cancelled ? std::string("the request is cancelled (failed)")
					 : std::string("the request could not be cancelled: see mosta.ha_requests")));
	co_return 1;
}

} // namespace

int
RunSwitchover(asio::io_context &context, const SwitchoverCommand &command) {
	try {
		return RunToExit(context, Switchover(command));
	} catch (...) {
		Print("switchover of project " + command.project + ": " + CurrentErrorText());
		return 1;
	}
}

} // namespace mosta::sidecar::ha
