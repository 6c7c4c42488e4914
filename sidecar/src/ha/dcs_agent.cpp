/*
 * dcs_agent.cpp
 *     The node agent's DCS loop (see dcs_agent.hpp).
 */
#include "ha/dcs_agent.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "dcs/dcs_timing.hpp"
#include "dcs/etcd_client.hpp"
#include "ha/agent_actions.hpp"
#include "ha/dcs_decide.hpp"
#include "ha/dcs_keys.hpp"
#include "ha/promotion.hpp"
#include "ha/switchover.hpp"
#include "ha/sync_standby.hpp"
#include "ha/watchdog.hpp"
#include "ha/write_lease_client.hpp"
#include "pg/lsn.hpp"
#include "util/pause.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

// AgentFatal stops the agent (exit 1): it cannot run safely as configured.
class AgentFatal : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

std::string
HostName() {
	char name[256] = {};
	if (gethostname(name, sizeof(name) - 1) != 0)
		return "localhost";
	return name;
}

// PostmasterGone tells whether the postmaster of pgdata is dead: no postmaster.pid, no such process, or a zombie
// (killed, not yet reaped: pg_ctl status still sees it running).
bool
PostmasterGone(const std::string &pgdata) {
	std::ifstream pid_file(pgdata + "/postmaster.pid");
	std::string pid;
	if (!pid_file || !std::getline(pid_file, pid) || pid.empty())
		return true;
	std::ifstream stat("/proc/" + pid + "/stat");
	std::string line;
	if (!stat || !std::getline(stat, line))
		return true;
	const std::size_t close = line.rfind(')'); // the state follows the command name, which may hold blanks
	return close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z';
}

// The project's keys as one GetPrefix read them.
struct ProjectKeys {
	std::string leader; // "" absent
	std::int64_t leader_lease = 0;
	std::map<std::string, DcsMember> members;
	DcsStatus status;
	DcsSync sync;
	DcsSwitchover switchover;
	std::string switchover_raw; // the switchover key's value as read ("" absent)
};

