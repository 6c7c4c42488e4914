/*
 * switchover.hpp
 *     A planned switchover, in two halves. The executor runs in the master's node agent (ha/node_agent.hpp): it
 *     claims a pending mosta.ha_requests row (mosta_switchover()), stops its own server (pg_ctl stop -m fast: the
 *     WAL senders ship everything, the shutdown checkpoint included, to the connected standbys before the
 *     postmaster exits), waits until the target has replayed past the shutdown checkpoint, promotes it, swaps the
 *     roles in the catalog, repoints the other standbys and restarts itself as a standby of the new primary; if the
 *     target does not catch up in time it starts again as the master and the request fails, nothing lost. The
 *     command (mosta-sidecar switchover PROJECT REPLICA) calls mosta_switchover() and follows the request to its
 *     end. C++ regime; coroutines over PgConnection, as the rest of ha/.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "ha/local_server.hpp"
#include "ha/node_agent.hpp"
#include "ha/node_probe.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// A switchover request the agent has claimed (state running).
struct SwitchoverRequest {
	long long id = 0;
	std::string project;
	std::string target;
};

// ClaimSwitchoverRequest moves the oldest pending switchover request of project to running on conn (the master)
// and returns it; id 0 when there is none.
boost::asio::awaitable<SwitchoverRequest> ClaimSwitchoverRequest(PgConnection &conn, const std::string &project);

// The pieces shared by the manual switchover (ExecuteSwitchover) and the DCS agent's (ha/dcs_agent.cpp).

// CheckSwitchoverTarget refuses (throws) a target (at uri) that cannot take over from the master on local:
// unreachable, not in recovery, not streaming, or of another system identifier. Returns the master's probe.
boost::asio::awaitable<NodeProbe> CheckSwitchoverTarget(PgConnection &local, const std::string &target,
														const std::string &uri);

// StopForSwitchover stops server (-m fast: the WAL senders ship everything, the shutdown checkpoint included) and
// returns the shutdown checkpoint's LSN; throws unless the data directory says it shut down cleanly.
Lsn StopForSwitchover(const LocalServer &server);

// WaitForReplay polls the replay position of target (at uri) until it passes checkpoint or timeout passes; returns
// the last position read (nullopt: never read).
boost::asio::awaitable<std::optional<Lsn>> WaitForReplay(const std::string &uri, const std::string &target,
														 Lsn checkpoint, std::chrono::milliseconds timeout);

// SwitchoverRecord writes a switchover's progress: switchover_step activity rows, then the request's final state.
class SwitchoverRecord {
  public:
	SwitchoverRecord(const SwitchoverRequest &request, const std::string &from);
	// Step writes one switchover_step activity row on conn (a primary) and logs it.
	boost::asio::awaitable<void> Step(PgConnection &conn, const std::string &step, const std::string &more_json);
	// Finish marks the request state (done, failed) on conn (a primary) with the steps so far; activity: also
	// write the `switchover` activity row.
	boost::asio::awaitable<void> Finish(PgConnection &conn, const std::string &state, bool activity = true);

	Lsn checkpoint = kInvalidLsn;
	long long downtime_ms = -1;
	std::optional<std::uint32_t> timeline;
	std::string error;

  private:
	SwitchoverRequest request_;
	std::string from_;
	std::chrono::steady_clock::time_point start_;
	std::string steps_;
};

// ExecuteSwitchover carries out request from the master's agent: local is connected to the master (this node,
// named self in topology) and is closed before the server stops. Never throws: a failure is logged, written to the
// request (failed) and to mosta.activity, and the server is left running (as the master when the target was not
// promoted). Returns true when the switchover is done.
boost::asio::awaitable<bool> ExecuteSwitchover(PgConnection &local, const LocalServer &server, const Topology &topology,
											   const SwitchoverRequest &request, const AgentOptions &options);

// What the switchover command is told.
struct SwitchoverCommand {
	std::string source; // the master (a multi-host DSN with target_session_attrs=read-write finds it)
	std::string project;
	std::string replica;
	std::chrono::milliseconds timeout{120'000}; // how long to follow the request
};

// RunSwitchover calls mosta_switchover() and follows the request, printing each step; returns 0 when it is done,
// 1 when it failed, was refused or timed out ("no agent of node X performed it" when it stayed pending).
int RunSwitchover(boost::asio::io_context &context, const SwitchoverCommand &command);

} // namespace mosta::sidecar::ha
