/*
 * run.hpp
 *     Run: the daemon's supervisor. It reads the rules from the catalog, reports the ones it cannot run as rule
 *     errors (mosta.rule_stats.status = 'error'), and runs each enabled rule in its own coroutine (RuleRunner: one
 *     slot for the rule, fanned out to its targets) on the one io_context. A failing target is the runner's to
 *     retry while the rule's other targets go on; a failure of the rule itself (slot, stream, source) is retried
 *     here with exponential backoff (util/backoff.hpp) unless the error is fatal or --once is set. At each status
 *     interval it reconciles with the catalog: new rules start, a disabled rule stops (status paused, slot kept),
 *     a removed rule stops and its slot is dropped, a rule whose targets changed restarts (a changed replica is
 *     copied again alone), a rule whose mode, source or collections changed restarts with a new slot and a new
 *     copy. It also writes a heartbeat every heartbeat interval (so slots advance on a quiet database) and the
 *     --tree file.
 *
 *     With --dcs (app/rule_leases.hpp) it runs only the rules whose etcd lease this sidecar holds: Reconcile starts
 *     an owned rule (terminating a walsender of the former holder still on its slot, with a rule_takeover activity
 *     row), a rule whose lease is lost or whose fence deadline passes is stopped at once (without a status write:
 *     the new holder writes it), and every change of ownership wakes the supervisor (a takeover does not wait for
 *     the status interval). The standby watch and the TTL pass run on the sidecar that holds P/sidecar-leader
 *     only; the heartbeat and the --tree file on every one. SIGTERM stops the rules, then revokes the lease.
 *
 *     Signals: SIGHUP reads the catalog at once and retries the rules that stopped on an error; the first
 *     SIGINT/SIGTERM asks every rule to stop (finish the transaction in flight, flush, confirm);
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
