/*
 * dcs_decide.hpp
 *     The node agent's decisions in DCS mode (docs/ha.md), pure and unit-tested (test/cpp/sidecar/
 *     ha_dcs_decide_test.cpp): the lag gate of an automatic failover, read from the keys the last leader
 *     published, and the step of one poll. The leader key in etcd is the authority on who may be writable: the
 *     holder whose server is a healthy primary leads (renews its server's write lease); a holder whose server is
 *     down releases the key at once; with no key, a primary with an intact history claims it and a standby races
 *     for it only when it passes the gate and no live, eligible standby holds more WAL; any other node is never
 *     left writable. Without etcd nothing is promoted, and the leader fences itself at its deadline.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ha/dcs_keys.hpp"
#include "ha/failover.hpp"
#include "ha/node_agent.hpp"
#include "ha/node_probe.hpp"

namespace mosta::sidecar::ha {

// ObservationFromStatus turns the leader's status key into the last observation of standby name (present false
// when the key is absent or does not list it): streaming → up, catchup → catching-up, else down.
LastObservation ObservationFromStatus(const DcsStatus &status, const std::string &name);

// DcsGate is the lag gate of an automatic failover for standby name: tolerance 0 with --synchronous on|strict
// needs the sync key (written by the same leader as the status key) to name it; otherwise LagGate on the status
// key's observation (tolerance 0: it was sync or quorum; > 0: up and within the tolerance).
GateVerdict DcsGate(const std::string &name, long long lag_tolerance_ms, const std::string &synchronous,
					const DcsStatus &status, const DcsSync &sync);

// One step of the DCS loop.
enum class DcsStep {
	Wait,		// nothing to do now (the reason says why)
	Lead,		// the key is ours and the server a primary: renew its write lease, publish status (and sync)
	Release,	// the key is ours and the server is down: CompareAndDelete it now (the standbys race at once)
	Claim,		// no key (or ours on an old lease): a primary with an intact history takes it, then leads
	ClaimStart, // no key (or ours): a stopped or fenced former master takes it, then (re)starts as the primary
	Race,		// no key: this eligible standby takes it, grants its write lease, promotes, swaps the catalog (the
				// target of a verified switchover races without the gate and without BetterRival)
	Suspend,	// the DCS is lost past the deadline, the lease may still live: revoke the write lease (no restart)
	Fence,		// this node must not be writable: revoke its write lease, restart it read-only (or demote)
	Follow,		// not the leader: carry out follow (the manual agent's Decide, the leader as the only primary)
};

const char *DcsStepName(DcsStep step);

// What one poll sees, for DecideDcs.
struct DcsView {
	std::string self;
	bool dcs_ok = false;		   // this poll's keep-alive and read of the keys succeeded
	bool within_deadline = false;  // now < FenceDeadline of the last successful keep-alive
	bool lease_may_be_gone = true; // now >= that keep-alive's send time + ttl: another node may hold the key
	std::string leader;			   // the leader key's value ("" absent)
	bool leader_on_our_lease = false;
	LocalState local = LocalState::Stopped;
	bool local_read = false;			   // running and read (role, catalog)
	bool standby_signal = false;		   // Stopped: the data directory holds standby.signal
	bool catalog_names_self = false;	   // the local catalog (or, stopped, the peers) names this node master
	bool newer_timeline_elsewhere = false; // a member or peer is on a later timeline than ours
	bool released_recently = false;		   // we released the key (server down) less than a TTL ago
	GateVerdict gate;					   // Standby, no key: this node's gate
	std::string better_candidate;		   // Standby, no key: a live eligible standby holding more WAL ("" none)
	Action follow;						   // the manual Decide on the leader-filtered view
	// a planned switchover (the switchover key): its target ("" no key), whether this agent has seen that key for
	// more than 2 x TTL (a leader that died mid-switchover left it), and, for the target, whether the key records
	// the verified catch-up (the old leader's shutdown checkpoint) and this standby holds WAL past it
	std::string switchover_to;
	bool switchover_stale = false;
	bool switchover_caught_up = false;
};

struct DcsDecision {
	DcsStep step = DcsStep::Wait;
	Action follow; // Follow; Fence: the demotion to do after the revoke (Demote with the leader), else none
	std::string reason;
};

// DecideDcs returns the step of this poll (pure).
DcsDecision DecideDcs(const DcsView &view);

// LeaderView returns view with the leader as the only possible primary: other peers' catalogs are ignored (their
// catalog_master cleared), and the leader, when it runs as a primary, counts as the primary even before its
// catalog names it master (between its promotion and its catalog swap). leader "" returns view unchanged.
AgentView LeaderView(AgentView view, const std::string &leader);

// A live standby in the race, for BestCandidate.
struct RaceCandidate {
	std::string name;
	bool passes_gate = false;
	bool reachable = false;
	Lsn lsn = kInvalidLsn;
	std::string sync_state;
};

// BetterRival returns the first of rivals (live agents' standbys, probed) that passes its gate and that
// BetterCandidate ranks before self ("" when none).
std::string BetterRival(const RaceCandidate &self, const std::vector<RaceCandidate> &rivals);

} // namespace mosta::sidecar::ha
