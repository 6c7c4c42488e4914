/*
 * rule_leases.cpp
 *     The rule leases of a daemon run with --dcs (see rule_leases.hpp).
 */
#include "app/rule_leases.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <iterator>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/log.hpp"
#include "dcs/dcs_timing.hpp"
#include "dcs/dcs_url.hpp"
#include "mosta/common/canonical_row.hpp"
#include "util/act_fence.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

namespace {

std::string
HostName() {
	char host[HOST_NAME_MAX + 1] = {};
	if (gethostname(host, sizeof host - 1) != 0)
		return "localhost";
	return host;
}

std::string
Joined(const std::set<std::string> &names) {
	std::string text;
	for (const std::string &name : names)
		text += (text.empty() ? "" : ", ") + name;
	return text;
}

} // namespace

RuleLeasePlan
PlanRuleLeases(const std::vector<dcs::KeyValue> &keys, const std::string &rules_prefix, const std::string &name,
			   std::int64_t lease, const std::set<std::string> &wanted) {
	RuleLeasePlan plan;
	std::set<std::string> held;
	for (const dcs::KeyValue &kv : keys) {
		if (kv.key.size() <= rules_prefix.size() || kv.key.compare(0, rules_prefix.size(), rules_prefix) != 0)
			continue;
		std::string rule = kv.key.substr(rules_prefix.size());
		if (rule.find('/') != std::string::npos)
			continue;
		held.insert(rule);
		bool ours = kv.value == name && kv.lease == lease && lease != 0;
		if (!ours)
			plan.holders[rule] = kv.value;
		else if (wanted.count(rule) != 0)
			plan.owned.insert(rule);
		else
			plan.to_release.push_back(rule);
	}
	for (const std::string &rule : wanted)
		if (held.count(rule) == 0)
			plan.to_create.push_back(rule);
	return plan;
}

std::string
SidecarJson(const std::string &name, const std::string &host, long pid, const std::set<std::string> &rules,
			std::int64_t time_ms) {
	std::string json = "{\"name\":" + JsonQuote(name) + ",\"host\":" + JsonQuote(host) +
					   ",\"pid\":" + std::to_string(pid) + ",\"rules\":[";
	bool first = true;
	for (const std::string &rule : rules) {
		json += (first ? "" : ",") + JsonQuote(rule);
		first = false;
	}
	return json + "],\"time_ms\":" + std::to_string(time_ms) + "}";
}

std::string
DefaultSidecarName() {
	return HostName() + ":" + std::to_string(static_cast<long>(getpid()));
}

struct RuleLeases::Impl {
	const Config &config;
	std::function<void()> on_change;
	dcs::EtcdClient client;
	std::string name;
	std::string host = HostName();
	std::set<std::string> wanted;
	std::set<std::string> owned; // the keys ours at the last poll (Owns also checks the deadline)
	bool leads = false;
	std::map<std::string, std::string> seen;   // rule -> the other sidecar last seen holding its key
	std::map<std::string, std::string> former; // rule -> the holder seen before this sidecar created its key
	std::int64_t lease = 0;
	// FenceDeadline of the last successful keep-alive, on CLOCK_BOOTTIME (it goes on while the machine sleeps, as
	// etcd's clock does), and on the steady clock for the fence watch's timer
	std::chrono::nanoseconds deadline_boot{0};
	std::chrono::steady_clock::time_point deadline_steady{};
	bool finish = false;
	// the lease was lost or its deadline passed: the target writes stay fenced (util/act_fence.hpp), and no rule
	// is owned, until the supervisor says the rules stopped for it have ended (ResumeActing), even once a new
	// lease is granted: a batch of theirs must never be committed after the new holder's
	bool hold = false;
	bool held_rules = false; // the hold stopped rules or the leadership (else ResumeActing has nothing to say)
	std::chrono::nanoseconds fenced_for{0}; // the deadline the fence watch last acted on: once per deadline
	bool unavailable = false;				// etcd failed at the last poll: logged once per outage
	bool lease_gone = false; // the keep-alive loop found the lease expired: the next poll grants a new one
	asio::steady_timer poll_timer;
	asio::steady_timer fence_timer;
	asio::steady_timer renew_timer;

	Impl(asio::any_io_executor executor, const Config &config_in, std::function<void()> change)
		: config(config_in), on_change(std::move(change)), client(executor, dcs::ParseDcsUrl(config_in.dcs)),
		  name(config_in.sidecar_name.empty() ? DefaultSidecarName() : config_in.sidecar_name), poll_timer(executor),
		  fence_timer(executor), renew_timer(executor) {
		RevokeActing(); // nothing is written before the first lease
	}

	std::string
	RuleKey(const std::string &rule) const {
		return client.Key("rules/" + rule);
	}

	bool
	InTime() const {
		return BootTimeNow() < deadline_boot;
	}

