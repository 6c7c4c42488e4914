/*
 * node_probe.hpp
 *     What the HA commands (failover, switchover, the node agent) know of a project's PostgreSQL nodes: the topology
 *     read from ANY reachable node's copy of the catalog (mosta.replicas and mosta.replica_status are physically
 *     replicated, so a standby holds them as of its replay point), and a probe of one node over libpq (reachable,
 *     in recovery, system identifier, timeline, WAL positions). C++ regime; every call is a coroutine over the
 *     non-blocking PgConnection (pg/connection.hpp), bounded by a deadline so that a dead or silent node costs
 *     one timeout, never a hang. URIs are kept unmasked for connecting; whatever is shown goes through
 *     MaskCredentials.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "pg/connection.hpp"
#include "pg/lsn.hpp"
#include "util/with_timeout.hpp"

namespace mosta::sidecar::ha {

// kProbeTimeout bounds connecting to a node and reading it: a node that does not answer in this long is down.
inline constexpr std::chrono::milliseconds kProbeTimeout{3'000};

// WithTimeout and TimeoutError (util/with_timeout.hpp), as the HA code has always named them
using mosta::sidecar::TimeoutError;
using mosta::sidecar::WithTimeout;

// The last mosta.replica_status row of a replica, as the node it was read from holds it.
struct LastObservation {
	bool present = false; // false: never reported (no row)
	std::string status;	  // unknown, up, catching-up, down, error
	std::optional<long long> lag_ms;
	std::optional<long long> lag_bytes;
	std::optional<Lsn> applied_lsn;	 // the standby's replay LSN then
	std::string sync_state;			 // async, potential, sync, quorum, or "" (not found among the master's senders)
	std::string last_error;			 // masked
	std::string last_seen;			 // timestamptz text
	std::optional<long long> age_ms; // now() - last_seen on the node read (its clock)

	// Describe says "sync_state sync, status up, lag 0 ms / 0 bytes, 2.1 s old" (or "never reported").
	std::string Describe() const;
};

// One replica of the project (mosta.replicas) with its last observation.
struct TopologyReplica {
	std::string name;
	std::string role;	 // master, slave
	std::string dialect; // postgres, sqlite, ...
	std::string uri;	 // unmasked: connect with it, show MaskCredentials(uri)
	long long lag_tolerance_ms = 0;
	LastObservation last;
};

// A project's topology as one node's catalog copy says it.
struct Topology {
	std::string project;
	std::string node;			   // the node it was read from: host:port (never a password)
	bool node_in_recovery = false; // read from a standby: as of its replay point
	std::string node_system_identifier;
	std::optional<Lsn> node_replay_lsn;	   // a standby's pg_last_wal_replay_lsn(): how current its copy is
	std::vector<TopologyReplica> replicas; // masters first, then by name

	// Master returns the project's master, or null.
	const TopologyReplica *Master() const;

	// Find returns the replica named name, or null.
	const TopologyReplica *Find(const std::string &name) const;

	// MasterLsnAtLastObservation returns the highest master WAL position the postgres slaves' last observations
	// imply (applied_lsn + lag_bytes: the master's pg_current_wal_lsn() when it was read), or unset.
	std::optional<Lsn> MasterLsnAtLastObservation() const;
};

// ReadTopology reads project's replicas and their last status from the catalog on conn (a master or a standby),
// and which node that is. Throws std::runtime_error naming the project when it does not exist there (with the
// hint that a standby's copy may be behind), PgError on a failed query.
boost::asio::awaitable<Topology> ReadTopology(PgConnection &conn, const std::string &project);

// ReadTopologyFrom reads project's topology from the first node of conninfo that answers: a multi-host DSN
// ("host=a,b port=1,2", "postgresql://a:1,b:2/db") is tried host by host (SplitHosts), each within timeout, so
// that a silent host (no RST) costs one timeout and the next one is still tried. Throws the last error (all
// errors named) when none answers.
boost::asio::awaitable<Topology> ReadTopologyFrom(const std::string &conninfo, const std::string &project,
												  std::chrono::milliseconds timeout = kProbeTimeout);

// SplitHosts turns a multi-host conninfo (keyword/value or URI) into one keyword/value conninfo per host, in
// order (host, hostaddr and port lists split as libpq pairs them: one port for all, or one per host), without
// target_session_attrs (any node serves). A conninfo naming at most one host is returned as it is. Throws
// std::runtime_error (masked) when libpq cannot parse it or the lists do not pair up.
std::vector<std::string> SplitHosts(const std::string &conninfo);

// QuoteConninfoValue quotes a keyword/value conninfo value: in single quotes, with \ and ' escaped.
std::string QuoteConninfoValue(const std::string &value);

// What a probe saw of one PostgreSQL node.
struct NodeProbe {
	bool reachable = false;
	std::string error; // why it is not reachable (masked)
	bool in_recovery = false;
	std::string system_identifier;
	std::optional<std::uint32_t> timeline;
	std::optional<Lsn> current_lsn; // a primary's pg_current_wal_lsn()
	std::optional<Lsn> receive_lsn; // a standby's pg_last_wal_receive_lsn() (unset when it never streamed)
	std::optional<Lsn> replay_lsn;	// a standby's pg_last_wal_replay_lsn()
	bool replay_paused = false;
	std::string wal_receiver; // pg_stat_wal_receiver.status ("" when no WAL receiver runs)
	std::string cluster_name;

	// MostAdvancedLsn is the furthest WAL the node holds: a primary's current LSN, a standby's later of receive and
	// replay; kInvalidLsn when unknown.
	Lsn MostAdvancedLsn() const;
};

// ProbeNode connects to uri and reads its state, all within timeout; it never throws for an unreachable or
// failing node (reachable false, error set, masked).
boost::asio::awaitable<NodeProbe> ProbeNode(const std::string &uri, std::chrono::milliseconds timeout = kProbeTimeout);

// ProbeNodes probes every uri at once (each as ProbeNode, within timeout): a set of dead nodes costs one timeout,
// not one per node. The result is in the order of uris.
boost::asio::awaitable<std::vector<NodeProbe>> ProbeNodes(const std::vector<std::string> &uris,
														  std::chrono::milliseconds timeout = kProbeTimeout);

// ProbeNodeOn reads the state of the node conn is connected to (no timeout of its own); throws PgError.
boost::asio::awaitable<NodeProbe> ProbeNodeOn(PgConnection &conn);

// NodeName returns "host:port" of an open connection (a socket directory for a Unix socket), for messages.
std::string NodeName(const PgConnection &conn);

// ErrorText returns the message of the exception being handled (PgError's without its context prefix kept),
// masked; for catch (...) blocks.
std::string CurrentErrorText();

} // namespace mosta::sidecar::ha
