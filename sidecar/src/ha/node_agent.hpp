/*
 * node_agent.hpp
 *     mosta-sidecar agent: runs next to one PostgreSQL node of a project, as the server's OS user, and owns the
 *     server's lifecycle. At every poll it looks at its own server (running? primary or standby? whom does it
 *     follow?) and asks every other PostgreSQL node of the project (from the local catalog, or from the peer cache
 *     when the local server is down) whether it is a primary and whom its catalog names master; Decide turns that
 *     into one action: start, fence (start read-only), rewind and follow the new primary, demote (stop and rewind),
 *     repoint, or come back as the primary. On the master it also carries out switchover requests
 *     (ha/switchover.hpp). docs/failover.md ("Fencing", "Rejoin", "Split brain") says what it covers and what it
 *     does not. C++ regime; one coroutine on its own io_context.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace mosta::sidecar::ha {

// What the agent is told on its command line.
struct AgentOptions {
	std::string node;	   // --node: this node's replica name in the catalog
	std::string project;   // --project
	std::string pgdata;	   // --pgdata: the server's data directory
	std::string pg_log;	   // --pg-log: pg_ctl's log file ("" : <state-dir>/postgres.log)
	std::string state_dir; // --state-dir: the peer cache (never inside pgdata: pg_rewind would remove it)
	std::string source;	   // --source: the local server ("" : MOSTA_SOURCE_URI, else PG*)
	std::string pg_bindir; // --pg-bindir ("" : pg_config --bindir)
	std::chrono::milliseconds poll_interval{1'000};	   // --poll-interval
	std::chrono::milliseconds catchup_timeout{30'000}; // --catchup-timeout: a switchover's wait for the standby
	std::string dcs;						   // --dcs: "" for the manual mode (no leases, no automatic failover)
	std::chrono::milliseconds dcs_ttl{10'000}; // --dcs-ttl: the leader key's TTL
	std::string synchronous = "off";		   // --synchronous off|on|strict (leader: synchronous_standby_names)
	std::string watchdog;					   // --watchdog DEVICE ("" : none)
};

// The local server as the agent sees it.
enum class LocalState {
	Stopped,
	Primary,
	Standby,
};

// What one other PostgreSQL node of the project answered.
struct PeerView {
	std::string name;
	bool reachable = false;
	bool in_recovery = false;
	std::optional<std::uint32_t> timeline;
	std::string catalog_master; // the master its copy of the catalog names ("" : none, or unreachable)
};

// Everything Decide looks at.
struct AgentView {
	std::string self;
	LocalState local = LocalState::Stopped;
	bool standby_signal = false;		   // Stopped: the data directory holds standby.signal
	std::optional<std::uint32_t> timeline; // the local timeline (the server's, or pg_controldata's when stopped)
	std::string local_catalog_master;	   // the master the local catalog names ("" : not read)
	std::string following;				   // Standby: the peer its primary_conninfo points at ("" : none of them)
	bool stalled = false;		 // Standby: following that peer but not streaming for kStallLimit (a diverged history?)
	std::vector<PeerView> peers; // the other postgres nodes of the project
};

// kStallLimit is how long a standby may follow the primary without streaming before the agent rewinds it: a standby
// that replayed past the point where the primary's timeline forked (it was ahead of the promoted standby) can
// never stream from it.
inline constexpr std::chrono::seconds kStallLimit{10};

// What the agent does next.
enum class ActionKind {
	None,		  // all is as it should be
	Start,		  // start the server as it is (a standby stays one)
	StartPrimary, // the master, confirmed by the peers: start it (Stopped) or restart it as a primary (fenced)
	StartFenced,  // cannot tell: start as a standby (read-only), log loudly, decide again at the next poll
	Rewind,		  // stopped, and another node is the primary: pg_rewind from it, then start as its standby
	Demote,		  // running as a primary (or a fenced former master) while another node is the primary: stop, rewind
	Repoint,	  // a standby following the wrong node: point primary_conninfo at the primary
};

struct Action {
	ActionKind kind = ActionKind::None;
	std::string peer;	// Rewind, Demote, Repoint: the primary to follow
	std::string reason; // one line for the log
};

// ActionName returns the action's name as the log and the activity rows spell it ("rewind", "start-fenced", ...).
const char *ActionName(ActionKind kind);

// NewPrimary returns the peer that is the project's primary: reachable, not in recovery, named master by its own
// catalog; when several claim it, the one on the highest timeline (a promotion always starts a new one). Null when
// none does.
const PeerView *NewPrimary(const AgentView &view);

// Decide returns what the agent must do about view (pure: unit-tested).
Action Decide(const AgentView &view);

// A peer in the cache: a postgres replica of the project other than this node, as the catalog last said.
struct CachedPeer {
	std::string name;
	std::string role;
	std::string conninfo; // keyword/value, without password (libpq's passfile supplies it)
};

// ConninfoWithoutPassword returns conninfo (keyword/value or URI) as keyword/value without its password.
std::string ConninfoWithoutPassword(const std::string &conninfo);

// FormatPeerCache and ParsePeerCache write and read the cache file: one "name<TAB>role<TAB>conninfo" line per peer.
std::string FormatPeerCache(const std::vector<CachedPeer> &peers);
std::vector<CachedPeer> ParsePeerCache(const std::string &text);

// SameServer tells whether two conninfos name the same host and port (libpq's defaults filled in).
bool SameServer(const std::string &a, const std::string &b);

// RunAgent runs the agent until SIGINT or SIGTERM; returns the exit status (0 after a signal, 1 on a failure that
// stops it: a bad data directory, no pg_ctl). With options.dcs it runs the DCS mode (ha/dcs_agent.hpp: the leader
// key in etcd decides who is writable; Decide is then consulted with the leader as the only primary).
int RunAgent(boost::asio::io_context &context, boost::asio::signal_set &signals, const AgentOptions &options);

} // namespace mosta::sidecar::ha
