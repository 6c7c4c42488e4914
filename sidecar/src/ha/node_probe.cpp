/*
 * node_probe.cpp
 *     A project's topology from any node, and probes of PostgreSQL nodes (see node_probe.hpp).
 */
#include "ha/node_probe.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>

#include "app/catalog.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/conninfo_options.hpp"
#include "pg/errors.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;

namespace {

std::string
Value(const PGresult *result, int row, int col) {
	return PQgetisnull(result, row, col) ? std::string() : std::string(PQgetvalue(result, row, col));
}

std::optional<long long>
Number(const PGresult *result, int row, int col) {
	if (PQgetisnull(result, row, col))
		return std::nullopt;
	return std::stoll(PQgetvalue(result, row, col));
}

std::optional<Lsn>
LsnValue(const PGresult *result, int row, int col) {
	if (PQgetisnull(result, row, col))
		return std::nullopt;
	return ParseLsn(PQgetvalue(result, row, col));
}

// Seconds prints milliseconds as "2.1 s".
std::string
Seconds(long long ms) {
	char text[32];
	std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
	return text;
}

} // namespace

std::string
LastObservation::Describe() const {
	if (!present)
		return "never reported";
	std::string text = "sync_state " + (sync_state.empty() ? std::string("none") : sync_state) + ", status " + status;
	text += ", lag " + (lag_ms ? std::to_string(*lag_ms) + " ms" : std::string("unknown"));
	if (lag_bytes)
		text += " / " + std::to_string(*lag_bytes) + " bytes";
	if (applied_lsn)
		text += ", replayed " + FormatLsn(*applied_lsn);
	text += age_ms ? ", " + Seconds(*age_ms) + " old" : std::string();
	return text;
}

const TopologyReplica *
Topology::Master() const {
	for (const TopologyReplica &replica : replicas)
		if (replica.role == "master")
			return &replica;
	return nullptr;
}

const TopologyReplica *
Topology::Find(const std::string &name) const {
	for (const TopologyReplica &replica : replicas)
		if (replica.name == name)
			return &replica;
	return nullptr;
}

std::optional<Lsn>
Topology::MasterLsnAtLastObservation() const {
	std::optional<Lsn> best;
	for (const TopologyReplica &replica : replicas) {
		if (replica.dialect != "postgres" || replica.role != "slave" || !replica.last.applied_lsn ||
			!replica.last.lag_bytes)
			continue;
		Lsn master = *replica.last.applied_lsn + static_cast<Lsn>(*replica.last.lag_bytes);
		if (!best || master > *best)
			best = master;
	}
	return best;
}

std::string
NodeName(const PgConnection &conn) {
	PGconn *pg = conn.Get();
	if (pg == nullptr)
		return "(not connected)";
	const char *host = PQhost(pg);
	const char *port = PQport(pg);
	return std::string(host != nullptr ? host : "") + ":" + (port != nullptr ? port : "");
}

std::string
CurrentErrorText() {
	try {
		throw;
	} catch (const PgError &e) {
		return MaskCredentialsInText(e.Message());
	} catch (const std::exception &e) {
		return MaskCredentialsInText(e.what());
	} catch (...) {
		return "unknown error";
	}
}

