// ha_dcs_decide_test.cpp: the node agent's decisions in DCS mode (ha/dcs_decide.hpp: DecideDcs, DcsGate,
// LeaderView, BetterRival) and the values of its keys (ha/dcs_keys.hpp).
#include "ha/dcs_decide.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ha/dcs_keys.hpp"

namespace mosta::sidecar::ha {
namespace {

DcsView
View(LocalState local, std::string leader, bool dcs_ok = true) {
	DcsView view;
	view.self = "n1";
	view.dcs_ok = dcs_ok;
	view.within_deadline = dcs_ok;
	view.leader = std::move(leader);
	view.leader_on_our_lease = view.leader == "n1";
	view.local = local;
	view.local_read = local != LocalState::Stopped;
	return view;
}

DcsStatus
Status(std::string standby, std::string state, std::string sync_state, long long lag_ms) {
	DcsStatus status;
	status.present = true;
	status.leader = "n0";
	status.standbys[standby] = DcsStandbyRow{state, sync_state, "0/3000000", "0/3000000", lag_ms, 0};
	return status;
}

DcsSync
Sync(std::optional<std::string> standby) {
	return DcsSync{true, "n0", std::move(standby), "on"};
}

TEST(DecideDcs, TheHolderWithAPrimaryLeads) {
	EXPECT_EQ(DecideDcs(View(LocalState::Primary, "n1")).step, DcsStep::Lead);
}

TEST(DecideDcs, TheHolderOnAnEarlierAgentsLeaseReattachesTheKey) {
	DcsView view = View(LocalState::Primary, "n1");
	view.leader_on_our_lease = false;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Claim);
}

TEST(DecideDcs, TheHolderWhoseServerIsDownReleasesTheKeyAtOnce) {
	EXPECT_EQ(DecideDcs(View(LocalState::Stopped, "n1")).step, DcsStep::Release);
}

TEST(DecideDcs, AnUnreadableLeaderWaitsAndDoesNotRenew) {
	DcsView view = View(LocalState::Primary, "n1");
	view.local_read = false;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
}

TEST(DecideDcs, APrimaryWithoutTheKeyIsFencedWhenAnotherNodeHoldsIt) {
	DcsView view = View(LocalState::Primary, "n2");
	view.follow = Action{ActionKind::Demote, "n2", "n2 is the primary on a later timeline"};
	DcsDecision decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Fence);
	EXPECT_EQ(decision.follow.kind, ActionKind::Demote);
	view.follow = Action{ActionKind::None, "", "warning: n2 also claims the master role"};
	decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Fence);
	EXPECT_EQ(decision.follow.kind, ActionKind::None); // restart read-only
}

TEST(DecideDcs, TheCatalogsMasterClaimsAnAbsentKey) {
	DcsView view = View(LocalState::Primary, "");
	view.catalog_names_self = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Claim);
	view.newer_timeline_elsewhere = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Fence);
	view.newer_timeline_elsewhere = false;
	view.catalog_names_self = false;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Fence);
}

TEST(DecideDcs, AStandbyRacesOnlyThroughTheGateAndWhenNoRivalHoldsMore) {
	DcsView view = View(LocalState::Standby, "");
	view.gate = {false, "not sync"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	view.gate = {true, "named by the sync key"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Race);
	view.better_candidate = "n3";
	DcsDecision decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Wait);
	EXPECT_NE(decision.reason.find("n3"), std::string::npos);
}

TEST(DecideDcs, TheSwitchoverTargetRacesWithoutGateOrRivalOnlyOnceItsCatchUpIsVerified) {
	DcsView view = View(LocalState::Standby, "");
	view.gate = {false, "the sync key names n2"};
	view.better_candidate = "n2";
	view.switchover_to = "n1";
	view.switchover_caught_up = true;
	DcsDecision decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Race);
	EXPECT_NE(decision.reason.find("switchover"), std::string::npos);
	// without the verified catch-up (the leader died mid-switchover): the normal rules
	view.switchover_caught_up = false;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	view.gate = {true, "named by the sync key"};
	view.better_candidate.clear();
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Race);
	// a leader key present: the switchover key changes nothing
	view.leader = "n0";
	view.switchover_caught_up = true;
	view.follow = Action{ActionKind::None, "", "following n0"};
	EXPECT_NE(DecideDcs(view).step, DcsStep::Race);
}

TEST(DecideDcs, OtherStandbysDoNotRaceWhileAFreshSwitchoverKeyNamesAnotherNode) {
	DcsView view = View(LocalState::Standby, "");
	view.gate = {true, "named by the sync key"};
	view.switchover_to = "n3";
	DcsDecision decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Wait);
	EXPECT_NE(decision.reason.find("n3"), std::string::npos);
	view.switchover_caught_up = true; // only the target's own verification counts
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	// seen for more than 2 x TTL: a leader that died mid-switchover; the normal rules apply
	view.switchover_stale = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Race);
	view.gate = {false, "not sync"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	// a stale key naming this node does not spare the gate either
	view.switchover_to = "n1";
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
}

