/*
 * node_agent.cpp
 *     The node agent's decision (Decide), its peer cache and its loop (see node_agent.hpp).
 */
#include "ha/node_agent.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "ha/agent_actions.hpp"
#include "ha/dcs_agent.hpp"
#include "ha/local_server.hpp"
#include "ha/node_probe.hpp"
#include "ha/promotion.hpp"
#include "ha/switchover.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo_options.hpp"
#include "util/pause.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// AllNameSelf tells whether at least one peer answered, none of those is a primary, and every one of them names
// self master.
bool
PeersConfirmSelf(const AgentView &view) {
	bool answered = false;
	for (const PeerView &peer : view.peers) {
		if (!peer.reachable)
			continue;
		answered = true;
		if (!peer.in_recovery || peer.catalog_master != view.self)
			return false;
	}
	return answered;
}

bool
AnyAnswered(const AgentView &view) {
	return std::any_of(view.peers.begin(), view.peers.end(), [](const PeerView &p) { return p.reachable; });
}

Action
Make(ActionKind kind, std::string peer, std::string reason) {
	return Action{kind, std::move(peer), std::move(reason)};
}

} // namespace

const char *
ActionName(ActionKind kind) {
	switch (kind) {
	case ActionKind::None:
		return "none";
	case ActionKind::Start:
		return "start";
	case ActionKind::StartPrimary:
		return "start-primary";
	case ActionKind::StartFenced:
		return "start-fenced";
	case ActionKind::Rewind:
		return "rewind";
	case ActionKind::Demote:
		return "demote";
	case ActionKind::Repoint:
		return "repoint";
	}
	return "unknown";
}

const PeerView *
NewPrimary(const AgentView &view) {
	const PeerView *best = nullptr;
	for (const PeerView &peer : view.peers) {
		if (!peer.reachable || peer.in_recovery || peer.catalog_master != peer.name)
			continue;
		if (best == nullptr || peer.timeline.value_or(0) > best->timeline.value_or(0))
			best = &peer;
	}
	return best;
}

Action
Decide(const AgentView &view) {
	const PeerView *primary = NewPrimary(view);
	// a peer on a later timeline than ours holds history we do not have: it is the newer primary
	const bool primary_is_newer =
		primary != nullptr && (!view.timeline || !primary->timeline || *primary->timeline > *view.timeline);
	switch (view.local) {
	case LocalState::Stopped:
		if (primary != nullptr && (primary_is_newer || view.standby_signal))
			return Make(ActionKind::Rewind, primary->name,
						"node " + primary->name +
							" is the primary and its catalog names it master: rejoin it as a "
							"standby before opening");
		if (primary != nullptr)
			return Make(ActionKind::StartFenced, "",
						"node " + primary->name +
							" claims the master role on a timeline not later than ours: "
							"starting read-only until this is resolved");
		if (view.standby_signal)
			return Make(ActionKind::Start, "", "a standby (standby.signal): started as it is");
		if (view.peers.empty())
			return Make(ActionKind::Start, "", "no other PostgreSQL node in the project: started as it is");
		if (PeersConfirmSelf(view))
			return Make(ActionKind::StartPrimary, "",
						"no other node is a primary and their catalogs name this node master");
		return Make(ActionKind::StartFenced, "",
					AnyAnswered(view) ? "the other nodes do not confirm this node as the master"
									  : "no other node answers: cannot tell whether this node is still the master");
	case LocalState::Primary:
		if (primary != nullptr && primary_is_newer)
			return Make(ActionKind::Demote, primary->name,
						"node " + primary->name +
							" is the primary on a later timeline and its catalog names it "
							"master: this node must not take writes");
		if (primary != nullptr)
			return Make(ActionKind::None, "",
						"warning: node " + primary->name +
							" also claims the master role, on a timeline not later "
							"than ours; not acting");
		return Make(ActionKind::None, "", "");
	case LocalState::Standby:
		if (view.local_catalog_master == view.self) {
			// a former master started read-only (fenced), or one catching up after a switchover
			if (primary != nullptr && view.following == primary->name)
				return Make(ActionKind::None, "", "");
			if (primary != nullptr)
				return Make(ActionKind::Demote, primary->name,
							"this former master runs read-only and node " + primary->name +
								" is the primary: rejoin it as a standby");
			if (PeersConfirmSelf(view))
				return Make(ActionKind::StartPrimary, "",
							"no other node is a primary and their catalogs name this node master: restart it as "
							"the primary");
			return Make(ActionKind::None, "",
						"fenced: read-only until another node is the primary or the others confirm this one");
		}
		if (primary != nullptr && view.following != primary->name)
			return Make(ActionKind::Repoint, primary->name,
						"this standby does not follow node " + primary->name + ", the primary");
		if (primary != nullptr && view.stalled)
			return Make(ActionKind::Demote, primary->name,
						"this standby follows node " + primary->name + " but has not streamed from it for " +
							std::to_string(kStallLimit.count()) +
							" s (its history went past the primary's fork): rewind it");
		return Make(ActionKind::None, "", "");
	}
	return Make(ActionKind::None, "", "");
}

