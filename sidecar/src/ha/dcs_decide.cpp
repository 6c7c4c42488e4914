/*
 * dcs_decide.cpp
 *     The DCS mode's pure decisions (see dcs_decide.hpp).
 */
#include "ha/dcs_decide.hpp"

#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

namespace {

DcsDecision
Make(DcsStep step, std::string reason, Action follow = {}) {
	return DcsDecision{step, std::move(follow), std::move(reason)};
}

// NotLeaderFollow is follow for a node that does not hold the key: it never starts as a primary.
DcsDecision
NotLeaderFollow(const DcsView &view, const std::string &why) {
	Action follow = view.follow;
	if (follow.kind == ActionKind::StartPrimary) {
		follow.kind = ActionKind::StartFenced;
		follow.reason = why + ": starting read-only, not as the primary";
	}
	if (follow.kind == ActionKind::None)
		return Make(DcsStep::Wait, follow.reason);
	return Make(DcsStep::Follow, follow.reason, follow);
}

} // namespace

LastObservation
ObservationFromStatus(const DcsStatus &status, const std::string &name) {
	LastObservation last;
	if (!status.present)
		return last;
	auto row = status.standbys.find(name);
	if (row == status.standbys.end())
		return last;
	last.present = true;
	last.status = row->second.state == "streaming" ? "up" : row->second.state == "catchup" ? "catching-up" : "down";
	last.sync_state = row->second.sync_state;
	last.lag_ms = row->second.lag_ms;
	last.lag_bytes = row->second.lag_bytes;
	last.applied_lsn = ParseLsn(row->second.replay_lsn);
	return last;
}

GateVerdict
DcsGate(const std::string &name, long long lag_tolerance_ms, const std::string &synchronous, const DcsStatus &status,
		const DcsSync &sync) {
	if (lag_tolerance_ms == 0 && synchronous != "off") {
		if (!sync.present)
			return {false, "lag_tolerance_ms is 0 and no sync key: no standby is known to hold every acknowledged "
						   "commit"};
		if (!sync.sync_standby || *sync.sync_standby != name)
			return {false, "lag_tolerance_ms is 0 and the sync key of leader " + sync.leader + " names " +
							   (sync.sync_standby ? *sync.sync_standby : std::string("no standby")) +
							   ", not this node"};
		return {true, "named by the sync key of leader " + sync.leader +
						  ": PostgreSQL waited for it on every acknowledged commit"};
	}
	return LagGate(lag_tolerance_ms, ObservationFromStatus(status, name));
}

const char *
DcsStepName(DcsStep step) {
	switch (step) {
	case DcsStep::Wait:
		return "wait";
	case DcsStep::Lead:
		return "lead";
	case DcsStep::Release:
		return "release";
	case DcsStep::Claim:
		return "claim";
	case DcsStep::ClaimStart:
		return "claim-start";
	case DcsStep::Race:
		return "race";
	case DcsStep::Suspend:
		return "suspend";
	case DcsStep::Fence:
		return "fence";
	case DcsStep::Follow:
		return "follow";
	}
	return "unknown";
}

