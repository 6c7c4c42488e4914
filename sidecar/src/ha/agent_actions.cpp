/*
 * agent_actions.cpp
 *     Looking at the node and its peers, and acting (see agent_actions.hpp): moved from node_agent.cpp so that the
 *     manual and the DCS modes share them.
 */
#include "ha/agent_actions.hpp"

#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "ha/promotion.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// kPeerTimeout bounds the reading of one peer: a peer that does not answer in this long is unreachable.
constexpr std::chrono::milliseconds kPeerTimeout{2'000};

} // namespace

AgentCore::AgentCore(const AgentOptions &options, const LocalServer &server)
	: options_(options), server_(server),
	  cache_path_((fs::path(options.state_dir) / (options.project + "." + options.node + ".peers")).string()) {}

void
AgentCore::Note(const std::string &text) {
	if (text.empty() || text == last_note_)
		return;
	last_note_ = text;
	LogLine("agent " + options_.node + ": " + text);
}

void
AgentCore::ForgetNote() {
	last_note_.clear();
}

asio::awaitable<bool>
AgentCore::Look(PgConnection &local, AgentLook &look, bool observe_peers) {
	AgentView &view = look.view;
	view.self = options_.node;
	if (server_.IsRunning()) {
		try {
			co_await WithTimeout(ReadLocal(local, look), kProbeTimeout, "reading the local server");
		} catch (...) {
			Note("the local server runs but cannot be read: " + CurrentErrorText());
			co_return false;
		}
	} else {
		view.local = LocalState::Stopped;
		view.standby_signal = server_.HasStandbySignal();
		try {
			view.timeline = server_.Control().timeline;
		} catch (...) {
			Note(CurrentErrorText());
		}
		for (const CachedPeer &cached : LoadCache())
			look.peers.push_back({cached.name, cached.conninfo});
	}
	std::string primary_conninfo;
	if (view.local == LocalState::Standby)
		primary_conninfo = co_await ShowPrimaryConninfo(local);
	if (observe_peers && !look.peers.empty()) {
		// every peer at once: a silent one costs one kPeerTimeout, not one per peer (as ProbeNodes)
		auto executor = co_await asio::this_coro::executor;
		auto seen = std::make_shared<std::vector<PeerView>>(look.peers.size());
		auto left = std::make_shared<std::size_t>(look.peers.size());
		auto all_done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
		for (std::size_t i = 0; i < look.peers.size(); ++i)
			asio::co_spawn(
				executor,
				[this, peer = look.peers[i], i, seen, left, all_done]() -> asio::awaitable<void> {
					(*seen)[i] = co_await Observe(peer);
					if (--*left == 0)
						all_done->cancel();
				},
				asio::detached);
		while (*left > 0) {
			boost::system::error_code ignored;
			co_await all_done->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
		}
		for (std::size_t i = 0; i < look.peers.size(); ++i) {
			if ((*seen)[i].reachable && !primary_conninfo.empty() &&
				SameServer(primary_conninfo, look.peers[i].conninfo))
				view.following = look.peers[i].name;
			view.peers.push_back((*seen)[i]);
		}
	}
	// a standby that follows the primary without streaming, for too long
	const PeerView *primary = NewPrimary(view);
	if (view.local == LocalState::Standby && primary != nullptr && view.following == primary->name && !streaming_) {
		if (!stalled_since_)
			stalled_since_ = std::chrono::steady_clock::now();
		view.stalled = std::chrono::steady_clock::now() - *stalled_since_ >= kStallLimit;
	} else {
		stalled_since_.reset();
	}
	co_return true;
}