std::string
ConninfoWithoutPassword(const std::string &conninfo) {
	ConninfoOptions options = ParseConninfo(conninfo);
	std::string result;
	for (const PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option) {
		if (option->val == nullptr || std::string(option->keyword) == "password")
			continue;
		std::string quoted = "'";
		for (const char *c = option->val; *c != '\0'; ++c) {
			if (*c == '\\' || *c == '\'')
				quoted += '\\';
			quoted += *c;
		}
		result += (result.empty() ? "" : " ") + std::string(option->keyword) + "=" + quoted + "'";
	}
	return result;
}

bool
SameServer(const std::string &a, const std::string &b) {
	try {
		ConninfoOptions left = ParseConninfo(a);
		ConninfoOptions right = ParseConninfo(b);
		auto port = [](const ConninfoOptions &options) {
			std::string value = ConninfoValue(options.get(), "port");
			return value.empty() ? std::string("5432") : value;
		};
		auto host = [](const ConninfoOptions &options) {
			std::string value = ConninfoValue(options.get(), "host");
			if (value.empty())
				value = ConninfoValue(options.get(), "hostaddr");
			return value == "localhost" ? std::string("127.0.0.1") : value;
		};
		return host(left) == host(right) && port(left) == port(right);
	} catch (const std::exception &) {
		return false;
	}
}

std::string
FormatPeerCache(const std::vector<CachedPeer> &peers) {
	std::string text = "# mosta-sidecar agent: the project's other PostgreSQL nodes (no passwords)\n";
	for (const CachedPeer &peer : peers)
		text += peer.name + "\t" + peer.role + "\t" + peer.conninfo + "\n";
	return text;
}

std::vector<CachedPeer>
ParsePeerCache(const std::string &text) {
	std::vector<CachedPeer> peers;
	std::istringstream lines(text);
	for (std::string line; std::getline(lines, line);) {
		if (line.empty() || line[0] == '#')
			continue;
		const std::size_t first = line.find('\t');
		const std::size_t second = first == std::string::npos ? first : line.find('\t', first + 1);
		if (second == std::string::npos)
			continue;
		peers.push_back({line.substr(0, first), line.substr(first + 1, second - first - 1), line.substr(second + 1)});
	}
	return peers;
}

namespace {

// The manual agent: looks, decides (Decide), acts; the master in place carries out switchover requests.
class Agent {
  public:
	Agent(const AgentOptions &options, const LocalServer &server, const std::atomic<bool> &stopping)
		: options_(options), stopping_(stopping), core_(options, server) {}

	// Loop polls until stopping_ is set.
	asio::awaitable<void>
	Loop() {
		LogLine("agent of node " + options_.node + " (project " + options_.project + ", " + options_.pgdata +
				"): started");
		while (!stopping_) {
			try {
				co_await Poll();
			} catch (...) {
				core_.Note("poll failed: " + CurrentErrorText());
			}
			if (stopping_)
				break;
			co_await Pause(options_.poll_interval);
		}
		LogLine("agent of node " + options_.node + ": stopped (the server is left as it is)");
	}

  private:
	// Poll looks once and acts once.
	asio::awaitable<void>
	Poll() {
		PgConnection local(co_await asio::this_coro::executor);
		AgentLook look;
		if (!co_await core_.Look(local, look))
			co_return;
		Action action = Decide(look.view);
		// the master in place takes the switchover requests
		if (action.kind == ActionKind::None && look.view.local == LocalState::Primary &&
			look.view.local_catalog_master == options_.node && look.topology) {
			SwitchoverRequest request = co_await ClaimSwitchoverRequest(local, options_.project);
			if (request.id != 0) {
				core_.ForgetNote();
				LogLine("agent " + options_.node + ": switchover request " + std::to_string(request.id) + " to " +
						request.target + ": running");
				co_await ExecuteSwitchover(local, core_.Server(), *look.topology, request, options_);
				co_return;
			}
		}
		local.Close();
		co_await core_.Act(action, look.peers);
	}

	const AgentOptions &options_;
	const std::atomic<bool> &stopping_;
	AgentCore core_;
};

} // namespace

int
RunAgent(asio::io_context &context, asio::signal_set &signals, const AgentOptions &options) {
	std::error_code error;
	if (!fs::is_directory(options.state_dir, error))
		throw std::runtime_error("--state-dir " + options.state_dir + " is not a directory");
	const LocalServer server(options.pgdata, options.pg_bindir,
							 options.pg_log.empty() ? (fs::path(options.state_dir) / "postgres.log").string()
													: options.pg_log);
	server.IsRunning(); // a bad data directory or missing pg_ctl fails here, at once
	if (!options.dcs.empty())
		return RunDcsAgent(context, signals, options, server);
	std::atomic<bool> stopping = false;
	auto agent = std::make_shared<Agent>(options, server, stopping);
	return RunAgentLoop(context, signals, options.node, stopping, agent->Loop());
}

} // namespace mosta::sidecar::ha