TEST(DcsKeys, SwitchoverRoundTrip) {
	DcsSwitchover switchover{true, "n1", "n3", 7, "", 0};
	DcsSwitchover read = ParseSwitchover(FormatSwitchover(switchover));
	EXPECT_TRUE(read.present);
	EXPECT_EQ(read.from, "n1");
	EXPECT_EQ(read.to, "n3");
	EXPECT_EQ(read.request, 7);
	EXPECT_EQ(read.checkpoint_lsn, "");
	switchover.checkpoint_lsn = "0/3000028";
	switchover.stopped_ms = 1234;
	read = ParseSwitchover(FormatSwitchover(switchover));
	EXPECT_EQ(read.checkpoint_lsn, "0/3000028");
	EXPECT_EQ(read.stopped_ms, 1234);
	EXPECT_FALSE(ParseSwitchover("{\"from\": \"n1\"}").present);
	EXPECT_FALSE(ParseSwitchover("nope").present);
}

TEST(DecideDcs, AStandbyFollowsTheLeaderAndNeverStartsAsThePrimary) {
	DcsView view = View(LocalState::Standby, "n2");
	view.follow = Action{ActionKind::Repoint, "n2", "does not follow n2"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Follow);
	view.local = LocalState::Stopped;
	view.follow = Action{ActionKind::StartPrimary, "", "peers confirm"};
	DcsDecision decision = DecideDcs(view);
	EXPECT_EQ(decision.step, DcsStep::Follow);
	EXPECT_EQ(decision.follow.kind, ActionKind::StartFenced);
}

TEST(DecideDcs, AStoppedFormerMasterWaitsATtlAfterReleasingThenClaims) {
	DcsView view = View(LocalState::Stopped, "");
	view.follow = Action{ActionKind::StartPrimary, "", "peers confirm"};
	view.released_recently = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	view.released_recently = false;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::ClaimStart);
	// a stopped primary alone in its project ("start as it is") needs the key too
	view.follow = Action{ActionKind::Start, "", "no other node"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::ClaimStart);
	view.standby_signal = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Follow);
}

TEST(DecideDcs, AFencedFormerMasterTakesTheKeyBackWhenItsHistoryIsIntact) {
	DcsView view = View(LocalState::Standby, "");
	view.catalog_names_self = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::ClaimStart);
	view.leader = "n1"; // its key survived (quorum loss): restart as the primary
	EXPECT_EQ(DecideDcs(view).step, DcsStep::ClaimStart);
	view.leader = "";
	view.newer_timeline_elsewhere = true;
	view.follow = Action{ActionKind::None, "", "fenced"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
}

TEST(DecideDcs, WithoutTheDcsTheLeaderFencesAtItsDeadlineAndNothingIsPromoted) {
	DcsView view = View(LocalState::Primary, "n1", false);
	view.within_deadline = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	view.within_deadline = false;
	view.lease_may_be_gone = false; // writes refused, no restart yet: the key cannot be elsewhere
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Suspend);
	view.lease_may_be_gone = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Fence);
	// a primary that was not the leader is fenced at once
	view = View(LocalState::Primary, "n2", false);
	view.within_deadline = true;
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Fence);
	// a standby never races without the DCS, whatever its gate
	view = View(LocalState::Standby, "", false);
	view.gate = {true, "sync"};
	EXPECT_EQ(DecideDcs(view).step, DcsStep::Wait);
	// a stopped node is not started as the primary
	view = View(LocalState::Stopped, "", false);
	view.follow = Action{ActionKind::StartPrimary, "", "peers confirm"};
	EXPECT_EQ(DecideDcs(view).follow.kind, ActionKind::StartFenced);
}

TEST(DcsGate, ToleranceZeroInManagedModesNeedsTheSyncKeyToNameTheStandby) {
	const DcsStatus status = Status("n2", "streaming", "sync", 0);
	EXPECT_TRUE(DcsGate("n2", 0, "on", status, Sync("n2")).allows);
	EXPECT_FALSE(DcsGate("n3", 0, "on", status, Sync("n2")).allows);
	EXPECT_FALSE(DcsGate("n2", 0, "strict", status, Sync(std::nullopt)).allows);
	EXPECT_FALSE(DcsGate("n2", 0, "on", status, DcsSync()).allows);
}