// ReadLocal reads the running local server: role, timeline, its catalog's master and the peers (saved to the
// cache).
asio::awaitable<void>
AgentCore::ReadLocal(PgConnection &local, AgentLook &look) {
	AgentView &view = look.view;
	std::vector<AgentPeer> &peers = look.peers;
	std::optional<Topology> &topology = look.topology;
	co_await local.Connect(options_.source, ConnectionKind::Sql);
	NodeProbe probe = co_await ProbeNodeOn(local);
	look.probe = probe;
	view.local = probe.in_recovery ? LocalState::Standby : LocalState::Primary;
	view.timeline = probe.timeline;
	streaming_ = probe.wal_receiver == "streaming";
	topology = co_await ReadTopology(local, options_.project);
	if (const TopologyReplica *master = topology->Master())
		view.local_catalog_master = master->name;
	std::vector<CachedPeer> cache;
	for (const TopologyReplica &replica : topology->replicas) {
		if (replica.dialect != "postgres" || replica.name == options_.node)
			continue;
		peers.push_back({replica.name, replica.uri});
		cache.push_back({replica.name, replica.role, ConninfoWithoutPassword(replica.uri)});
	}
	SaveCache(cache);
}

// ShowPrimaryConninfo returns the local standby's primary_conninfo ("" when it cannot be read).
asio::awaitable<std::string>
AgentCore::ShowPrimaryConninfo(PgConnection &local) {
	try {
		PgResultHandle result = co_await local.Exec("reading primary_conninfo", "SHOW primary_conninfo");
		co_return std::string(PQgetvalue(result.get(), 0, 0));
	} catch (...) {
		Note("cannot read primary_conninfo: " + CurrentErrorText());
	}
	co_return std::string();
}

// Observe asks one peer whether it is a primary and whom its catalog names master.
asio::awaitable<PeerView>
AgentCore::Observe(const AgentPeer &peer) {
	PeerView seen;
	seen.name = peer.name;
	PgConnection conn(co_await asio::this_coro::executor);
	auto work = [&]() -> asio::awaitable<void> {
		co_await conn.Connect(peer.conninfo, ConnectionKind::Sql);
		NodeProbe probe = co_await ProbeNodeOn(conn);
		seen.in_recovery = probe.in_recovery;
		seen.timeline = probe.timeline;
		Topology topology = co_await ReadTopology(conn, options_.project);
		if (const TopologyReplica *master = topology.Master())
			seen.catalog_master = master->name;
		seen.reachable = true;
	};
	try {
		co_await WithTimeout(work(), kPeerTimeout, "reading node " + peer.name);
	} catch (...) {
		seen = PeerView();
		seen.name = peer.name;
	}
	conn.Close();
	co_return seen;
}

// Act carries out action.
asio::awaitable<void>
AgentCore::Act(const Action &action, const std::vector<AgentPeer> &peers) {
	if (action.kind == ActionKind::None) {
		Note(action.reason.empty() ? "in place" : action.reason);
		co_return;
	}
	last_note_.clear();
	stalled_since_.reset();
	LogLine("agent " + options_.node + ": " + ActionName(action.kind) +
			(action.peer.empty() ? "" : " (" + action.peer + ")") + ": " + action.reason);
	std::string peer_conninfo;
	for (const AgentPeer &peer : peers)
		if (peer.name == action.peer)
			peer_conninfo = peer.conninfo;
	switch (action.kind) {
	case ActionKind::None:
		break;
	case ActionKind::Start:
		server_.Start(kAgentServerTimeout);
		break;
	case ActionKind::StartFenced:
		LogLine("agent " + options_.node + ": WARNING: starting the server READ-ONLY (standby.signal) because " +
				action.reason + "; it takes no writes until the agent decides again");
		server_.MakeStandby("");
		server_.Start(kAgentServerTimeout);
		break;
	case ActionKind::StartPrimary:
		if (server_.IsRunning())
			server_.Stop("fast", kAgentServerTimeout);
		server_.RemoveStandbySignal();
		server_.Start(kAgentServerTimeout);
		break;
	case ActionKind::Demote:
		server_.Stop("fast", kAgentServerTimeout);
		co_await Rejoin(action.peer, peer_conninfo);
		break;
	case ActionKind::Rewind:
		co_await Rejoin(action.peer, peer_conninfo);
		break;
	case ActionKind::Repoint:
		co_await RepointStandby(options_.source, peer_conninfo, options_.node);
		LogLine("agent " + options_.node + ": now follows " + action.peer);
		break;
	}
}

