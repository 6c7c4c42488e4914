/*
 * promotion.cpp
 *     Promote, swap the catalog roles, repoint a standby, log an activity row (see promotion.hpp).
 */
#include "ha/promotion.hpp"

#include <exception>
#include <memory>
#include <set>
#include <stdexcept>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/catalog.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/conninfo_options.hpp"
#include "pg/errors.hpp"
#include "util/pause.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;

namespace {

// kPollStep is how often a state that is awaited (the end of recovery) is read again.
constexpr std::chrono::milliseconds kPollStep{50};

std::string
Value(const PGresult *result, int row, int col) {
	return PQgetisnull(result, row, col) ? std::string() : std::string(PQgetvalue(result, row, col));
}

// Promote is PromoteStandby's work, without its deadline.
asio::awaitable<PromotionResult>
Promote(PgConnection &conn, const std::string &uri, std::chrono::seconds wait) {
	co_await conn.Connect(uri, ConnectionKind::Sql);
	NodeProbe before = co_await ProbeNodeOn(conn);
	if (!before.in_recovery)
		throw std::runtime_error("cannot promote " + NodeName(conn) + ": it is not in recovery (already a primary)");
	const auto start = std::chrono::steady_clock::now();
	const std::string promote_sql = "SELECT pg_promote(true, " + std::to_string(wait.count()) + ")";
	PgResultHandle promoted = co_await conn.Exec("promoting the standby", promote_sql);
	if (Value(promoted.get(), 0, 0) != "t")
		throw std::runtime_error("pg_promote() on " + NodeName(conn) + " did not finish within " +
								 std::to_string(wait.count()) + " s (see its server log)");
	const std::string recovery_sql = "SELECT pg_is_in_recovery()";
	for (;;) {
		PgResultHandle recovery = co_await conn.Exec("waiting for the end of recovery", recovery_sql);
		if (Value(recovery.get(), 0, 0) == "f")
			break;
		co_await Pause(kPollStep);
	}
	PromotionResult result;
	result.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
	NodeProbe after = co_await ProbeNodeOn(conn);
	result.timeline = after.timeline;
	result.lsn = after.current_lsn;
	co_return result;
}

// Repoint is RepointStandby's work, without its deadline.
asio::awaitable<void>
Repoint(PgConnection &conn, const std::string &standby_uri, const std::string &primary_conninfo) {
	co_await conn.Connect(standby_uri, ConnectionKind::Sql);
	NodeProbe node = co_await ProbeNodeOn(conn);
	if (!node.in_recovery)
		throw std::runtime_error("cannot repoint " + NodeName(conn) + ": it is not in recovery (a primary)");
	// ALTER SYSTEM cannot run in a transaction block: one statement per Exec
	const std::string alter_sql = "ALTER SYSTEM SET primary_conninfo = " + SqlLiteral(conn, primary_conninfo);
	co_await conn.Exec("setting primary_conninfo", alter_sql);
	const std::string reload_sql = "SELECT pg_reload_conf()";
	co_await conn.Exec("reloading the configuration", reload_sql);
}

} // namespace

asio::awaitable<PromotionResult>
PromoteStandby(const std::string &uri, std::chrono::seconds wait) {
	PgConnection conn(co_await asio::this_coro::executor);
	const std::chrono::milliseconds deadline = wait + std::chrono::seconds(10);
	const std::string what = "promoting " + MaskCredentials(uri);
	PromotionResult result = co_await WithTimeout(Promote(conn, uri, wait), deadline, what);
	co_return result;
}