TEST(DcsGate, ToleranceZeroWithoutManagementReadsTheStatusKeysSyncState) {
	EXPECT_TRUE(DcsGate("n2", 0, "off", Status("n2", "streaming", "sync", 0), DcsSync()).allows);
	EXPECT_TRUE(DcsGate("n2", 0, "off", Status("n2", "streaming", "quorum", 0), DcsSync()).allows);
	EXPECT_FALSE(DcsGate("n2", 0, "off", Status("n2", "streaming", "async", 0), DcsSync()).allows);
	EXPECT_FALSE(DcsGate("n2", 0, "off", DcsStatus(), DcsSync()).allows);
}

TEST(DcsGate, APositiveToleranceBoundsTheObservedLag) {
	EXPECT_TRUE(DcsGate("n2", 500, "on", Status("n2", "streaming", "async", 400), Sync("n3")).allows);
	EXPECT_FALSE(DcsGate("n2", 500, "on", Status("n2", "streaming", "async", 900), Sync("n3")).allows);
	EXPECT_FALSE(DcsGate("n2", 500, "on", Status("n2", "catchup", "async", 0), Sync("n3")).allows);
	EXPECT_FALSE(DcsGate("n3", 500, "on", Status("n2", "streaming", "async", 0), Sync("n3")).allows);
}

TEST(LeaderView, OnlyTheLeaderCanBeThePrimary) {
	AgentView view;
	view.self = "n1";
	view.timeline = 1;
	view.local = LocalState::Standby;
	PeerView stale{"n0", true, false, 1, "n0"};	 // the old master, still writable, its catalog names it
	PeerView leader{"n2", true, false, 2, "n0"}; // promoted, catalog not swapped yet
	view.peers = {stale, leader};
	const AgentView filtered = LeaderView(view, "n2");
	ASSERT_NE(NewPrimary(filtered), nullptr);
	EXPECT_EQ(NewPrimary(filtered)->name, "n2");
	EXPECT_EQ(Decide(filtered).kind, ActionKind::Repoint);
	EXPECT_EQ(Decide(filtered).peer, "n2");
}

TEST(BetterRival, MostAdvancedWinsThenSynchronousThenName) {
	const RaceCandidate self{"n2", true, true, 0x3000000, "async"};
	EXPECT_EQ(BetterRival(self, {{"n3", true, true, 0x3000100, "async"}}), "n3");
	EXPECT_EQ(BetterRival(self, {{"n3", true, true, 0x2000000, "sync"}}), "");
	EXPECT_EQ(BetterRival(self, {{"n3", true, true, 0x3000000, "sync"}}), "n3");
	EXPECT_EQ(BetterRival(self, {{"n3", true, true, 0x3000000, "async"}}), "");
	EXPECT_EQ(BetterRival(self, {{"n1", true, true, 0x3000000, "async"}}), "n1");
	// a rival that fails its gate or cannot be reached does not count
	EXPECT_EQ(BetterRival(self, {{"n3", false, true, 0x9000000, "async"}}), "");
	EXPECT_EQ(BetterRival(self, {{"n3", true, false, 0x9000000, "async"}}), "");
}

TEST(DcsKeys, RoundTrip) {
	DcsMember member{true, "n1", "primary", 3, "0/3000060", "host:42", 1700000000000};
	DcsMember read = ParseMember(FormatMember(member));
	EXPECT_TRUE(read.present);
	EXPECT_EQ(read.role, "primary");
	EXPECT_EQ(read.timeline, 3u);
	EXPECT_EQ(read.lsn, "0/3000060");
	EXPECT_EQ(read.time_ms, 1700000000000);

	DcsStatus status = Status("n\"2", "streaming", "sync", 12);
	status.timeline = 2;
	status.wal_lsn = "0/3000000";
	DcsStatus back = ParseStatus(FormatStatus(status));
	ASSERT_TRUE(back.present);
	ASSERT_EQ(back.standbys.count("n\"2"), 1u);
	EXPECT_EQ(back.standbys["n\"2"].sync_state, "sync");
	EXPECT_EQ(back.standbys["n\"2"].lag_ms, 12);
	EXPECT_EQ(back.timeline, 2u);

	DcsSync sync = ParseSync(FormatSync(Sync("n2")));
	EXPECT_TRUE(sync.present);
	EXPECT_EQ(sync.sync_standby, "n2");
	sync = ParseSync(FormatSync(Sync(std::nullopt)));
	EXPECT_TRUE(sync.present);
	EXPECT_FALSE(sync.sync_standby);
}

TEST(DcsKeys, AValueThatCannotBeReadIsAbsent) {
	EXPECT_FALSE(ParseStatus("not json").present);
	EXPECT_FALSE(ParseSync("[1,2]").present);
	EXPECT_FALSE(ParseMember("{\"node\": 1}").present);
	// so that no standby passes the gate on it
	EXPECT_FALSE(DcsGate("n2", 0, "on", ParseStatus("{"), ParseSync("{")).allows);
}

} // namespace
} // namespace mosta::sidecar::ha