	// Renewed moves the deadline after a keep-alive (or a grant) sent at sent_boot / sent_steady succeeded.
	void
	Renewed(std::chrono::nanoseconds sent_boot, std::chrono::steady_clock::time_point sent_steady) {
		deadline_boot = FenceDeadline(sent_boot, config.dcs_ttl);
		deadline_steady = FenceDeadline(sent_steady, config.dcs_ttl);
		if (!hold)
			AllowActingUntil(deadline_boot);
		fence_timer.cancel(); // the fence watch waits for the new deadline
	}

	// Change installs what a poll found and tells the supervisor when it differs.
	void
	Change(std::set<std::string> now_owned, bool now_leads) {
		if (now_owned == owned && now_leads == leads)
			return;
		std::set<std::string> lost; // those won are logged as their keys are created
		std::set_difference(owned.begin(), owned.end(), now_owned.begin(), now_owned.end(),
							std::inserter(lost, lost.end()));
		if (!lost.empty())
			LogLine("dcs: rule lease(s) no longer held: " + Joined(lost));
		if (now_leads != leads)
			LogLine(now_leads ? "dcs: this sidecar leads (standby watch, TTL pass)"
							  : "dcs: this sidecar no longer leads");
		owned = std::move(now_owned);
		leads = now_leads;
		on_change();
	}

	// Hold closes the fence of target writes until ResumeActing.
	void
	Hold() {
		hold = true;
		held_rules = held_rules || !owned.empty() || leads;
		RevokeActing();
	}

	// Grant gets a new lease; every key of the former one is gone with it.
	asio::awaitable<void>
	Grant() {
		auto sent_boot = BootTimeNow();
		auto sent_steady = std::chrono::steady_clock::now();
		auto ttl = std::chrono::duration_cast<std::chrono::seconds>(config.dcs_ttl);
		auto [id, granted] = co_await client.GrantLease(ttl);
		lease = id;
		Renewed(sent_boot, sent_steady);
		LogLine("dcs: " + name + " holds lease " + std::to_string(id) + " (ttl " + std::to_string(granted) + " s) on " +
				client.Endpoint());
	}

	// KeepAlive renews the lease once: a success moves the fence deadline, an expired lease is left to Poll (a new
	// lease, the rules stopped). Answers for a lease that is not the current one any more are ignored.
	asio::awaitable<void>
	KeepAlive() {
		const std::int64_t id = lease;
		auto sent_boot = BootTimeNow();
		auto sent_steady = std::chrono::steady_clock::now();
		dcs::LeaseState state = co_await client.KeepAlive(id);
		if (id != lease || lease_gone)
			co_return;
		if (state.alive)
			Renewed(sent_boot, sent_steady);
		else
			lease_gone = true;
	}

	// RenewLoop keeps the lease alive every poll interval on its own, not once per poll: a poll makes several calls
	// (the sidecar's key, the rules' keys, the leadership), so a slow etcd made the keep-alives as far apart as the
	// poll took, and a poll longer than the fence window (ttl - margin) closed the fence while etcd still answered:
	// the rules stopped and started again at each poll, and a rule restarted too late in its window never reached
	// its idle flush (what it applied was rolled back, a freshly taken rule's target got nothing). Overlapping
	// calls are fine (dcs::EtcdClient gives the second one a connection of its own). Errors are Poll's to report.
	asio::awaitable<void>
	RenewLoop() {
		while (!finish) {
			renew_timer.expires_after(config.poll_interval);
			boost::system::error_code ignored;
			co_await renew_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
			if (finish || lease == 0 || lease_gone)
				continue;
			try {
				co_await KeepAlive();
			} catch (const std::exception &) {
				// etcd unreachable: the poll logs it; the fence watch stops the rules at the deadline
			}
		}
	}

	// Poll renews the lease, publishes this sidecar, races for the wanted rules nobody holds and for the
	// leadership, and releases the keys of rules no longer wanted.
	asio::awaitable<void>
	Poll() {
		if (lease != 0 && !lease_gone)
			co_await KeepAlive(); // besides the keep-alive loop: this poll's errors say whether etcd answers
		if (lease_gone) {
			LogLine("dcs: lease " + std::to_string(lease) +
					" expired (not renewed in time): its keys are gone; granting a new one");
			lease = 0;
			lease_gone = false;
			Hold();
			Change({}, false);
		}
		if (lease == 0)
			co_await Grant();
		if (unavailable)
			LogLine("dcs: etcd answers again (" + client.Endpoint() + ")");
		unavailable = false;
		std::set<std::string> running(owned.begin(), owned.end());
		auto time_ms =
			std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
				.count();
		co_await client.Put(client.Key("sidecars/" + name), SidecarJson(name, host, getpid(), running, time_ms), lease);
		const std::string prefix = client.Key("rules/");
		std::vector<dcs::KeyValue> keys = co_await client.GetPrefix(prefix);
		RuleLeasePlan plan = PlanRuleLeases(keys, prefix, name, lease, wanted);
		for (const auto &[rule, holder] : plan.holders)
			seen[rule] = holder;
		std::set<std::string> now_owned = plan.owned;
		for (const std::string &rule : plan.to_create) {
			if (!co_await client.Create(RuleKey(rule), name, lease))
				continue;
			auto was = seen.find(rule);
			former[rule] = was == seen.end() ? std::string() : was->second;
			LogLine("dcs: rule " + rule + ": lease taken" +
					(former[rule].empty() ? std::string() : " over from " + former[rule]));
			now_owned.insert(rule);
		}
		for (const std::string &rule : plan.to_release) {
			co_await client.CompareAndDelete(RuleKey(rule), name);
			LogLine("dcs: rule " + rule + ": lease released (the rule is no longer to run)");
		}
		const std::string leader_key = client.Key("sidecar-leader");
		std::optional<dcs::KeyValue> leader = co_await client.Get(leader_key);
		bool now_leads = leader && leader->value == name && leader->lease == lease;
		if (!leader)
			now_leads = co_await client.Create(leader_key, name, lease);
		Change(std::move(now_owned), now_leads);
	}

