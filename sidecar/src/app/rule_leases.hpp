/*
 * rule_leases.hpp
 *     RuleLeases: the rule leases of a daemon run with --dcs (docs/sidecar.md, "Several sidecars: --dcs"; the keys
 *     of docs/ha.md). N sidecars on one catalog each hold one etcd lease (TTL --dcs-ttl) and race for the key
 *     P/rules/RULE of every enabled rule (Create: the first one wins); a sidecar runs only the rules whose key names
 *     it on its own lease, and only until FenceDeadline of its last successful keep-alive (dcs/dcs_timing.hpp):
 *     when it cannot renew, it stops them before the lease can expire and another sidecar take them. The slot of a
 *     rule is exclusive anyway (one walsender); the lease decides who tries, and the targets' checkpoints make a
 *     takeover resume where the former holder's targets stopped (nothing lost or doubled).
 *
 *     The same race elects one sidecar for the work that must be done once per catalog, not once per sidecar: the
 *     key P/sidecar-leader (the watch over the PostgreSQL standbys, which writes mosta.replica_status, and the TTL
 *     pass). Every sidecar writes P/sidecars/NAME (JSON: name, host, pid, its rules, time) each poll.
 *
 *     Fencing the targets: the fence of util/act_fence.hpp follows the deadline, so a worker thread holding a batch
 *     when its process froze cannot commit it after resuming; once lost, it stays closed (a new lease granted or
 *     not) until the supervisor has seen the lost rules end (ResumeActing).
 *
 *     C++ regime; one coroutine on the daemon's io_context (the EtcdClient is used from it alone), plus a fence
 *     watch that fires at the deadline even while a call to etcd is in flight. PlanRuleLeases is the pure part.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "app/config.hpp"
#include "dcs/etcd_client.hpp"

namespace mosta::sidecar {

// What one poll of P/rules/ means for this sidecar.
struct RuleLeasePlan {
	std::set<std::string> owned;				// the key names this sidecar and is on its lease
	std::vector<std::string> to_create;			// wanted rules without a key: race for them (Create)
	std::vector<std::string> to_release;		// keys this sidecar holds for rules it no longer wants
	std::map<std::string, std::string> holders; // rule -> the other sidecar whose name its key holds
};

// PlanRuleLeases reads the keys under rules_prefix ("P/rules/") for the sidecar name on lease: owned are the keys
// whose value is name and whose lease is lease (the same name on another lease is another process: not owned);
// wanted rules without a key are to be created; owned keys of rules not wanted are to be released. Keys that are
// not one rule name deep under the prefix are ignored.
RuleLeasePlan PlanRuleLeases(const std::vector<dcs::KeyValue> &keys, const std::string &rules_prefix,
							 const std::string &name, std::int64_t lease, const std::set<std::string> &wanted);

// SidecarJson is the value of P/sidecars/NAME: {"name","host","pid","rules":[..],"time_ms"}.
std::string SidecarJson(const std::string &name, const std::string &host, long pid, const std::set<std::string> &rules,
						std::int64_t time_ms);

// DefaultSidecarName is the name of a sidecar without --name: "host:pid".
std::string DefaultSidecarName();

// RuleLeases holds this sidecar's lease and its rule keys; use it from the daemon's io_context thread.
class RuleLeases {
  public:
	// on_change runs (on the io thread) whenever the owned rules or the leadership change, including when the fence
	// deadline passes without a renewal: the supervisor stops what is no longer owned and reconciles at once.
	RuleLeases(boost::asio::any_io_executor executor, const Config &config, std::function<void()> on_change);
	~RuleLeases();
	RuleLeases(const RuleLeases &) = delete;
	RuleLeases &operator=(const RuleLeases &) = delete;

	// Name is this sidecar in the keys (--name, else host:pid).
	const std::string &Name() const;

	// SetWanted tells which rules this sidecar would run: those the catalog says to run, and those still running
	// here (a key is released only once its rule has stopped).
	void SetWanted(std::set<std::string> rules);

	// Owns tells whether this sidecar may run rule now: its key is ours and the fence deadline is ahead.
	bool Owns(const std::string &rule) const;

	// Leads tells whether this sidecar holds P/sidecar-leader (and the fence deadline is ahead).
	bool Leads() const;

	// Holding tells whether the lease was lost (or its deadline passed) since the last ResumeActing: the target
	// writes of the whole process are fenced (util/act_fence.hpp) and Owns is false.
	bool Holding() const;

	// ResumeActing lifts the hold once no rule stopped for the loss still runs: its batches can no longer be
	// committed after the new holder's.
	void ResumeActing();

	// TakeFormerHolder returns, once, the other sidecar last seen holding rule before this one created its key
	// ("" when none was seen: the key was free since this sidecar started).
	std::string TakeFormerHolder(const std::string &rule);

	// Run keeps the lease and the keys every poll interval until Finish; then revokes the lease (the other
	// sidecars take the rules at once). Never throws: an unreachable etcd is logged once per outage and retried.
	boost::asio::awaitable<void> Run();

	// Finish asks Run to revoke the lease and return; call it once the rules have stopped.
	void Finish();

  private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace mosta::sidecar