asio::awaitable<Topology>
ReadTopology(PgConnection &conn, const std::string &project) {
	NodeProbe node = co_await ProbeNodeOn(conn);
	Topology topology;
	topology.project = project;
	topology.node = NodeName(conn);
	topology.node_in_recovery = node.in_recovery;
	topology.node_system_identifier = node.system_identifier;
	topology.node_replay_lsn = node.replay_lsn;

	const std::string literal = SqlLiteral(conn, project);
	const std::string exists_sql = "SELECT 1 FROM mosta.projects WHERE name = " + literal;
	PgResultHandle exists = co_await conn.Exec("reading the project", exists_sql);
	if (PQntuples(exists.get()) == 0)
		throw std::runtime_error(
			"project \"" + project + "\" does not exist in the catalog of " + topology.node +
			(node.in_recovery ? " (a standby: its copy is as of its replay point " +
									(node.replay_lsn ? FormatLsn(*node.replay_lsn) : std::string("unknown")) + ")"
							  : std::string()));
	const std::string sql =
		"SELECT r.name, r.role, r.dialect, r.uri, r.lag_tolerance_ms,"
		"       s.replica IS NOT NULL, s.status, s.lag_ms, s.lag_bytes, s.applied_lsn::text, s.sync_state,"
		"       s.last_error, s.last_seen::text,"
		"       (extract(epoch FROM clock_timestamp() - s.last_seen) * 1000)::bigint"
		"  FROM mosta.replicas r"
		"  LEFT JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name"
		" WHERE r.project = " +
		literal + " ORDER BY r.role = 'master' DESC, r.name";
	PgResultHandle result = co_await conn.Exec("reading the project's replicas", sql);
	for (int row = 0; row < PQntuples(result.get()); ++row) {
		const PGresult *r = result.get();
		TopologyReplica replica;
		replica.name = Value(r, row, 0);
		replica.role = Value(r, row, 1);
		replica.dialect = Value(r, row, 2);
		replica.uri = Value(r, row, 3);
		replica.lag_tolerance_ms = Number(r, row, 4).value_or(0);
		replica.last.present = Value(r, row, 5) == "t";
		replica.last.status = Value(r, row, 6);
		replica.last.lag_ms = Number(r, row, 7);
		replica.last.lag_bytes = Number(r, row, 8);
		replica.last.applied_lsn = LsnValue(r, row, 9);
		replica.last.sync_state = Value(r, row, 10);
		replica.last.last_error = MaskCredentialsInText(Value(r, row, 11));
		replica.last.last_seen = Value(r, row, 12);
		replica.last.age_ms = Number(r, row, 13);
		topology.replicas.push_back(std::move(replica));
	}
	co_return topology;
}

std::string
QuoteConninfoValue(const std::string &value) {
	std::string quoted = "'";
	for (char c : value) {
		if (c == '\\' || c == '\'')
			quoted += '\\';
		quoted += c;
	}
	return quoted + "'";
}

std::vector<std::string>
SplitHosts(const std::string &conninfo) {
	ConninfoOptions options = ParseConninfo(conninfo);
	std::vector<std::string> hosts, addresses, ports;
	std::string rest;
	for (const PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option) {
		if (option->val == nullptr)
			continue;
		const std::string keyword = option->keyword;
		if (keyword == "host")
			hosts = SplitConninfoList(option->val);
		else if (keyword == "hostaddr")
			addresses = SplitConninfoList(option->val);
		else if (keyword == "port")
			ports = SplitConninfoList(option->val);
		else if (keyword != "target_session_attrs")
			rest += " " + keyword + "=" + QuoteConninfoValue(option->val);
	}
	const std::size_t count = std::max(hosts.size(), addresses.size());
	if (count <= 1)
		return {conninfo};
	if ((!hosts.empty() && hosts.size() != count) || (!addresses.empty() && addresses.size() != count) ||
		(ports.size() > 1 && ports.size() != count))
		throw std::runtime_error("invalid connection string " + MaskCredentials(conninfo) +
								 ": the host, hostaddr and port lists do not pair up");
	std::vector<std::string> split;
	for (std::size_t i = 0; i < count; ++i) {
		std::string one;
		if (!hosts.empty() && !hosts[i].empty())
			one += "host=" + QuoteConninfoValue(hosts[i]);
		if (!addresses.empty() && !addresses[i].empty())
			one += std::string(one.empty() ? "" : " ") + "hostaddr=" + QuoteConninfoValue(addresses[i]);
		const std::string &port = ports.empty() ? std::string() : ports.size() == 1 ? ports[0] : ports[i];
		if (!port.empty())
			one += std::string(one.empty() ? "" : " ") + "port=" + QuoteConninfoValue(port);
		split.push_back(one + rest);
	}
	return split;
}

