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
#include "ha/local_server.hpp"
#include "ha/node_probe.hpp"
#include "ha/promotion.hpp"
#include "ha/switchover.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo_options.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// kPeerTimeout bounds the reading of one peer: a peer that does not answer in this long is unreachable.
constexpr std::chrono::milliseconds kPeerTimeout{2'000};
// kServerTimeout bounds pg_ctl start and stop.
constexpr std::chrono::seconds kServerTimeout{60};

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

// Pause waits for step on this coroutine's executor.
asio::awaitable<void>
Pause(std::chrono::milliseconds step) {
	asio::steady_timer timer(co_await asio::this_coro::executor, step);
	boost::system::error_code ignored;
	co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

// A peer to ask: its name and how to reach it (with a password when read from the local catalog).
struct Peer {
	std::string name;
	std::string conninfo;
};

// The agent's state across polls.
class Agent {
  public:
	Agent(const AgentOptions &options, const LocalServer &server, const std::atomic<bool> &stopping)
		: options_(options), server_(server), stopping_(stopping),
		  cache_path_((fs::path(options.state_dir) / (options.project + "." + options.node + ".peers")).string()) {}

	// Loop polls until stopping_ is set.
	asio::awaitable<void>
	Loop() {
		LogLine("agent of node " + options_.node + " (project " + options_.project + ", " + options_.pgdata +
				"): started");
		while (!stopping_) {
			try {
				co_await Poll();
			} catch (...) {
				Note("poll failed: " + CurrentErrorText());
			}
			if (stopping_)
				break;
			co_await Pause(options_.poll_interval);
		}
		LogLine("agent of node " + options_.node + ": stopped (the server is left as it is)");
	}

  private:
	// Note logs text when it differs from the last note (one line per state change).
	void
	Note(const std::string &text) {
		if (text.empty() || text == last_note_)
			return;
		last_note_ = text;
		LogLine("agent " + options_.node + ": " + text);
	}

	// Poll looks once and acts once.
	asio::awaitable<void>
	Poll() {
		AgentView view;
		view.self = options_.node;
		std::vector<Peer> peers;
		PgConnection local(co_await asio::this_coro::executor);
		std::optional<Topology> topology;
		if (server_.IsRunning()) {
			try {
				co_await WithTimeout(ReadLocal(local, view, peers, topology), kProbeTimeout,
									 "reading the local server");
			} catch (...) {
				// starting up, shutting down, or no catalog yet: look again at the next poll
				Note("the local server runs but cannot be read: " + CurrentErrorText());
				co_return;
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
				peers.push_back({cached.name, cached.conninfo});
		}
		std::string primary_conninfo;
		if (view.local == LocalState::Standby)
			primary_conninfo = co_await ShowPrimaryConninfo(local);
		for (const Peer &peer : peers) {
			PeerView seen = co_await Observe(peer);
			if (seen.reachable && !primary_conninfo.empty() && SameServer(primary_conninfo, peer.conninfo))
				view.following = peer.name;
			view.peers.push_back(std::move(seen));
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

		Action action = Decide(view);
		// the master in place takes the switchover requests
		if (action.kind == ActionKind::None && view.local == LocalState::Primary &&
			view.local_catalog_master == options_.node && topology) {
			SwitchoverRequest request = co_await ClaimSwitchoverRequest(local, options_.project);
			if (request.id != 0) {
				last_note_.clear();
				LogLine("agent " + options_.node + ": switchover request " + std::to_string(request.id) + " to " +
						request.target + ": running");
				co_await ExecuteSwitchover(local, server_, *topology, request, options_);
				co_return;
			}
		}
		local.Close();
		co_await Act(action, peers);
	}

	// ReadLocal reads the running local server: role, timeline, its catalog's master and the peers (saved to the
	// cache).
	asio::awaitable<void>
	ReadLocal(PgConnection &local, AgentView &view, std::vector<Peer> &peers, std::optional<Topology> &topology) {
		co_await local.Connect(options_.source, ConnectionKind::Sql);
		NodeProbe probe = co_await ProbeNodeOn(local);
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
	ShowPrimaryConninfo(PgConnection &local) {
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
	Observe(const Peer &peer) {
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
	Act(const Action &action, const std::vector<Peer> &peers) {
		if (action.kind == ActionKind::None) {
			Note(action.reason.empty() ? "in place" : action.reason);
			co_return;
		}
		last_note_.clear();
		stalled_since_.reset();
		LogLine("agent " + options_.node + ": " + ActionName(action.kind) +
				(action.peer.empty() ? "" : " (" + action.peer + ")") + ": " + action.reason);
		std::string peer_conninfo;
		for (const Peer &peer : peers)
			if (peer.name == action.peer)
				peer_conninfo = peer.conninfo;
		switch (action.kind) {
		case ActionKind::None:
			break;
		case ActionKind::Start:
			server_.Start(kServerTimeout);
			break;
		case ActionKind::StartFenced:
			LogLine("agent " + options_.node + ": WARNING: starting the server READ-ONLY (standby.signal) because " +
					action.reason + "; it takes no writes until the agent decides again");
			server_.MakeStandby("");
			server_.Start(kServerTimeout);
			break;
		case ActionKind::StartPrimary:
			if (server_.IsRunning())
				server_.Stop("fast", kServerTimeout);
			server_.RemoveStandbySignal();
			server_.Start(kServerTimeout);
			break;
		case ActionKind::Demote:
			server_.Stop("fast", kServerTimeout);
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
	Rejoin(const std::string &primary, const std::string &primary_conninfo) {
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
		server_.Start(kServerTimeout);
		const auto ms =
			std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
		LogLine("agent " + options_.node + ": rejoined as a standby of " + primary + " in " + std::to_string(ms) +
				" ms");
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
	LoadCache() {
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
	SaveCache(const std::vector<CachedPeer> &peers) {
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

	const AgentOptions &options_;
	const LocalServer &server_;
	const std::atomic<bool> &stopping_;
	std::string cache_path_;
	std::string saved_cache_;
	bool streaming_ = false;											 // the local standby's WAL receiver streams
	std::optional<std::chrono::steady_clock::time_point> stalled_since_; // following the primary, not streaming
	std::string last_note_;
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
	std::atomic<bool> stopping = false;
	auto agent = std::make_shared<Agent>(options, server, stopping);
	int status = 0;
	signals.async_wait([&](const boost::system::error_code &wait_error, int) {
		if (!wait_error) {
			LogLine("agent " + options.node + ": stopping after this poll");
			stopping = true;
		}
	});
	asio::co_spawn(context, agent->Loop(), [&](std::exception_ptr failure) {
		if (failure) {
			try {
				std::rethrow_exception(failure);
			} catch (...) {
				LogLine("agent " + options.node + ": " + CurrentErrorText());
			}
			status = 1;
		}
		signals.cancel();
	});
	context.run();
	return status;
}

} // namespace mosta::sidecar::ha