	// FenceWatch stops everything at the fence deadline when no keep-alive moved it, even while Poll waits for
	// etcd (a call may take a request timeout per endpoint).
	asio::awaitable<void>
	FenceWatch() {
		while (!finish) {
			auto now = std::chrono::steady_clock::now();
			auto wake = deadline_steady > now ? std::min(deadline_steady, now + config.poll_interval)
											  : now + config.poll_interval;
			fence_timer.expires_at(wake);
			boost::system::error_code ignored;
			co_await fence_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
			if (finish || InTime() || hold || deadline_boot == fenced_for)
				continue;
			fenced_for = deadline_boot;
			Hold();
			if (owned.empty() && !leads)
				continue;
			auto late = std::chrono::duration_cast<std::chrono::milliseconds>(BootTimeNow() - deadline_boot);
			LogLine("dcs: lease " + std::to_string(lease) + " not renewed by its fence deadline (" +
					std::to_string(late.count()) + " ms ago): stopping every rule before another sidecar may take it");
			Change({}, false);
		}
	}
};

RuleLeases::RuleLeases(asio::any_io_executor executor, const Config &config, std::function<void()> on_change)
	: impl_(std::make_unique<Impl>(std::move(executor), config, std::move(on_change))) {}

RuleLeases::~RuleLeases() = default;

const std::string &
RuleLeases::Name() const {
	return impl_->name;
}

void
RuleLeases::SetWanted(std::set<std::string> rules) {
	impl_->wanted = std::move(rules);
}

bool
RuleLeases::Owns(const std::string &rule) const {
	return !impl_->hold && impl_->owned.count(rule) != 0 && impl_->InTime();
}

bool
RuleLeases::Holding() const {
	return impl_->hold;
}

void
RuleLeases::ResumeActing() {
	if (!impl_->hold)
		return;
	impl_->hold = false;
	if (impl_->held_rules)
		LogLine("dcs: the rules stopped for the lost lease have ended: target writes allowed again");
	impl_->held_rules = false;
	if (impl_->InTime())
		AllowActingUntil(impl_->deadline_boot);
}

bool
RuleLeases::Leads() const {
	return impl_->leads && impl_->InTime();
}

std::string
RuleLeases::TakeFormerHolder(const std::string &rule) {
	auto found = impl_->former.find(rule);
	if (found == impl_->former.end())
		return {};
	std::string holder = std::move(found->second);
	impl_->former.erase(found);
	return holder;
}

asio::awaitable<void>
RuleLeases::Run() {
	Impl &impl = *impl_;
	LogLine("dcs: rule leases in " + impl.client.Url().Text() + " as " + impl.name);
	asio::co_spawn(co_await asio::this_coro::executor, impl.FenceWatch(), asio::detached);
	asio::co_spawn(co_await asio::this_coro::executor, impl.RenewLoop(), asio::detached);
	while (!impl.finish) {
		try {
			co_await impl.Poll();
		} catch (const std::exception &e) {
			if (!impl.unavailable)
				LogLine(std::string("dcs: ") + e.what() + "; trying again every poll interval");
			impl.unavailable = true;
		}
		if (impl.finish)
			break;
		impl.poll_timer.expires_after(impl.config.poll_interval);
		boost::system::error_code ignored;
		co_await impl.poll_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
	}
	impl.fence_timer.cancel();
	impl.renew_timer.cancel();
	impl.owned.clear();
	impl.leads = false;
	if (impl.lease == 0)
		co_return;
	RevokeActing(); // the rules have stopped; nothing more is written once the others may take them
	try {
		co_await impl.client.Revoke(impl.lease);
		LogLine("dcs: lease " + std::to_string(impl.lease) + " revoked: the other sidecars take the rules now");
	} catch (const std::exception &e) {
		LogLine(std::string("dcs: could not revoke the lease (it expires within its ttl): ") + e.what());
	}
	impl.lease = 0;
}

void
RuleLeases::Finish() {
	impl_->finish = true;
	impl_->poll_timer.cancel();
	impl_->fence_timer.cancel();
	impl_->renew_timer.cancel();
}

} // namespace mosta::sidecar
