/*
 * run.hpp
 *     Run: the daemon's supervisor. It reads the enabled rules from the catalog, reports the ones it cannot run as
 *     rule errors (mosta.rule_stats.status = 'error'), and runs each runnable rule in its own coroutine on the one
 *     io_context. A rule that fails is retried with exponential backoff (util/backoff.hpp) unless the error is
 *     fatal or --once is set; new rules declared while it runs are picked up at each status interval.
 *
 *     Signals: the first SIGINT/SIGTERM asks every rule to stop (finish the transaction in flight, flush, confirm);
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