// Rejoin rewinds the stopped local server from the primary, makes it its standby and starts it; the rejoin is
// logged in the primary's mosta.activity.
asio::awaitable<void>
AgentCore::Rejoin(const std::string &primary, const std::string &primary_conninfo) {
	const auto start = std::chrono::steady_clock::now();
	// pg_rewind reads the source's timeline from its control file, which a promotion updates only at its first
	// checkpoint: without one it finds "the same timeline" and rewinds nothing
	std::string checkpoint_error;
	try {
		PgConnection conn(co_await asio::this_coro::executor);
		co_await WithTimeout(conn.Connect(primary_conninfo, ConnectionKind::Sql), kPeerTimeout,
							 "connecting to " + primary);
		co_await conn.Exec("checkpointing the primary before pg_rewind", "CHECKPOINT");
	} catch (...) {
		checkpoint_error = CurrentErrorText();
	}
	if (!checkpoint_error.empty())
		LogLine("agent " + options_.node + ": CHECKPOINT on " + primary + " failed (" + checkpoint_error +
				"); pg_rewind may find nothing to do if its control file still shows the old timeline");
	std::string output = server_.Rewind(ConninfoWithoutPassword(primary_conninfo));
	LogLine("agent " + options_.node + ": pg_rewind from " + primary + ": " + output);
	server_.MakeStandby(PrimaryConninfo(primary_conninfo, options_.node));
	server_.Start(kAgentServerTimeout);
	const auto ms =
		std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
	LogLine("agent " + options_.node + ": rejoined as a standby of " + primary + " in " + std::to_string(ms) + " ms");
	try {
		PgConnection conn(co_await asio::this_coro::executor);
		co_await WithTimeout(conn.Connect(primary_conninfo, ConnectionKind::Sql), kPeerTimeout,
							 "connecting to " + primary);
		const std::string tail = output.size() > 200 ? output.substr(output.size() - 200) : output;
		const std::string detail = "{\"primary\": " + JsonQuote(primary) + ", \"rewind\": " + JsonQuote(tail) +
								   ", \"ms\": " + std::to_string(ms) + "}";
		co_await LogActivity(conn, "rejoin", options_.project, options_.node, detail);
	} catch (...) {
		LogLine("agent " + options_.node + ": cannot log the rejoin on " + primary + ": " + CurrentErrorText());
	}
}

std::vector<CachedPeer>
AgentCore::LoadCache() {
	std::ifstream in(cache_path_);
	if (!in) {
		Note("no peer cache at " + cache_path_ + ": the other nodes are unknown");
		return {};
	}
	std::ostringstream text;
	text << in.rdbuf();
	return ParsePeerCache(text.str());
}

void
AgentCore::SaveCache(const std::vector<CachedPeer> &peers) {
	const std::string text = FormatPeerCache(peers);
	if (text == saved_cache_)
		return;
	const std::string temporary = cache_path_ + ".tmp";
	{
		std::ofstream out(temporary, std::ios::trunc);
		out << text;
		if (!out) {
			Note("cannot write the peer cache " + temporary);
			return;
		}
	}
	fs::rename(temporary, cache_path_);
	saved_cache_ = text;
}

int
RunAgentLoop(asio::io_context &context, asio::signal_set &signals, const std::string &node, std::atomic<bool> &stopping,
			 asio::awaitable<void> loop) {
	int status = 0;
	signals.async_wait([&](const boost::system::error_code &wait_error, int) {
		if (!wait_error) {
			LogLine("agent " + node + ": stopping after this poll");
			stopping = true;
		}
	});
	asio::co_spawn(context, std::move(loop), [&](std::exception_ptr failure) {
		if (failure) {
			try {
				std::rethrow_exception(failure);
			} catch (...) {
				LogLine("agent " + node + ": " + CurrentErrorText());
			}
			status = 1;
		}
		signals.cancel();
	});
	context.run();
	return status;
}

} // namespace mosta::sidecar::ha
