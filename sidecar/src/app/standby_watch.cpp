/*
 * standby_watch.cpp
 *     The watch over PostgreSQL standbys (see standby_watch.hpp).
 */
#include "app/standby_watch.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "app/log.hpp"
#include "pg/connection.hpp"
#include "pg/errors.hpp"
#include "util/with_timeout.hpp"

namespace mosta::sidecar {

namespace asio = boost::asio;

void
MasterHistory::Add(double at_ms, Lsn lsn) {
	entries_.emplace_back(at_ms, lsn);
	if (entries_.size() > kMaxEntries)
		entries_.pop_front();
}

std::optional<Lsn>
MasterHistory::Previous() const {
	if (entries_.size() < 2)
		return std::nullopt;
	return entries_[entries_.size() - 2].second;
}

std::optional<double>
MasterHistory::CurrentAsOf(Lsn replay_lsn) const {
	for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
		if (it->second <= replay_lsn)
			return it->first;
	return std::nullopt;
}

std::optional<std::int64_t>
StandbyLagMs(const MasterHistory &history, Lsn master_lsn, Lsn replay_lsn, double now_ms,
			 std::optional<double> replay_ts_ms) {
	std::optional<Lsn> previous = history.Previous();
	if (replay_lsn >= master_lsn || (previous && replay_lsn >= *previous))
		return 0;
	std::optional<double> current_as_of = history.CurrentAsOf(replay_lsn);
	if (replay_ts_ms && (!current_as_of || *replay_ts_ms > *current_as_of))
		current_as_of = replay_ts_ms;
	if (!current_as_of)
		return std::nullopt;
	return std::max<std::int64_t>(0, static_cast<std::int64_t>(now_ms - *current_as_of));
}

namespace {

// A postgres slave of the catalog, with its project's master.
struct StandbyEntry {
	std::string project;
	std::string name;
	std::string uri;
	long long tolerance_ms = 0;
	std::string master_uri;		// "" when the project has no master
	std::string master_dialect; // the master's dialect
};

// What one round saw of a master.
struct MasterObservation {
	bool ok = false;
	std::string error;
	std::string system_identifier;
	Lsn lsn = kInvalidLsn;
	double now_ms = 0;
	struct Sender {
		std::string application_name;
		std::string slot;
		std::string sync_state;
	};
	std::vector<Sender> senders;
};

// What is written to the standby's mosta.replica_status row.
struct StandbyReport {
	std::string status = "unknown"; // up, catching-up, down, error, unknown
	std::optional<long long> lag_ms;
	std::optional<long long> lag_bytes;
	Lsn applied_lsn = kInvalidLsn;
	std::string sync_state;
	std::string last_error;
};

// A master's connection and the history of its WAL position.
struct MasterState {
	std::unique_ptr<PgConnection> conn;
	MasterHistory history;
};

// A check that has not answered in this long counts as failed (down): a standby that does not answer must not
// hold up the others' reports for long.
constexpr std::chrono::seconds kCheckTimeout{5};

std::string
Value(const PGresult *result, int row, int col) {
	return PQgetisnull(result, row, col) ? std::string() : std::string(PQgetvalue(result, row, col));
}

std::string
Describe(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const PgError &e) {
		return e.Message();
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unknown error";
	}
}

// ObserveMaster reads the master's identity, WAL position, clock and walsenders.
asio::awaitable<MasterObservation>
ObserveMaster(PgConnection &conn, const std::string &uri) {
	if (!conn.IsOpen())
		co_await conn.Connect(uri, ConnectionKind::Sql);
	const std::string sql =
		"SELECT system_identifier::text, pg_current_wal_lsn(), extract(epoch FROM clock_timestamp()) * 1000"
		"  FROM pg_control_system()";
	PgResultHandle result = co_await conn.Exec("reading the master's WAL position", sql);
	MasterObservation master;
	master.system_identifier = Value(result.get(), 0, 0);
	master.lsn = ParseLsn(Value(result.get(), 0, 1)).value_or(kInvalidLsn);
	master.now_ms = std::stod(Value(result.get(), 0, 2));
	const std::string senders_sql = "SELECT r.application_name, s.slot_name, r.sync_state FROM pg_stat_replication r"
									"  LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid";
	PgResultHandle senders = co_await conn.Exec("reading pg_stat_replication", senders_sql);
	for (int row = 0; row < PQntuples(senders.get()); ++row)
		master.senders.push_back(
			{Value(senders.get(), row, 0), Value(senders.get(), row, 1), Value(senders.get(), row, 2)});
	master.ok = true;
	co_return master;
}

// SyncStateOf finds the standby among the master's walsenders: by the slot its WAL receiver uses, else by the
// application_name it connects with (primary_conninfo, else cluster_name, else "walreceiver"); "" when it is not
// there, or when several senders share that name with differing states.
std::string
SyncStateOf(const MasterObservation &master, const std::string &slot, const std::string &application_name) {
	if (!slot.empty())
		for (const MasterObservation::Sender &sender : master.senders)
			if (sender.slot == slot)
				return sender.sync_state;
	std::set<std::string> states;
	for (const MasterObservation::Sender &sender : master.senders)
		if (sender.application_name == application_name)
			states.insert(sender.sync_state);
	return states.size() == 1 ? *states.begin() : std::string();
}

// CheckStandby connects to the standby (if needed) and compares it with the master.
asio::awaitable<StandbyReport>
CheckStandby(PgConnection &conn, const StandbyEntry &entry, const MasterObservation &master,
			 const MasterHistory &history) {
	if (!conn.IsOpen())
		co_await conn.Connect(entry.uri, ConnectionKind::Sql);
	const std::string sql =
		"SELECT pg_is_in_recovery(), (SELECT system_identifier::text FROM pg_control_system()),"
		"       pg_last_wal_replay_lsn(), extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000,"
		"       w.status, w.slot_name,"
		"       coalesce(substring(w.conninfo FROM '(?:^|\\s)application_name=(\\S+)'),"
		"                nullif(current_setting('cluster_name'), ''), 'walreceiver'),"
		"       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END"
		"  FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true";
	PgResultHandle result = co_await conn.Exec("checking the standby", sql);
	StandbyReport report;
	if (Value(result.get(), 0, 0) != "t") {
		report.status = "error";
		report.last_error = "not in recovery: a primary, not a standby of the master";
		co_return report;
	}
	std::string system_identifier = Value(result.get(), 0, 1);
	if (system_identifier != master.system_identifier) {
		report.status = "error";
		report.last_error = "different system identifier " + system_identifier + ", the master's is " +
							master.system_identifier + ": not a physical standby of this master";
		co_return report;
	}
	std::optional<Lsn> replay = ParseLsn(Value(result.get(), 0, 2));
	std::string receiver = Value(result.get(), 0, 4);
	report.sync_state = SyncStateOf(master, Value(result.get(), 0, 5), Value(result.get(), 0, 6));
	bool paused = Value(result.get(), 0, 7) == "t";
	if (!replay) {
		report.status = "catching-up";
		report.last_error = "no WAL replayed yet";
		co_return report;
	}
	report.applied_lsn = *replay;
	report.lag_bytes = master.lsn > *replay ? static_cast<long long>(master.lsn - *replay) : 0;
	std::string replay_ts = Value(result.get(), 0, 3);
	std::optional<double> replay_ts_ms;
	if (!replay_ts.empty())
		replay_ts_ms = std::stod(replay_ts);
	std::optional<std::int64_t> lag = StandbyLagMs(history, master.lsn, *replay, master.now_ms, replay_ts_ms);
	if (lag)
		report.lag_ms = *lag;
	bool fresh = lag && *lag <= entry.tolerance_ms;
	report.status = receiver == "streaming" && fresh ? "up" : "catching-up";
	if (paused)
		report.last_error = "WAL replay is paused (pg_wal_replay_resume() resumes it)";
	else if (receiver != "streaming")
		report.last_error =
			"not streaming from the master (WAL receiver: " + (receiver.empty() ? std::string("none") : receiver) + ")";
	co_return report;
}

// CheckWithTimeout runs CheckStandby under WithTimeout; a standby that cannot be reached or does not answer is down.
asio::awaitable<StandbyReport>
CheckWithTimeout(PgConnection &conn, const StandbyEntry &entry, const MasterObservation &master,
				 const MasterHistory &history) {
	std::exception_ptr error;
	try {
		co_return co_await WithTimeout(CheckStandby(conn, entry, master, history), kCheckTimeout, "");
	} catch (...) {
		error = std::current_exception();
	}
	conn.Close();
	StandbyReport report;
	report.status = "down";
	report.last_error = Describe(error);
	co_return report;
}

// Literal helpers for the status statement.
std::string
NumberOrNull(const std::optional<long long> &value) {
	return value ? std::to_string(*value) : std::string("NULL");
}

std::string
TextOrNull(PgConnection &conn, const std::string &text) {
	return text.empty() ? std::string("NULL") : SqlLiteral(conn, text);
}

// StatusSql upserts one standby's mosta.replica_status row; sync_state only where the catalog has the column.
std::string
StatusSql(PgConnection &catalog, const StandbyEntry &entry, const StandbyReport &report, bool has_sync_state) {
	std::string lsn =
		report.applied_lsn == kInvalidLsn ? std::string("NULL") : "'" + FormatLsn(report.applied_lsn) + "'::pg_lsn";
	std::string sql = "INSERT INTO mosta.replica_status AS s (project, replica, status, lag_ms, lag_bytes, "
					  "applied_lsn, last_error, last_seen";
	sql += has_sync_state ? ", sync_state) VALUES (" : ") VALUES (";
	sql += SqlLiteral(catalog, entry.project) + ", " + SqlLiteral(catalog, entry.name) + ", " +
		   SqlLiteral(catalog, report.status) + ", " + NumberOrNull(report.lag_ms) + ", " +
		   NumberOrNull(report.lag_bytes) + ", " + lsn + ", " + TextOrNull(catalog, report.last_error) + ", now()";
	if (has_sync_state)
		sql += ", " + TextOrNull(catalog, report.sync_state);
	sql += ") ON CONFLICT (project, replica) DO UPDATE SET status = EXCLUDED.status, lag_ms = EXCLUDED.lag_ms, "
		   "lag_bytes = EXCLUDED.lag_bytes, applied_lsn = EXCLUDED.applied_lsn, last_error = EXCLUDED.last_error, "
		   "last_seen = now()";
	sql += has_sync_state ? ", sync_state = EXCLUDED.sync_state;" : ";";
	return sql;
}

// The watcher's state across rounds.
struct Watch {
	PgConnection catalog;
	std::map<std::string, MasterState> masters;					   // by master URI
	std::map<std::string, std::unique_ptr<PgConnection>> standbys; // by standby URI
	std::map<std::string, std::string> logged;					   // "project.replica" -> last state logged
	std::vector<StandbyEntry> reported;							   // the standbys the last round wrote
	explicit Watch(const asio::any_io_executor &executor) : catalog(executor) {}
};

// ReadEntries reads the postgres slaves with their masters, and whether mosta.replica_status has sync_state.
asio::awaitable<std::vector<StandbyEntry>>
ReadEntries(PgConnection &catalog, bool &has_sync_state) {
	const std::string sql =
		"SELECT s.project, s.name, s.uri, s.lag_tolerance_ms, m.uri, m.dialect,"
		"       EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'mosta.replica_status'::regclass"
		"                  AND attname = 'sync_state' AND NOT attisdropped)"
		"  FROM mosta.replicas s LEFT JOIN mosta.replicas m ON m.project = s.project AND m.role = 'master'"
		" WHERE s.dialect = 'postgres' AND s.role = 'slave' ORDER BY s.project, s.name";
	PgResultHandle result = co_await catalog.Exec("reading the postgres slaves", sql);
	std::vector<StandbyEntry> entries;
	has_sync_state = false;
	for (int row = 0; row < PQntuples(result.get()); ++row) {
		entries.push_back({Value(result.get(), row, 0), Value(result.get(), row, 1), Value(result.get(), row, 2),
						   std::stoll(Value(result.get(), row, 3)), Value(result.get(), row, 4),
						   Value(result.get(), row, 5)});
		has_sync_state = Value(result.get(), row, 6) == "t";
	}
	co_return entries;
}

// InParallel runs every task at once on this executor and returns when all have finished. Each task catches its
// own errors and is bounded by WithTimeout, so a node that does not answer costs one timeout, not one per node.
asio::awaitable<void>
InParallel(std::vector<std::function<asio::awaitable<void>()>> tasks) {
	auto executor = co_await asio::this_coro::executor;
	asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
	std::size_t left = tasks.size();
	for (auto &task : tasks)
		asio::co_spawn(executor, task(), [&left, &all_done](std::exception_ptr) {
			if (--left == 0)
				all_done.cancel();
		});
	while (left > 0) {
		boost::system::error_code ignored;
		co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
	}
}

// StandbyKey names a standby's connection: a changed URI gets a new one.
std::string
StandbyKey(const StandbyEntry &entry) {
	return entry.project + '\n' + entry.name + '\n' + entry.uri;
}

// Round reads every master, then checks every standby, each phase in parallel, and writes all their rows in one
// statement.
asio::awaitable<void>
Round(Watch &watch, const Config &config) {
	if (!watch.catalog.IsOpen())
		co_await watch.catalog.Connect(config.source, ConnectionKind::Sql);
	bool has_sync_state = false;
	std::vector<StandbyEntry> entries = co_await ReadEntries(watch.catalog, has_sync_state);
	auto executor = co_await asio::this_coro::executor;

	std::map<std::string, MasterObservation> observed; // by master URI, this round
	std::vector<std::function<asio::awaitable<void>()>> tasks;
	for (const StandbyEntry &entry : entries) {
		if (entry.master_uri.empty() || entry.master_dialect != "postgres" || observed.count(entry.master_uri) != 0)
			continue;
		MasterState &state = watch.masters[entry.master_uri];
		if (!state.conn)
			state.conn = std::make_unique<PgConnection>(executor);
		MasterObservation &master = observed[entry.master_uri];
		const std::string &uri = entry.master_uri;
		tasks.push_back([&state, &master, &uri]() -> asio::awaitable<void> {
			try {
				master = co_await WithTimeout(ObserveMaster(*state.conn, uri), kCheckTimeout, "");
				state.history.Add(master.now_ms, master.lsn);
			} catch (...) {
				master.ok = false;
				master.error = Describe(std::current_exception());
				state.conn->Close();
			}
		});
	}
	co_await InParallel(std::move(tasks));

	std::vector<StandbyReport> reports(entries.size());
	std::set<std::string> live_standbys;
	tasks.clear();
	for (std::size_t i = 0; i < entries.size(); ++i) {
		const StandbyEntry &entry = entries[i];
		StandbyReport &report = reports[i];
		if (entry.master_uri.empty() || entry.master_dialect != "postgres") {
			report.status = "error";
			report.last_error = entry.master_uri.empty() ? "project \"" + entry.project + "\" has no master"
														 : "the project's master is not a postgres replica";
			continue;
		}
		const MasterObservation &master = observed[entry.master_uri];
		if (!master.ok) {
			report.status = "unknown";
			report.last_error = "cannot read the master: " + master.error;
			continue;
		}
		std::unique_ptr<PgConnection> &conn = watch.standbys[StandbyKey(entry)];
		if (!conn)
			conn = std::make_unique<PgConnection>(executor);
		live_standbys.insert(StandbyKey(entry));
		const MasterHistory &history = watch.masters[entry.master_uri].history;
		PgConnection &standby = *conn;
		tasks.push_back([&standby, &entry, &master, &history, &report]() -> asio::awaitable<void> {
			report = co_await CheckWithTimeout(standby, entry, master, history);
		});
	}
	co_await InParallel(std::move(tasks));

	std::string sql;
	for (std::size_t i = 0; i < entries.size(); ++i) {
		const StandbyEntry &entry = entries[i];
		const StandbyReport &report = reports[i];
		std::string state = report.status + ": " + report.last_error;
		std::string &logged = watch.logged[entry.project + "." + entry.name];
		if (logged != state)
			LogLine("standby " + entry.project + "." + entry.name + ": " + report.status +
					(report.last_error.empty() ? std::string() : " (" + report.last_error + ")"));
		logged = state;
		sql += StatusSql(watch.catalog, entry, report, has_sync_state);
	}
	for (auto it = watch.standbys.begin(); it != watch.standbys.end();)
		it = live_standbys.count(it->first) != 0 ? std::next(it) : watch.standbys.erase(it);
	for (auto it = watch.masters.begin(); it != watch.masters.end();)
		it = observed.count(it->first) != 0 ? std::next(it) : watch.masters.erase(it);
	if (!sql.empty())
		co_await watch.catalog.Exec("writing the standbys' status", sql);
	watch.reported = std::move(entries);
}

// SayUnwatched marks the standbys reported as unknown when the daemon stops: nobody measures their lag any more,
// so reads must not rely on the last report until it goes stale.
asio::awaitable<void>
SayUnwatched(Watch &watch) {
	if (!watch.catalog.IsOpen() || watch.reported.empty())
		co_return;
	std::string sql;
	for (const StandbyEntry &entry : watch.reported)
		sql += "UPDATE mosta.replica_status SET status = 'unknown', lag_ms = NULL, lag_bytes = NULL, last_error = "
			   "'not watched: mosta-sidecar stopped', last_seen = now() WHERE project = " +
			   SqlLiteral(watch.catalog, entry.project) + " AND replica = " + SqlLiteral(watch.catalog, entry.name) +
			   ";";
	co_await watch.catalog.Exec("writing the standbys' status at stop", sql);
}

} // namespace

asio::awaitable<void>
WatchStandbys(const Config &config, const bool *stop) {
	auto executor = co_await asio::this_coro::executor;
	Watch watch(executor);
	asio::steady_timer timer(executor);
	std::string last_error;
	while (!*stop) {
		std::exception_ptr error;
		try {
			co_await Round(watch, config);
		} catch (...) {
			error = std::current_exception();
		}
		if (error) {
			std::string text = Describe(error);
			if (text != last_error)
				LogLine("standbys: " + text + "; trying again at the next status interval");
			last_error = text;
			watch.catalog.Close();
		} else {
			last_error.clear();
		}
		// in steps of the poll interval, so that the end of the run is seen soon
		auto until = std::chrono::steady_clock::now() + config.status_interval;
		while (!*stop && std::chrono::steady_clock::now() < until) {
			timer.expires_at(std::min(until, std::chrono::steady_clock::now() + config.poll_interval));
			boost::system::error_code ignored;
			co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
		}
	}
	try {
		co_await SayUnwatched(watch);
	} catch (const std::exception &e) {
		LogLine("standbys: " + std::string(e.what()));
	}
}

} // namespace mosta::sidecar