// kRejoinWait bounds how long a switchover's old leader waits to run as the new primary's standby before it marks
// the request done anyway (the loop goes on following).
constexpr std::chrono::milliseconds kRejoinWait{30'000};

// A switchover this leader carried out up to the release of its leader key: finished once the target leads.
struct HandOver {
	SwitchoverRequest request;
	SwitchoverRecord record;
	std::string target_uri;
	SteadyClock::time_point released;
	std::optional<SteadyClock::time_point> target_leads_since;
};

class DcsAgent {
  public:
	DcsAgent(const AgentOptions &options, const LocalServer &server, const std::atomic<bool> &stopping,
			 asio::any_io_executor executor)
		: options_(options), server_(server), stopping_(stopping), core_(options, server),
		  etcd_(executor, dcs::ParseDcsUrl(options.dcs)), base_(etcd_.Key("projects/" + options.project + "/")),
		  leader_key_(base_ + "leader"), status_key_(base_ + "status"), sync_key_(base_ + "sync"),
		  switchover_key_(base_ + "switchover"), member_key_(base_ + "members/" + options.node),
		  agent_id_(HostName() + ":" + std::to_string(getpid())) {}

	asio::awaitable<void>
	Loop() {
		LogLine("agent of node " + options_.node + " (project " + options_.project + ", " + options_.pgdata +
				"): started on " + etcd_.Url().Text() + " (leader key " + leader_key_ + ", ttl " +
				std::to_string(options_.dcs_ttl.count() / 1000) + " s, fence margin " +
				std::to_string(DcsFenceMargin(options_.dcs_ttl).count()) + " ms, synchronous " + options_.synchronous +
				")");
		if (!options_.watchdog.empty()) {
			try {
				watchdog_.Configure(options_.watchdog, options_.dcs_ttl - DcsFenceMargin(options_.dcs_ttl));
			} catch (const std::exception &error) {
				throw AgentFatal(error.what());
			}
		}
		while (!stopping_) {
			try {
				co_await Poll();
			} catch (const AgentFatal &) {
				throw;
			} catch (...) {
				core_.Note("poll failed: " + CurrentErrorText());
			}
			if (stopping_)
				break;
			co_await Pause(options_.poll_interval);
		}
		co_await Stop();
	}

  private:
	bool
	Leader() const {
		return keys_.leader == options_.node;
	}

	// Renew keeps the lease alive (or grants a new one) and reads the project's keys; false when etcd does not
	// answer.
	asio::awaitable<bool>
	Renew() {
		try {
			const BootClock::time_point sent = BootClock::now();
			if (lease_ != 0) {
				dcs::LeaseState state = co_await etcd_.KeepAlive(lease_);
				if (!state.alive) {
					LogLine("agent " + options_.node + ": the DCS lease " + std::to_string(lease_) +
							" is gone (its keys with it): granting a new one");
					lease_ = 0;
				}
			}
			if (lease_ == 0) {
				const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(options_.dcs_ttl);
				lease_ = (co_await etcd_.GrantLease(ttl)).first;
			}
			deadline_ = FenceDeadline(sent, options_.dcs_ttl);
			last_sent_ = sent;
			std::vector<dcs::KeyValue> values = co_await etcd_.GetPrefix(base_);
			keys_ = ProjectKeys();
			for (const dcs::KeyValue &kv : values) {
				const std::string relative = kv.key.substr(base_.size());
				if (relative == "leader") {
					keys_.leader = kv.value;
					keys_.leader_lease = kv.lease;
				} else if (relative == "status") {
					keys_.status = ParseStatus(kv.value);
				} else if (relative == "sync") {
					keys_.sync = ParseSync(kv.value);
				} else if (relative == "switchover") {
					keys_.switchover = ParseSwitchover(kv.value);
					keys_.switchover_raw = kv.value;
				} else if (relative.rfind("members/", 0) == 0) {
					keys_.members[relative.substr(8)] = ParseMember(kv.value);
				}
			}
			// how long this agent has seen this switchover key (its own clock): past 2 x TTL it is stale
			if (keys_.switchover_raw != switchover_seen_) {
				switchover_seen_ = keys_.switchover_raw;
				switchover_seen_since_ = SteadyClock::now();
			}
			if (dcs_lost_since_) {
				LogLine("agent " + options_.node + ": the DCS answers again (" + etcd_.Endpoint() + ") after " +
						std::to_string(MillisSince(*dcs_lost_since_)) + " ms");
				dcs_lost_since_.reset();
			}
			last_dcs_note_.clear();
			co_return true;
		} catch (const dcs::DcsUnavailable &) {
			if (!dcs_lost_since_)
				dcs_lost_since_ = SteadyClock::now();
			DcsNote("the DCS does not answer: " + CurrentErrorText());
		} catch (const dcs::DcsError &) {
			DcsNote("the DCS refused a request: " + CurrentErrorText());
		}
		co_return false;
	}

	// DcsNote logs a DCS error once (apart from the decisions' notes, which alternate with it).
	void
	DcsNote(const std::string &text) {
		if (text == last_dcs_note_)
			return;
		last_dcs_note_ = text;
		LogLine("agent " + options_.node + ": " + text);
	}

	// PutMember writes this node's member key (best effort: the decision does not depend on it).
	asio::awaitable<void>
	PutMember(const AgentLook &look, bool readable) {
		DcsMember member;
		member.node = options_.node;
		member.agent = agent_id_;
		member.time_ms = UnixMillis();
		member.timeline = look.view.timeline;
		if (!readable)
			member.role = "unknown";
		else if (look.view.local == LocalState::Stopped)
			member.role = "stopped";
		else if (look.view.local == LocalState::Primary)
			member.role = "primary";
		else
			member.role = look.view.local_catalog_master == options_.node ? "fenced" : "standby";
		if (look.probe && look.probe->MostAdvancedLsn() != kInvalidLsn)
			member.lsn = FormatLsn(look.probe->MostAdvancedLsn());
		try {
			co_await etcd_.Put(member_key_, FormatMember(member), lease_);
		} catch (...) {
			core_.Note("cannot write the member key: " + CurrentErrorText());
		}
	}

	// CheckEnforced refuses to run (once the server answers) when the server would not refuse writes without a
	// lease.
	asio::awaitable<void>
	CheckEnforced() {
		PgConnection conn(co_await asio::this_coro::executor);
		try {
			co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the server");
		} catch (...) {
			co_return; // starting up: at the next poll
		}
		WriteLeaseState state;
		try {
			state = co_await WithTimeout(ReadWriteLease(conn), kProbeTimeout, "reading the write lease");
		} catch (...) {
			throw AgentFatal("cannot read the server's write lease (" + CurrentErrorText() +
							 "): --dcs needs the mostajs extension 0.2.0 or later in the database of --source "
							 "(ALTER EXTENSION mostajs UPDATE)");
		}
		if (!state.enforced)
			throw AgentFatal(std::string("the local server does not enforce the write lease (") +
							 (state.preloaded ? "mostajs.write_lease is off" : "mostajs is not preloaded") +
							 "): without it a server whose agent froze would keep taking writes. Hint: set "
							 "shared_preload_libraries = 'mostajs' and mostajs.write_lease = on in postgresql.conf, "
							 "then restart the server (docs/ha.md)");
		enforced_checked_ = true;
	}

	asio::awaitable<void>
	Poll() {
		const bool dcs_ok = co_await Renew();
		if (!enforced_checked_ && server_.IsRunning())
			co_await CheckEnforced();
		PgConnection local(co_await asio::this_coro::executor);
		AgentLook look;
		// the leader decides from its own server alone (lead, release, restart as the primary, promote)
		const bool readable = co_await core_.Look(local, look, !(dcs_ok && Leader()));
		if (dcs_ok)
			co_await PutMember(look, readable);
		if (!readable) {
			// starting up, shutting down, in crash recovery: look again (a leader's write lease is not renewed
			// meanwhile, so its server refuses writes from the deadline); a leader whose server stays unreadable
			// for a TTL hands the key over
			if (!unreadable_since_)
				unreadable_since_ = SteadyClock::now();
			if (dcs_ok && Leader() && PostmasterGone(server_.DataDir())) {
				Log("release: leader, and the server's postmaster is dead: releasing the leader key now");
				co_await Release();
			} else if (dcs_ok && Leader() && SteadyClock::now() - *unreadable_since_ >= options_.dcs_ttl) {
				Log("release: leader, and the server has not answered for " +
					std::to_string(MillisSince(*unreadable_since_)) + " ms: releasing the leader key");
				co_await Release();
			}
			co_return;
		}
		unreadable_since_.reset();

		DcsView view;
		view.self = options_.node;
		view.dcs_ok = dcs_ok;
		view.within_deadline = deadline_ && BootClock::now() < *deadline_;
		view.lease_may_be_gone = !last_sent_ || BootClock::now() >= *last_sent_ + options_.dcs_ttl;
		view.leader = keys_.leader;
		view.leader_on_our_lease = keys_.leader_lease == lease_ && lease_ != 0;
		view.local = look.view.local;
		view.local_read = readable;
		view.standby_signal = look.view.standby_signal;
		view.catalog_names_self = look.view.local_catalog_master == options_.node;
		const std::uint32_t ours = look.view.timeline.value_or(0);
		for (const auto &[name, member] : keys_.members)
			if (name != options_.node && member.timeline && *member.timeline > ours)
				view.newer_timeline_elsewhere = true;
		for (const PeerView &peer : look.view.peers)
			if (peer.reachable && peer.timeline && *peer.timeline > ours)
				view.newer_timeline_elsewhere = true;
		view.released_recently = released_at_ && SteadyClock::now() - *released_at_ < options_.dcs_ttl;
		view.follow = Decide(LeaderView(look.view, dcs_ok ? keys_.leader : std::string()));
		if (dcs_ok && keys_.leader.empty()) {
			if (!leader_absent_since_)
				leader_absent_since_ = SteadyClock::now();
		} else if (dcs_ok) {
			leader_absent_since_.reset();
		}
		if (dcs_ok && keys_.switchover.present) {
			view.switchover_to = keys_.switchover.to;
			view.switchover_stale = SteadyClock::now() - switchover_seen_since_ > 2 * options_.dcs_ttl;
			const std::optional<Lsn> checkpoint = ParseLsn(keys_.switchover.checkpoint_lsn);
			view.switchover_caught_up = keys_.switchover.to == options_.node && checkpoint && look.probe &&
										look.probe->MostAdvancedLsn() > *checkpoint;
		}
		const bool switchover_race =
			view.switchover_to == options_.node && view.switchover_caught_up && !view.switchover_stale;
		std::vector<RaceCandidate> rivals;
		if (dcs_ok && keys_.leader.empty() && view.local == LocalState::Standby && !view.catalog_names_self &&
			!switchover_race)
			co_await Gate(look, view, rivals);

		const DcsDecision decision = DecideDcs(view);
		if (decision.step == DcsStep::Wait || decision.step == DcsStep::Lead || decision.step == DcsStep::Suspend)
			core_.Note(decision.reason);
		else if (decision.step != DcsStep::Follow)
			Log(std::string(DcsStepName(decision.step)) + ": " + decision.reason);
		switch (decision.step) {
		case DcsStep::Wait:
			break;
		case DcsStep::Lead:
			co_await Lead(local, look);
			break;
		case DcsStep::Release:
			co_await Release();
			break;
		case DcsStep::Claim:
			if (co_await TakeKey()) {
				co_await WriteSyncNull();
				co_await Lead(local, look);
			}
			break;
		case DcsStep::ClaimStart:
			local.Close();
			if (co_await TakeKey())
				co_await StartPrimary();
			break;
		case DcsStep::Race:
			co_await Race(local, look, view, rivals, switchover_race);
			break;
		case DcsStep::Suspend:
			try {
				co_await RevokeWriteLease(local);
			} catch (...) {
				core_.Note("cannot revoke the write lease (" + CurrentErrorText() +
						   "): it has expired by itself at the last deadline granted");
			}
			granted_once_ = false;
			break;
		case DcsStep::Fence:
			co_await Fence(local, look, decision);
			break;
		case DcsStep::Follow:
			local.Close();
			co_await core_.Act(decision.follow, look.peers);
			break;
		}
		if (dcs_ok && handing_over_)
			co_await FollowHandOver(look);
		// the watchdog is petted while this live agent may act as the leader; a frozen one gets the host reset
		if (Leader() && BootClock::now() < deadline_.value_or(BootClock::time_point()) &&
			(decision.step == DcsStep::Lead || decision.step == DcsStep::Claim || decision.step == DcsStep::Wait))
			core_.Note(watchdog_.Keepalive());
		else
			watchdog_.Disarm();
	}

	void
	Log(const std::string &text) {
		core_.ForgetNote();
		LogLine("agent " + options_.node + ": " + text);
	}

	// Gate fills view.gate and view.better_candidate: this standby's gate, and the live eligible standbys that
	// hold more WAL (probed).
	asio::awaitable<void>
	Gate(const AgentLook &look, DcsView &view, std::vector<RaceCandidate> &rivals) {
		if (!look.topology || look.topology->Find(options_.node) == nullptr) {
			view.gate.allows = false;
			view.gate.reason = "this node is not a replica of project " + options_.project + " in its catalog";
			co_return;
		}
		const Topology &topology = *look.topology;
		view.gate = DcsGate(options_.node, topology.Find(options_.node)->lag_tolerance_ms, options_.synchronous,
							keys_.status, keys_.sync);
		if (!view.gate.allows)
			co_return;
		RaceCandidate self;
		self.name = options_.node;
		self.passes_gate = self.reachable = true;
		self.lsn = look.probe ? look.probe->MostAdvancedLsn() : kInvalidLsn;
		self.sync_state = ObservationFromStatus(keys_.status, options_.node).sync_state;
		std::vector<std::string> uris;
		for (const auto &[name, member] : keys_.members) {
			const TopologyReplica *replica = topology.Find(name);
			if (name == options_.node || replica == nullptr || replica->dialect != "postgres" ||
				member.role != "standby")
				continue;
			RaceCandidate rival;
			rival.name = name;
			rival.passes_gate =
				DcsGate(name, replica->lag_tolerance_ms, options_.synchronous, keys_.status, keys_.sync).allows;
			rival.sync_state = ObservationFromStatus(keys_.status, name).sync_state;
			if (!rival.passes_gate)
				continue;
			rivals.push_back(rival);
			uris.push_back(replica->uri);
		}
		if (!uris.empty()) {
			std::vector<NodeProbe> probes = co_await ProbeNodes(uris);
			for (std::size_t i = 0; i < probes.size(); ++i) {
				rivals[i].reachable = probes[i].reachable && probes[i].in_recovery;
				rivals[i].lsn = probes[i].MostAdvancedLsn();
			}
		}
		view.better_candidate = BetterRival(self, rivals);
	}

	// TakeKey creates the leader key (or re-attaches ours to this agent's lease).
	asio::awaitable<bool>
	TakeKey() {
		bool taken = false;
		try {
			if (keys_.leader == options_.node)
				taken = co_await etcd_.CompareAndPut(leader_key_, options_.node, options_.node, lease_);
			else
				taken = co_await etcd_.Create(leader_key_, options_.node, lease_);
		} catch (...) {
			Log("cannot take the leader key: " + CurrentErrorText());
			co_return false;
		}
		if (!taken) {
			Log("the leader key was taken by another node first");
			co_return false;
		}
		keys_.leader = options_.node;
		keys_.leader_lease = lease_;
		released_at_.reset();
		Log("holds the leader key " + leader_key_ + " (lease " + std::to_string(lease_) + ")");
		co_return true;
	}

	// GuardedPut writes key only while this node holds the leader key.
	asio::awaitable<bool>
	GuardedPut(const std::string &key, const std::string &value) {
		std::vector<dcs::Compare> guard(1);
		guard[0].key = leader_key_;
		guard[0].target = dcs::Compare::Target::Value;
		guard[0].value = options_.node;
		std::vector<dcs::Operation> put(1);
		put[0].kind = dcs::Operation::Kind::Put;
		put[0].key = key;
		put[0].value = value;
		const bool done = co_await etcd_.Txn(guard, put);
		co_return done;
	}

	// SyncValue is the sync key's value naming standby (nullopt: none).
	std::string
	SyncValue(const std::optional<std::string> &standby) const {
		DcsSync sync;
		sync.leader = options_.node;
		sync.sync_standby = standby;
		sync.mode = options_.synchronous;
		return FormatSync(sync);
	}

	asio::awaitable<void>
	WriteSyncNull() {
		if (options_.synchronous == "off")
			co_return;
		try {
			const std::string value = SyncValue(std::nullopt);
			co_await GuardedPut(sync_key_, value);
			keys_.sync = ParseSync(value);
		} catch (...) {
			Log("cannot clear the sync key: " + CurrentErrorText());
		}
	}

	// Lead renews the server's write lease to the deadline of the last keep-alive, publishes the status key and
	// manages the synchronous standby. No pg_ctl here: the leader's steady state never blocks.
	asio::awaitable<void>
	Lead(PgConnection &local, const AgentLook &look) {
		const long long remaining = co_await GrantWriteLease(local, *deadline_);
		if (!granted_once_) {
			Log("server write lease granted (" + std::to_string(remaining) + " ms left; renewed every poll)");
			granted_once_ = true;
		}
		const LeaderReplication reading = co_await ReadLeaderReplication(local);
		DcsStatus status;
		status.present = true;
		status.leader = options_.node;
		status.timeline = look.view.timeline;
		status.time_ms = UnixMillis();
		status.wal_lsn = reading.wal_lsn;
		status.standbys = reading.standbys;
		const std::string value = FormatStatus(status);
		try {
			co_await GuardedPut(status_key_, value);
		} catch (...) {
			core_.Note("cannot publish the status key: " + CurrentErrorText());
		}
		if (options_.synchronous != "off" && look.topology)
			co_await ManageSync(local, look, reading);
		if (!handing_over_ && keys_.switchover.present && keys_.switchover.from != options_.node)
			co_await ClearForeignSwitchoverKey();
		if (!handing_over_)
			co_await Switchover(local, look);
	}

	// ClearForeignSwitchoverKey deletes, guarded by our leader key, a switchover key another node wrote (the one
	// that handed over to us, or a leader that died mid-switchover): a leftover key must not spare a later
	// failover's racer the gate.
	asio::awaitable<void>
	ClearForeignSwitchoverKey() {
		std::vector<dcs::Compare> guard(1);
		guard[0].key = leader_key_;
		guard[0].target = dcs::Compare::Target::Value;
		guard[0].value = options_.node;
		std::vector<dcs::Operation> remove(1);
		remove[0].kind = dcs::Operation::Kind::Delete;
		remove[0].key = switchover_key_;
		try {
			if (co_await etcd_.Txn(guard, remove)) {
				Log("deleted the switchover key of " + keys_.switchover.from + " (to " + keys_.switchover.to + ")");
				keys_.switchover = DcsSwitchover();
			}
		} catch (...) {
			core_.Note("cannot delete the switchover key: " + CurrentErrorText());
		}
	}

	// KeepLease renews the DCS lease during a switchover's blocking steps (the loop does not poll meanwhile);
	// false when the lease is gone or etcd does not answer.
	asio::awaitable<bool>
	KeepLease() {
		try {
			const BootClock::time_point sent = BootClock::now();
			if (lease_ == 0 || !(co_await etcd_.KeepAlive(lease_)).alive)
				co_return false;
			deadline_ = FenceDeadline(sent, options_.dcs_ttl);
			last_sent_ = sent;
			co_return true;
		} catch (...) {
			co_return false;
		}
	}

	// DeleteSwitchoverKey removes the switchover key (best effort: a stale one is ignored after 2 x TTL).
	asio::awaitable<void>
	DeleteSwitchoverKey() {
		try {
			co_await etcd_.Delete(switchover_key_);
		} catch (...) {
			Log("cannot delete the switchover key: " + CurrentErrorText());
		}
	}

	// Switchover carries out a pending switchover request (mosta_switchover()) under --dcs: check the target,
	// write the switchover key, stop taking writes (revoke the write lease, CHECKPOINT, stop -m fast), wait until
	// the target replayed the shutdown checkpoint, record it in the key and release the leader key: the target
	// races for it without the gate (dcs_decide.hpp); FollowHandOver finishes. When the target does not catch up,
	// this node starts again as the primary (it still holds the key), the request fails, nothing is lost.
	asio::awaitable<void>
	Switchover(PgConnection &local, const AgentLook &look) {
		const SwitchoverRequest request = co_await ClaimSwitchoverRequest(local, options_.project);
		if (request.id == 0)
			co_return;
		// the switchover's own rows must not wait for a synchronous standby (a blocked agent renews nothing)
		co_await local.Exec("not waiting for a synchronous standby", "SET synchronous_commit = local");
		Log("switchover " + std::to_string(request.id) + " to " + request.target + " claimed");
		SwitchoverRecord record(request, options_.node);
		std::string target_uri;
		DcsSwitchover key{true, options_.node, request.target, request.id, "", 0};
		bool revoked = false;
		bool key_written = false;
		try {
			const TopologyReplica *target = look.topology ? look.topology->Find(request.target) : nullptr;
			if (target == nullptr || target->role != "slave" || target->dialect != "postgres")
				throw std::runtime_error("replica \"" + request.target + "\" is not a postgres slave of project \"" +
										 request.project + "\" any more");
			target_uri = target->uri;
			const auto member = keys_.members.find(request.target);
			if (member == keys_.members.end() || !member->second.present)
				throw std::runtime_error("the agent of " + request.target +
										 " is not alive (no member key in the DCS): it could not take the leader key");
			co_await record.Step(local, "started", ", \"dcs\": true");
			NodeProbe self = co_await CheckSwitchoverTarget(local, request.target, target_uri);
			if (!co_await GuardedPut(switchover_key_, FormatSwitchover(key)))
				throw std::runtime_error("this node no longer holds the leader key");
			key_written = true;
			const std::string lsn = self.current_lsn ? FormatLsn(*self.current_lsn) : std::string();
			const std::string more = ", \"lsn\": " + JsonQuote(lsn);
			co_await record.Step(local, "stopping the master", more);
			// from here no commit passes on this server
			key.stopped_ms = UnixMillis();
			co_await RevokeWriteLease(local);
			revoked = true;
			co_await local.Exec("checkpointing before the switchover", "CHECKPOINT");
		} catch (...) {
			record.error = CurrentErrorText();
		}
		if (!record.error.empty()) {
			Log("switchover " + std::to_string(request.id) + " refused: " + record.error);
			try {
				if (revoked)
					co_await GrantWriteLease(local, *deadline_);
				co_await record.Finish(local, "failed");
			} catch (...) {
				Log("cannot mark switchover " + std::to_string(request.id) + " failed: " + CurrentErrorText());
			}
			if (key_written)
				co_await DeleteSwitchoverKey();
			co_return;
		}
		local.Close();
		granted_once_ = false;
		const auto stopped_at = SteadyClock::now();
		std::optional<Lsn> replayed;
		try {
			co_await KeepLease();
			record.checkpoint = StopForSwitchover(server_);
			Log("switchover " + std::to_string(request.id) + ": stopped; shutdown checkpoint at " +
				FormatLsn(record.checkpoint) + "; waiting for " + request.target);
			const auto until = SteadyClock::now() + options_.catchup_timeout;
			while (SteadyClock::now() < until) {
				// the key must stay ours while we wait: the target races only once we release it
				if (!co_await KeepLease())
					throw std::runtime_error("the DCS lease could not be renewed while waiting for the target");
				const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
				replayed = co_await WaitForReplay(target_uri, request.target, record.checkpoint,
												  std::min(left, options_.poll_interval));
				if (replayed && *replayed > record.checkpoint)
					break;
			}
			if (!replayed || *replayed <= record.checkpoint)
				throw std::runtime_error("the target " + request.target + " did not replay the shutdown checkpoint " +
										 FormatLsn(record.checkpoint) + " within " +
										 std::to_string(options_.catchup_timeout.count()) + " ms (replayed up to " +
										 (replayed ? FormatLsn(*replayed) : std::string("unknown")) + ")");
			// the verified catch-up goes into the key, still guarded by our leader key, then the key goes
			key.checkpoint_lsn = FormatLsn(record.checkpoint);
			if (!co_await GuardedPut(switchover_key_, FormatSwitchover(key)))
				throw std::runtime_error("this node no longer holds the leader key");
		} catch (...) {
			record.error = CurrentErrorText();
		}
		if (!record.error.empty()) {
			co_await AbortSwitchover(request, record);
			co_return;
		}
		bool deleted = false;
		try {
			deleted = co_await etcd_.CompareAndDelete(leader_key_, options_.node);
		} catch (...) {
			// unknown outcome: a key still ours is released by the next poll (the server is down)
			Log("releasing the leader key for the switchover: " + CurrentErrorText());
			deleted = true;
		}
		Log("switchover " + std::to_string(request.id) + ": " + request.target + " replayed " + FormatLsn(*replayed) +
			" past the shutdown checkpoint; leader key " + (deleted ? "released for it" : "no longer ours"));
		keys_.leader.clear();
		released_at_ = SteadyClock::now();
		watchdog_.Disarm();
		handing_over_.emplace(HandOver{request, record, target_uri, stopped_at, std::nullopt});
	}

	// AbortSwitchover starts this stopped leader again as the primary (it still holds the key) after the target
	// did not catch up, and fails the request; nothing was handed over.
	asio::awaitable<void>
	AbortSwitchover(const SwitchoverRequest &request, SwitchoverRecord &record) {
		Log("switchover " + std::to_string(request.id) + " failed: " + record.error);
		try {
			if (!co_await KeepLease())
				throw std::runtime_error("the DCS lease is gone: not restarting as the primary (the agent's loop "
										 "decides)");
			server_.RemoveStandbySignal();
			server_.Start(kAgentServerTimeout);
			PgConnection conn(co_await asio::this_coro::executor);
			co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the server");
			const long long remaining = co_await GrantWriteLease(conn, *deadline_);
			co_await conn.Exec("not waiting for a synchronous standby", "SET synchronous_commit = local");
			Log("started again as the primary; write lease granted (" + std::to_string(remaining) + " ms left)");
			co_await DeleteSwitchoverKey();
			co_await record.Finish(conn, "failed");
		} catch (...) {
			Log("after the failed switchover " + std::to_string(request.id) + ": " + CurrentErrorText());
		}
	}

	// FollowHandOver finishes our switchover once the target holds the leader key: when this node runs as its
	// standby (the loop's Follow) or after kRejoinWait, the request is marked done on the new primary and the
	// switchover key deleted. When this node took the key back (the target did not take it within a TTL), the
	// request fails.
	asio::awaitable<void>
	FollowHandOver(const AgentLook &look) {
		HandOver &hand = *handing_over_;
		const std::string id = std::to_string(hand.request.id);
		if (keys_.leader.empty())
			co_return;
		if (keys_.leader != hand.request.target) {
			hand.record.error = "node " + keys_.leader + " took the leader key, not the target";
			Log("switchover " + id + " failed: " + hand.record.error);
			try {
				PgConnection conn(co_await asio::this_coro::executor);
				if (keys_.leader == options_.node)
					co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout,
										 "connecting to the server");
				if (conn.IsOpen()) {
					co_await conn.Exec("not waiting for a synchronous standby", "SET synchronous_commit = local");
					co_await hand.record.Finish(conn, "failed");
				}
			} catch (...) {
				Log("cannot mark switchover " + id + " failed: " + CurrentErrorText());
			}
			co_await DeleteSwitchoverKey();
			handing_over_.reset();
			co_return;
		}
		if (!hand.target_leads_since)
			hand.target_leads_since = SteadyClock::now();
		const bool following = look.view.local == LocalState::Standby;
		if (!following && SteadyClock::now() - *hand.target_leads_since < kRejoinWait)
			co_return;
		try {
			PgConnection primary(co_await asio::this_coro::executor);
			co_await WithTimeout(primary.Connect(hand.target_uri, ConnectionKind::Sql), kProbeTimeout,
								 "connecting to the new primary " + hand.request.target);
			co_await primary.Exec("not waiting for a synchronous standby", "SET synchronous_commit = local");
			PgResultHandle row = co_await primary.Exec(
				"reading the switchover's downtime",
				"SELECT detail->>'downtime_ms', detail->>'new_timeline' FROM mosta.activity WHERE action = "
				"'switchover' AND detail->>'request' = '" +
					id + "' ORDER BY id DESC LIMIT 1");
			if (PQntuples(row.get()) == 1 && !PQgetisnull(row.get(), 0, 0)) {
				hand.record.downtime_ms = std::stoll(PQgetvalue(row.get(), 0, 0));
				if (!PQgetisnull(row.get(), 0, 1))
					hand.record.timeline = static_cast<std::uint32_t>(std::stoul(PQgetvalue(row.get(), 0, 1)));
			}
			co_await hand.record.Step(
				primary,
				following ? "old master follows the new primary" : "old master not yet following the new primary", "");
			co_await hand.record.Finish(primary, "done", false);
		} catch (...) {
			Log("cannot mark switchover " + id + " done (retrying at the next poll): " + CurrentErrorText());
			co_return;
		}
		co_await DeleteSwitchoverKey();
		handing_over_.reset();
	}

	// ManageSync carries out one poll of the synchronous standby protocol (sync_standby.hpp).
	asio::awaitable<void>
	ManageSync(PgConnection &local, const AgentLook &look, const LeaderReplication &reading) {
		std::vector<std::string> eligible;
		for (const TopologyReplica &replica : look.topology->replicas)
			if (replica.dialect == "postgres" && replica.name != options_.node)
				eligible.push_back(replica.name);
		const bool key_ours = keys_.sync.present && keys_.sync.leader == options_.node;
		if (keys_.sync.present && !key_ours) {
			co_await WriteSyncNull(); // a former leader's key says nothing about this one's setting
			co_return;
		}
		const std::optional<std::string> key = key_ours ? keys_.sync.sync_standby : std::nullopt;
		const SyncPlan plan = PlanSync(options_.synchronous, reading.synchronous_names, key, reading.rows, eligible);
		if (plan.reason.empty())
			co_return;
		Log("synchronous standby: " + plan.reason);
		if (plan.clear_key || (!keys_.sync.present && plan.set_names)) {
			const std::string value = SyncValue(std::nullopt);
			if (!co_await GuardedPut(sync_key_, value))
				co_return;
			keys_.sync = ParseSync(value);
		}
		if (plan.set_names) {
			co_await local.Exec("setting synchronous_standby_names", "ALTER SYSTEM SET synchronous_standby_names = " +
																		 PgConnection::QuoteLiteral(*plan.set_names));
			co_await local.Exec("reloading the configuration", "SELECT pg_reload_conf()");
			co_await NudgeStandbys(local);
		}
		if (plan.name_key) {
			const std::string value = SyncValue(plan.desired);
			if (co_await GuardedPut(sync_key_, value))
				keys_.sync = ParseSync(value);
			co_await NudgeStandbys(local);
		}
	}

	// NudgeStandbys commits an empty transaction with an xid (one commit record, not waiting for any standby;
	// logical decoding outputs nothing for it) so that the standbys reply at once: commits waiting for a standby
	// no longer named are released at the new synchronous standby's next reply, which an idle standby sends only
	// every wal_receiver_status_interval.
	asio::awaitable<void>
	NudgeStandbys(PgConnection &local) {
		try {
			co_await local.Exec("writing a WAL record for the standbys to acknowledge",
								"SELECT set_config('synchronous_commit', 'local', true), pg_current_xact_id()");
		} catch (...) {
			core_.Note("cannot write a WAL record after changing the synchronous standby (" + CurrentErrorText() +
					   "): commits that waited for the former one are released at the new one's next reply");
		}
	}

	// Release deletes our leader key at once: the server is down, the standbys race now.
	asio::awaitable<void>
	Release() {
		bool deleted = false;
		try {
			deleted = co_await etcd_.CompareAndDelete(leader_key_, options_.node);
		} catch (...) {
			Log("cannot release the leader key: " + CurrentErrorText());
			co_return;
		}
		released_at_ = SteadyClock::now();
		granted_once_ = false;
		watchdog_.Disarm();
		Log(deleted ? "leader key released: the server is down; it is not restarted as the primary while a standby "
					  "may take the key"
					: "the leader key was no longer ours");
	}

	// StartPrimary (re)starts the local server as the primary (we hold the key) and grants its write lease.
	asio::awaitable<void>
	StartPrimary() {
		Log("starting the server as the primary");
		if (server_.IsRunning())
			server_.Stop("fast", kAgentServerTimeout);
		server_.RemoveStandbySignal();
		server_.Start(kAgentServerTimeout);
		PgConnection conn(co_await asio::this_coro::executor);
		co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout, "connecting to the server");
		const long long remaining = co_await GrantWriteLease(conn, *deadline_);
		Log("started as the primary; write lease granted (" + std::to_string(remaining) + " ms left)");
		co_await WriteSyncNull();
	}

	std::string
	Source() const {
		return options_.source;
	}

	// Race takes the leader key and promotes this standby: write lease first (the first writes pass), then
	// pg_promote, the catalog swap, and the `failover` activity row.
	asio::awaitable<void>
	Race(PgConnection &local, const AgentLook &look, const DcsView &view, const std::vector<RaceCandidate> &rivals,
		 bool switchover) {
		const long long gone_ms = leader_absent_since_ ? MillisSince(*leader_absent_since_) : 0;
		// the last leader's last status: about when it stopped renewing (wall clocks of two hosts)
		const std::string status_age =
			keys_.status.present ? std::to_string(UnixMillis() - keys_.status.time_ms) : std::string("null");
		if ((!Leader() || keys_.leader_lease != lease_) && !co_await TakeKey())
			co_return;
		const auto start = SteadyClock::now();
		co_await GrantWriteLease(local, *deadline_);
		local.Close();
		PromotionResult promotion = co_await PromoteStandby(Source());
		Log("promoted in " + std::to_string(promotion.took.count()) + " ms (timeline " +
			(promotion.timeline ? std::to_string(*promotion.timeline) : std::string("?")) + ")");
		co_await WriteSyncNull();
		PgConnection conn(co_await asio::this_coro::executor);
		co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout, "connecting to the server");
		co_await GrantWriteLease(conn, *deadline_);
		// the catalog swap and the activity row must not wait for a synchronous standby (none may stream from
		// this new primary yet, and a blocked agent would not renew its lease)
		co_await conn.Exec("not waiting for a synchronous standby", "SET synchronous_commit = local");
		SwapResult swap;
		try {
			swap = co_await SwapMaster(conn, options_.project, options_.node);
		} catch (...) {
			Log("the catalog swap failed: " + CurrentErrorText());
		}
		std::string candidates = "[";
		for (std::size_t i = 0; i < rivals.size(); ++i)
			candidates += std::string(i == 0 ? "" : ",") + "{\"name\":" + JsonQuote(rivals[i].name) +
						  ",\"reachable\":" + (rivals[i].reachable ? "true" : "false") +
						  ",\"lsn\":" + JsonQuote(FormatLsn(rivals[i].lsn)) + "}";
		candidates += "]";
		const Lsn lsn = look.probe ? look.probe->MostAdvancedLsn() : kInvalidLsn;
		if (switchover) {
			co_await LogSwitchoverPromotion(conn, swap, promotion, lsn);
			co_return;
		}
		const std::string detail =
			"{\"automatic\": true, \"from\": " +
			(swap.old_master.empty() ? std::string("null") : JsonQuote(swap.old_master)) +
			", \"to\": " + JsonQuote(options_.node) +
			", \"gate\": {\"allows\": " + (view.gate.allows ? "true" : "false") +
			", \"reason\": " + JsonQuote(view.gate.reason) + "}, \"candidates\": " + candidates +
			", \"promoted_lsn\": " + JsonQuote(FormatLsn(lsn)) +
			", \"new_timeline\": " + (promotion.timeline ? std::to_string(*promotion.timeline) : std::string("null")) +
			", \"promotion_ms\": " + std::to_string(promotion.took.count()) +
			", \"leader_gone_for_ms\": " + std::to_string(gone_ms) + ", \"last_status_age_ms\": " + status_age +
			", \"took_ms\": " + std::to_string(MillisSince(start)) + ", \"dcs\": " + JsonQuote(etcd_.Url().Text()) +
			"}";
		try {
			co_await LogActivity(conn, "failover", options_.project, options_.node, detail);
		} catch (...) {
			Log("cannot log the failover: " + CurrentErrorText());
		}
		Log("automatic failover: " + options_.node + " is the primary (from " +
			(swap.old_master.empty() ? std::string("?") : swap.old_master) + ", leader key gone for " +
			std::to_string(gone_ms) + " ms)");
	}

	// LogSwitchoverPromotion writes the `switchover` activity row of the target of a planned switchover (and the
	// switchover_step row the switchover command prints): downtime from the old leader's stop (two hosts' wall
	// clocks).
	asio::awaitable<void>
	LogSwitchoverPromotion(PgConnection &conn, const SwapResult &swap, const PromotionResult &promotion, Lsn lsn) {
		const DcsSwitchover &key = keys_.switchover;
		const long long downtime = key.stopped_ms > 0 ? UnixMillis() - key.stopped_ms : -1;
		const std::string detail =
			"{\"request\": " + std::to_string(key.request) + ", \"from\": " + JsonQuote(key.from) +
			", \"to\": " + JsonQuote(options_.node) +
			", \"dcs\": true, \"shutdown_checkpoint_lsn\": " + JsonQuote(key.checkpoint_lsn) +
			", \"promoted_lsn\": " + JsonQuote(FormatLsn(lsn)) +
			", \"new_timeline\": " + (promotion.timeline ? std::to_string(*promotion.timeline) : std::string("null")) +
			", \"promotion_ms\": " + std::to_string(promotion.took.count()) +
			", \"downtime_ms\": " + std::to_string(downtime) +
			", \"catalog_from\": " + (swap.old_master.empty() ? std::string("null") : JsonQuote(swap.old_master)) + "}";
		try {
			co_await LogActivity(conn, "switchover_step", options_.project, options_.node,
								 "{\"request\": " + std::to_string(key.request) +
									 ", \"step\": \"promoted (leader key taken)\", \"from\": " + JsonQuote(key.from) +
									 ", \"to\": " + JsonQuote(options_.node) + ", \"ms\": " + std::to_string(downtime) +
									 ", \"downtime_ms\": " + std::to_string(downtime) + "}");
			co_await LogActivity(conn, "switchover", options_.project, options_.node, detail);
		} catch (...) {
			Log("cannot log the switchover: " + CurrentErrorText());
		}
		Log("switchover " + std::to_string(key.request) + ": " + options_.node + " is the primary (from " + key.from +
			", writes stopped for " + std::to_string(downtime) + " ms)");
	}

	// Fence makes this node not writable: revoke its write lease now (refused from the next commit), then demote
	// (rewind and follow the leader) or restart read-only.
	asio::awaitable<void>
	Fence(PgConnection &local, const AgentLook &look, const DcsDecision &decision) {
		if (look.view.local == LocalState::Primary) {
			try {
				co_await RevokeWriteLease(local);
				Log("write lease revoked: the server refuses writes from now on");
			} catch (...) {
				Log("cannot revoke the write lease (" + CurrentErrorText() +
					"): it expires by itself at the last deadline granted");
			}
		}
		local.Close();
		granted_once_ = false;
		watchdog_.Disarm();
		if (decision.follow.kind == ActionKind::Demote) {
			co_await core_.Act(decision.follow, look.peers);
			co_return;
		}
		if (server_.IsRunning() && look.view.local == LocalState::Primary) {
			LogLine("agent " + options_.node +
					": WARNING: restarting the server READ-ONLY (standby.signal): " + decision.reason);
			server_.Stop("fast", kAgentServerTimeout);
			server_.MakeStandby("");
			server_.Start(kAgentServerTimeout);
		}
	}

	// Stop hands over on SIGTERM: a leader revokes its server's write lease and restarts it read-only; every agent
	// revokes its DCS lease (its keys go at once: the standbys race now).
	asio::awaitable<void>
	Stop() {
		if (Leader() && server_.IsRunning()) {
			try {
				PgConnection conn(co_await asio::this_coro::executor);
				co_await WithTimeout(conn.Connect(Source(), ConnectionKind::Sql), kProbeTimeout,
									 "connecting to the server");
				co_await RevokeWriteLease(conn);
			} catch (...) {
				LogLine("agent " + options_.node + ": cannot revoke the write lease: " + CurrentErrorText());
			}
			try {
				server_.Stop("fast", kAgentServerTimeout);
				server_.MakeStandby("");
				server_.Start(kAgentServerTimeout);
				LogLine("agent " + options_.node + ": leader stopping: the server runs read-only now");
			} catch (...) {
				LogLine("agent " + options_.node + ": cannot restart the server read-only: " + CurrentErrorText());
			}
		}
		watchdog_.Disarm();
		if (lease_ != 0) {
			try {
				co_await etcd_.Revoke(lease_);
			} catch (...) {
				LogLine("agent " + options_.node + ": cannot revoke the DCS lease: " + CurrentErrorText());
			}
		}
		LogLine("agent of node " + options_.node + ": stopped" +
				(Leader() ? " (leader key released)" : " (the server is left as it is)"));
	}

	const AgentOptions &options_;
	const LocalServer &server_;
	const std::atomic<bool> &stopping_;
	AgentCore core_;
	dcs::EtcdClient etcd_;
	const std::string base_;
	const std::string leader_key_;
	const std::string status_key_;
	const std::string sync_key_;
	const std::string switchover_key_;
	const std::string member_key_;
	const std::string agent_id_;
	Watchdog watchdog_;
	std::int64_t lease_ = 0;
	std::optional<BootClock::time_point> deadline_;	 // FenceDeadline of the last successful keep-alive
	std::optional<BootClock::time_point> last_sent_; // when that keep-alive was sent
	ProjectKeys keys_;								 // as last read
	bool enforced_checked_ = false;
	bool granted_once_ = false;
	std::optional<SteadyClock::time_point> released_at_;
	std::optional<SteadyClock::time_point> leader_absent_since_;
	std::optional<SteadyClock::time_point> dcs_lost_since_;
	std::optional<SteadyClock::time_point> unreadable_since_; // the server runs but cannot be read
	std::string last_dcs_note_;
	std::string switchover_seen_;					// the switchover key's value ("" absent) ...
	SteadyClock::time_point switchover_seen_since_; // ... seen since
	std::optional<HandOver> handing_over_;			// our switchover after we released the leader key
};

} // namespace

int
RunDcsAgent(asio::io_context &context, asio::signal_set &signals, const AgentOptions &options,
			const LocalServer &server) {
	std::atomic<bool> stopping = false;
	auto agent = std::make_shared<DcsAgent>(options, server, stopping, context.get_executor());
	return RunAgentLoop(context, signals, options.node, stopping, agent->Loop());
}

} // namespace mosta::sidecar::ha
