/*
 * run.hpp
 *     Run: the daemon's supervisor. It reads the rules from the catalog, reports the ones it cannot run as rule
 *     errors (mosta.rule_stats.status = 'error'), and runs each target of each enabled rule in its own coroutine
 *     (TargetRunner, its own slot) on the one io_context. A target that fails is retried with exponential backoff
 *     (util/backoff.hpp) unless the error is fatal or --once is set, while the rule's other targets go on. At each
 *     status interval it reconciles with the catalog: new rules and targets start, targets of a disabled rule stop
 *     (status paused, slot kept), targets of a removed rule or replica stop and their slots are dropped, a target
 *     whose rule or replica changed restarts with a new slot and a new copy. It also writes a heartbeat every
 *     heartbeat interval (so slots advance on a quiet database) and the --tree file.
 *
 *     Signals: SIGHUP reads the catalog at once and retries the targets that stopped on an error; the first
 *     SIGINT/SIGTERM asks every target to stop (finish the transaction in flight, flush, confirm);
 *     a second one exits at once with status 1.
 */
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "app/config.hpp"

namespace mosta::sidecar {

// Run runs the daemon on context until it stops; returns the process exit status (0 clean, 1 failure).
int Run(boost::asio::io_context &context, boost::asio::signal_set &signals, const Config &config);

} // namespace mosta::sidecar
