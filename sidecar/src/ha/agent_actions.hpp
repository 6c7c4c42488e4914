/*
 * agent_actions.hpp
 *     What both modes of the node agent share (node_agent.hpp: manual; dcs_agent.hpp: on etcd): looking at the
 *     local server and at the project's other PostgreSQL nodes (the peer cache when the local server is down),
 *     and carrying out an Action (start, start read-only, start as the primary, rewind and follow, demote,
 *     repoint), logging each decision once. C++ regime; coroutines on the agent's io_context; the pg_ctl and
 *     pg_rewind calls block (local_server.hpp).
 */
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "ha/local_server.hpp"
#include "ha/node_agent.hpp"
#include "ha/node_probe.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar::ha {

// kAgentServerTimeout bounds pg_ctl start and stop.
inline constexpr std::chrono::seconds kAgentServerTimeout{60};

// A peer to ask: its name and how to reach it (with a password when read from the local catalog).
struct AgentPeer {
	std::string name;
	std::string conninfo;
};

// What one look at the node and its peers found.
struct AgentLook {
	AgentView view;
	std::vector<AgentPeer> peers;
	std::optional<Topology> topology; // the local catalog (the server running)
	std::optional<NodeProbe> probe;	  // the local server's probe (running)
};

// AgentCore holds the agent's state across polls (the peer cache, the stall clock, the last note).
class AgentCore {
  public:
	AgentCore(const AgentOptions &options, const LocalServer &server);

	// Note logs text when it differs from the last note (one line per state change); ForgetNote logs the next one
	// whatever it is.
	void Note(const std::string &text);
	void ForgetNote();

	// Look fills look; local is left connected to the running server. False when the server runs but cannot be
	// read (starting up, shutting down, no catalog yet): noted, look again at the next poll. Without
	// observe_peers the peers are listed but not asked (view.peers stays empty): a DCS leader needs no peer, and a
	// silent one would cost it kPeerTimeout per poll. The peers are asked at once.
	boost::asio::awaitable<bool> Look(PgConnection &local, AgentLook &look, bool observe_peers = true);

	// Act carries out action (None: notes its reason).
	boost::asio::awaitable<void> Act(const Action &action, const std::vector<AgentPeer> &peers);

	const AgentOptions &
	Options() const noexcept {
		return options_;
	}
	const LocalServer &
	Server() const noexcept {
		return server_;
	}

  private:
	boost::asio::awaitable<void> ReadLocal(PgConnection &local, AgentLook &look);
	boost::asio::awaitable<std::string> ShowPrimaryConninfo(PgConnection &local);
	boost::asio::awaitable<PeerView> Observe(const AgentPeer &peer);
	boost::asio::awaitable<void> Rejoin(const std::string &primary, const std::string &primary_conninfo);
	std::vector<CachedPeer> LoadCache();
	void SaveCache(const std::vector<CachedPeer> &peers);

	const AgentOptions &options_;
	const LocalServer &server_;
	std::string cache_path_;
	std::string saved_cache_;
	bool streaming_ = false;											 // the local standby's WAL receiver streams
	std::optional<std::chrono::steady_clock::time_point> stalled_since_; // following the primary, not streaming
	std::string last_note_;
};

// RunAgentLoop runs loop (an agent's poll loop, which ends once stopping is set) on context: the first SIGINT or
// SIGTERM sets stopping; a loop that throws is logged and makes the exit status 1. Returns the exit status.
int RunAgentLoop(boost::asio::io_context &context, boost::asio::signal_set &signals, const std::string &node,
				 std::atomic<bool> &stopping, boost::asio::awaitable<void> loop);

} // namespace mosta::sidecar::ha
