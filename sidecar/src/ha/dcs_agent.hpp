/*
 * dcs_agent.hpp
 *     mosta-sidecar agent --dcs URL: the node agent on etcd (docs/ha.md). Every poll it renews its lease (one per
 *     agent, TTL --dcs-ttl), writes its member key, reads the project's keys in one linearizable range, looks at
 *     its server and its peers (agent_actions.hpp) and takes one step (DecideDcs, dcs_decide.hpp): the leader
 *     renews its server's in-server write lease up to the FenceDeadline of the keep-alive (write_lease_client.hpp)
 *     and publishes the status (and sync) keys; a leader whose server is down releases the key at once; with no
 *     key, an eligible standby races for it and promotes (promotion.hpp), and the others follow; a node that is
 *     not the leader is never left writable. Without etcd it promotes nothing and the leader fences itself at its
 *     deadline. C++ regime; one coroutine on the agent's io_context.
 */
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "ha/local_server.hpp"
#include "ha/node_agent.hpp"

namespace mosta::sidecar::ha {

// RunDcsAgent runs the DCS mode until SIGINT or SIGTERM (the leader then hands over: its server restarted
// read-only, its lease revoked); returns 0 after a signal, 1 when the agent cannot run (the server does not
// enforce the write lease, a watchdog given but not opened).
int RunDcsAgent(boost::asio::io_context &context, boost::asio::signal_set &signals, const AgentOptions &options,
				const LocalServer &server);

} // namespace mosta::sidecar::ha