asio::awaitable<SwapResult>
SwapMaster(PgConnection &conn, const std::string &project, const std::string &new_master) {
	const std::string p = SqlLiteral(conn, project);
	const std::string n = SqlLiteral(conn, new_master);
	// named statements: no class-type temporary in a co_await expression (GCC 12 may destroy it twice)
	const std::string begin = "BEGIN", commit = "COMMIT", rollback = "ROLLBACK";
	const std::string lock_sql =
		"SELECT name, role, dialect FROM mosta.replicas WHERE project = " + p + " ORDER BY name FOR UPDATE";
	co_await conn.Exec("starting the role swap", begin);
	std::exception_ptr failure;
	SwapResult swap;
	try {
		PgResultHandle rows = co_await conn.Exec("locking the project's replicas", lock_sql);
		bool found = false;
		for (int row = 0; row < PQntuples(rows.get()); ++row) {
			std::string name = Value(rows.get(), row, 0);
			std::string role = Value(rows.get(), row, 1);
			if (role == "master")
				swap.old_master = name;
			if (name == new_master) {
				found = true;
				if (role != "slave" || Value(rows.get(), row, 2) != "postgres")
					throw std::runtime_error("replica \"" + new_master + "\" of project \"" + project + "\" is a " +
											 Value(rows.get(), row, 2) + " " + role + ", not a postgres slave");
			}
		}
		if (!found)
			throw std::runtime_error("project \"" + project + "\" has no replica \"" + new_master + "\"");
		std::string sql;
		if (!swap.old_master.empty()) {
			const std::string o = SqlLiteral(conn, swap.old_master);
			// the old master first: the unique index replicas_one_master allows one master per project
			sql += "UPDATE mosta.replicas SET role = 'slave' WHERE project = " + p + " AND name = " + o + ";";
			sql += "INSERT INTO mosta.replica_status AS s (project, replica, status, last_error, last_seen) VALUES (" +
				   p + ", " + o + ", 'down', " +
				   SqlLiteral(conn, "former master, replaced by " + new_master +
										": it must rejoin as a standby (pg_rewind) before it serves reads") +
				   ", now()) ON CONFLICT (project, replica) DO UPDATE SET status = 'down', lag_ms = NULL, "
				   "lag_bytes = NULL, applied_lsn = NULL, sync_state = NULL, last_error = EXCLUDED.last_error, "
				   "last_seen = now();";
		}
		sql += "UPDATE mosta.replicas SET role = 'master' WHERE project = " + p + " AND name = " + n + ";";
		sql += "DELETE FROM mosta.replica_status WHERE project = " + p + " AND replica = " + n + ";";
		co_await conn.Exec("swapping the master and slave roles", sql);
		co_await conn.Exec("committing the role swap", commit);
	} catch (...) {
		failure = std::current_exception();
	}
	if (failure) {
		try {
			co_await conn.Exec("rolling back the role swap", rollback);
		} catch (...) {
			conn.Close(); // its state is unknown; the transaction dies with it
		}
		std::rethrow_exception(failure);
	}
	co_return swap;
}

std::string
PrimaryConninfo(const std::string &conninfo, const std::string &application_name) {
	ConninfoOptions options = ParseConninfo(conninfo);
	static const std::set<std::string> kDropped = {
		"password", "dbname", "replication", "target_session_attrs", "application_name", "fallback_application_name"};
	std::string result;
	for (const PQconninfoOption *option = options.get(); option->keyword != nullptr; ++option) {
		if (option->val == nullptr || kDropped.count(option->keyword) != 0)
			continue;
		result += std::string(option->keyword) + "=" + QuoteConninfoValue(option->val) + " ";
	}
	return result + "application_name=" + QuoteConninfoValue(application_name);
}

asio::awaitable<void>
RepointStandby(const std::string &standby_uri, const std::string &new_primary_conninfo,
			   const std::string &application_name, std::chrono::milliseconds timeout) {
	const std::string primary_conninfo = PrimaryConninfo(new_primary_conninfo, application_name);
	PgConnection conn(co_await asio::this_coro::executor);
	const std::string what = "repointing " + MaskCredentials(standby_uri);
	co_await WithTimeout(Repoint(conn, standby_uri, primary_conninfo), timeout, what);
}

asio::awaitable<long long>
LogActivity(PgConnection &conn, const std::string &action, const std::string &project, const std::string &object,
			const std::string &detail_json) {
	const std::string masked = MaskCredentialsInText(detail_json);
	const std::string head = "INSERT INTO mosta.activity (action, project, object, detail) VALUES (" +
							 SqlLiteral(conn, action) + ", " + SqlLiteral(conn, project) + ", " +
							 SqlLiteral(conn, object) + ", ";
	const std::string context = "logging " + action + " of project " + project;
	const std::string insert_sql = head + SqlLiteral(conn, masked) + "::jsonb) RETURNING id";
	try {
		PgResultHandle result = co_await conn.Exec(context, insert_sql);
		co_return std::stoll(Value(result.get(), 0, 0));
	} catch (const PgError &e) {
		// masking can break the JSON it masks (a secret's value running past its closing quote): keep the row,
		// with the masked text as one string, rather than lose the record of what was done
		if (e.SqlState() != "22P02")
			throw;
	}
	const std::string unparsed_sql =
		head + "jsonb_build_object('unparsed', " + SqlLiteral(conn, masked) + "::text)) RETURNING id";
	PgResultHandle result = co_await conn.Exec(context, unparsed_sql);
	co_return std::stoll(Value(result.get(), 0, 0));
}

} // namespace mosta::sidecar::ha