DcsDecision
DecideDcs(const DcsView &view) {
	const bool ours = view.leader == view.self;
	if (!view.dcs_ok) {
		// nothing is promoted or started as a primary without etcd
		switch (view.local) {
		case LocalState::Primary:
			if (ours && view.within_deadline)
				return Make(DcsStep::Wait, "the DCS does not answer: still the leader until the deadline of the "
										   "last renewal");
			// the server's write lease has expired by now; restarting it read-only waits until another node could
			// really hold the key, so that a short loss (an etcd election) costs no restart
			if (ours && !view.lease_may_be_gone)
				return Make(DcsStep::Suspend,
							"the DCS does not answer past the deadline of the last renewal: the server refuses "
							"writes until it answers again (no restart before the lease can have expired)");
			return Make(DcsStep::Fence, ours ? "the DCS does not answer and the last renewal's deadline has passed"
											 : "the DCS does not answer and this primary does not hold the key");
		case LocalState::Stopped:
			return NotLeaderFollow(view, "the DCS does not answer");
		case LocalState::Standby:
			return Make(DcsStep::Wait, "the DCS does not answer: no promotion without it");
		}
	}
	if (ours) {
		switch (view.local) {
		case LocalState::Primary:
			if (!view.local_read)
				return Make(DcsStep::Wait, "leader, but the server cannot be read: its write lease is not renewed");
			if (!view.leader_on_our_lease)
				return Make(DcsStep::Claim, "the leader key names this node on another lease (an earlier agent): "
											"re-attach it");
			return Make(DcsStep::Lead, "leader: the server is a primary");
		case LocalState::Stopped:
			return Make(DcsStep::Release, "leader, and the server is down: releasing the leader key now");
		case LocalState::Standby:
			if (view.catalog_names_self)
				return Make(DcsStep::ClaimStart, "the leader key is this node's and the server runs read-only: "
												 "restart it as the primary");
			return Make(DcsStep::Race, "the leader key is this node's and the server is still a standby: promote");
		}
	}
	if (view.leader.empty()) {
		switch (view.local) {
		case LocalState::Primary:
			if (view.catalog_names_self && !view.newer_timeline_elsewhere)
				return Make(DcsStep::Claim, "no leader key: this primary (the catalog's master) takes it");
			return Make(DcsStep::Fence, view.newer_timeline_elsewhere
											? "no leader key, and another node is on a later timeline"
											: "no leader key, and the catalog does not name this primary master");
		case LocalState::Stopped:
			if (view.follow.kind == ActionKind::StartPrimary ||
				(view.follow.kind == ActionKind::Start && !view.standby_signal)) {
				if (view.released_recently)
					return Make(DcsStep::Wait, "released the leader key less than a TTL ago: a standby may take it");
				return Make(DcsStep::ClaimStart, "no leader key: " + view.follow.reason);
			}
			return NotLeaderFollow(view, "no leader key");
		case LocalState::Standby:
			if (view.catalog_names_self) {
				if (view.newer_timeline_elsewhere)
					return NotLeaderFollow(view, "no leader key");
				if (view.released_recently)
					return Make(DcsStep::Wait, "released the leader key less than a TTL ago: a standby may take it");
				return Make(DcsStep::ClaimStart, "no leader key: this fenced former master (intact history) takes "
												 "it back");
			}
			if (!view.switchover_to.empty() && !view.switchover_stale) {
				if (view.switchover_to != view.self)
					return Make(DcsStep::Wait,
								"no leader key; not racing: a switchover to " + view.switchover_to + " is under way");
				// the old leader stopped and verified that this standby replayed its shutdown checkpoint: nothing
				// acknowledged is missing here, so neither the gate nor a rival holding more WAL matters
				if (view.switchover_caught_up)
					return Make(DcsStep::Race, "no leader key; switchover to this node: it replayed the old "
											   "leader's shutdown checkpoint");
				// a key naming this node without the verified catch-up: the leader died mid-switchover
			}
			if (!view.gate.allows)
				return Make(DcsStep::Wait, "no leader key; not racing: " + view.gate.reason);
			if (!view.better_candidate.empty())
				return Make(DcsStep::Wait, "no leader key; not racing: standby " + view.better_candidate +
											   " passes its gate and holds more WAL");
			return Make(DcsStep::Race, "no leader key; racing: " + view.gate.reason);
		}
	}
	// another node is the leader
	if (view.local == LocalState::Primary) {
		Action demote;
		if (view.follow.kind == ActionKind::Demote)
			demote = view.follow;
		return Make(DcsStep::Fence, "node " + view.leader + " holds the leader key: this node must not be writable",
					demote);
	}
	return NotLeaderFollow(view, "node " + view.leader + " holds the leader key");
}

AgentView
LeaderView(AgentView view, const std::string &leader) {
	if (leader.empty())
		return view;
	for (PeerView &peer : view.peers) {
		if (peer.name == leader && peer.reachable && !peer.in_recovery)
			peer.catalog_master = peer.name;
		else if (peer.name != leader)
			peer.catalog_master.clear();
	}
	return view;
}

std::string
BetterRival(const RaceCandidate &self, const std::vector<RaceCandidate> &rivals) {
	const RankedCandidate me{self.name, self.lsn, self.sync_state};
	for (const RaceCandidate &rival : rivals) {
		if (rival.name == self.name || !rival.passes_gate || !rival.reachable)
			continue;
		if (BetterCandidate(RankedCandidate{rival.name, rival.lsn, rival.sync_state}, me))
			return rival.name;
	}
	return {};
}

} // namespace mosta::sidecar::ha
