/*
 * failover.hpp
 *     mosta-sidecar failover PROJECT [--to REPLICA] [--allow-data-loss] [--source DSN]: promote a standby of a
 *     project whose master is gone (docs/failover.md). It never needs SQL on the master: the topology and the last
 *     observations come from the standbys' copies of the catalog (the freshest one reachable), the decision from
 *     probes of every postgres node of the project. Refused, nothing changed, when the master still accepts writes
 *     (a switchover's job), when the standby cannot be promoted, or when it fails the lag gate without
 *     --allow-data-loss. Otherwise: promote, swap the roles in the new primary's catalog, repoint the other
 *     standbys, one `failover` row in mosta.activity. C++ regime; a one-shot coroutine on its own io_context.
 *
 *     The decisions (gate, problems, ranking, possible loss) are pure functions, unit-tested in
 *     test/cpp/sidecar/ha_failover_test.cpp.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/config.hpp"
#include "ha/node_probe.hpp"
#include "mosta/common/canonical_row.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// What the lag gate says of a standby's last observation.
struct GateVerdict {
	bool allows = false;
	std::string reason; // why it passes or not, for the operator ("was sync at the last observation", ...)
};

// IsSynchronous tells whether a sync_state means every acknowledged commit was flushed there: sync or quorum.
bool IsSynchronous(const std::string &sync_state);

// LagGate decides from the last observation alone whether promoting a standby cannot lose an acknowledged commit
// (within its tolerance): lag_tolerance_ms 0 needs sync_state sync or quorum and a watched status (up or
// catching-up: it was connected to the master); a tolerance > 0 needs status up and lag_ms <= tolerance. A
// standby never reported fails.
GateVerdict LagGate(long long lag_tolerance_ms, const LastObservation &last);

// CandidateProblem says why a node cannot be promoted at all, whatever the flags ("" when it can): unreachable
// (with the error), not in recovery (a primary already), or another system identifier than the catalog's node
// (not a physical copy of this cluster).
std::string CandidateProblem(const NodeProbe &probe, const std::string &system_identifier);

// A standby that could be promoted, as ranked.
struct RankedCandidate {
	std::string name;
	Lsn lsn = kInvalidLsn;	// the most advanced WAL it holds (NodeProbe::MostAdvancedLsn)
	std::string sync_state; // at the last observation
};

// BetterCandidate orders candidates best first: the most advanced LSN, then synchronous (sync, quorum) before the
// others, then by name.
bool BetterCandidate(const RankedCandidate &a, const RankedCandidate &b);

// What may have been lost by promoting a standby that holds WAL up to promoted_lsn.
struct PossibleLoss {
	long long known_bytes = 0;			 // WAL seen on some node (now or at the last observation) beyond it
	Lsn most_advanced_lsn = kInvalidLsn; // the furthest WAL position known
	bool beyond_unknown = true;			 // the master is dead: what it wrote after the last observation is unknown
	std::string text;					 // the sentence for the operator and the activity row
};

// EstimateLoss compares promoted_lsn with the most advanced WAL seen on any node now (seen_lsns) and the master's
// position implied by the last observations; beyond_unknown when the master could not be read.
PossibleLoss EstimateLoss(Lsn promoted_lsn, const std::vector<Lsn> &seen_lsns,
						  std::optional<Lsn> master_at_last_observation, bool master_read);

// JSON strings in activity details: JsonQuote of mosta/common/canonical_row.hpp (PostgreSQL's escape_json)
using mosta::JsonQuote;

// RunFailover runs the failover subcommand on context and returns the exit status: 0 when a standby was promoted
// and the catalog says so, 1 when refused (nothing changed) or failed (what was done is printed).
int RunFailover(boost::asio::io_context &context, const Config &config);

} // namespace mosta::sidecar::ha