asio::awaitable<Topology>
ReadTopologyFrom(const std::string &conninfo, const std::string &project, std::chrono::milliseconds timeout) {
	std::string errors;
	std::exception_ptr last;
	for (const std::string &node : SplitHosts(conninfo)) {
		PgConnection conn(co_await asio::this_coro::executor);
		auto work = [&]() -> asio::awaitable<Topology> {
			co_await conn.Connect(node, ConnectionKind::Sql);
			co_return co_await ReadTopology(conn, project);
		};
		try {
			const std::string what = "reading the topology from " + MaskCredentials(node);
			co_return co_await WithTimeout(work(), timeout, what);
		} catch (const PgError &) {
			last = std::current_exception(); // this node cannot serve: the next one may
		} catch (const TimeoutError &) {
			last = std::current_exception();
		}
		try {
			std::rethrow_exception(last);
		} catch (...) {
			errors += (errors.empty() ? "" : "; ") + CurrentErrorText();
		}
	}
	throw std::runtime_error(errors.empty() ? std::string("no host to read the topology from") : errors);
}

Lsn
NodeProbe::MostAdvancedLsn() const {
	if (!in_recovery)
		return current_lsn.value_or(kInvalidLsn);
	return std::max(receive_lsn.value_or(kInvalidLsn), replay_lsn.value_or(kInvalidLsn));
}

asio::awaitable<NodeProbe>
ProbeNodeOn(PgConnection &conn) {
	// pg_walfile_name() cannot run during recovery: a primary's timeline comes from its current WAL file name, a
	// standby's from its WAL receiver, else from its last restartpoint
	const std::string sql =
		"SELECT pg_is_in_recovery(), (SELECT system_identifier::text FROM pg_control_system()),"
		"       CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END,"
		"       pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
		"       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,"
		"       CASE WHEN pg_is_in_recovery()"
		"            THEN coalesce(w.received_tli, (SELECT timeline_id FROM pg_control_checkpoint()))::bigint"
		"            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END,"
		"       w.status, current_setting('cluster_name')"
		"  FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true";
	PgResultHandle result = co_await conn.Exec("probing the node", sql);
	const PGresult *r = result.get();
	NodeProbe probe;
	probe.reachable = true;
	probe.in_recovery = Value(r, 0, 0) == "t";
	probe.system_identifier = Value(r, 0, 1);
	probe.current_lsn = LsnValue(r, 0, 2);
	probe.receive_lsn = LsnValue(r, 0, 3);
	probe.replay_lsn = LsnValue(r, 0, 4);
	probe.replay_paused = Value(r, 0, 5) == "t";
	if (std::optional<long long> timeline = Number(r, 0, 6))
		probe.timeline = static_cast<std::uint32_t>(*timeline);
	probe.wal_receiver = Value(r, 0, 7);
	probe.cluster_name = Value(r, 0, 8);
	co_return probe;
}

asio::awaitable<NodeProbe>
ProbeNode(const std::string &uri, std::chrono::milliseconds timeout) {
	PgConnection conn(co_await asio::this_coro::executor);
	auto work = [&]() -> asio::awaitable<NodeProbe> {
		co_await conn.Connect(uri, ConnectionKind::Sql);
		co_return co_await ProbeNodeOn(conn);
	};
	NodeProbe probe;
	try {
		const std::string what = "probing " + MaskCredentials(uri);
		probe = co_await WithTimeout(work(), timeout, what);
	} catch (...) {
		probe = NodeProbe();
		probe.error = CurrentErrorText();
	}
	conn.Close();
	co_return probe;
}

asio::awaitable<std::vector<NodeProbe>>
ProbeNodes(const std::vector<std::string> &uris, std::chrono::milliseconds timeout) {
	auto executor = co_await asio::this_coro::executor;
	// shared with the probes: each one outlives nothing, but holds its slot alive whatever happens here
	auto results = std::make_shared<std::vector<NodeProbe>>(uris.size());
	auto left = std::make_shared<std::size_t>(uris.size());
	auto all_done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
	for (std::size_t i = 0; i < uris.size(); ++i)
		asio::co_spawn(
			executor,
			[uri = uris[i], i, timeout, results, left, all_done]() -> asio::awaitable<void> {
				(*results)[i] = co_await ProbeNode(uri, timeout);
				if (--*left == 0)
					all_done->cancel();
			},
			asio::detached);
	while (*left > 0) {
		boost::system::error_code ignored;
		co_await all_done->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
	}
	co_return *results;
}

} // namespace mosta::sidecar::ha
