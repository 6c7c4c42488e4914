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
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "ha/local_server.hpp"
#include "ha/node_agent.hpp"
#include "ha/node_probe.hpp"
#include "pg/connection.hpp"

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
