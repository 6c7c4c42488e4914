/*
 * bidir_checks.cpp
 *     Start checks of a bidirectional rule's PostgreSQL sides (see bidir_checks.hpp).
 */
#include "app/bidir_checks.hpp"

#include <stdexcept>

namespace mosta::sidecar {

boost::asio::awaitable<void>
CheckBidirectionalSide(PgConnection &conn, const RulePlan &plan, const std::string &side) {
	std::string tables_sql;
	if (plan.collections.size() == 1 && plan.collections[0] == "*") {
		tables_sql = std::string("SELECT t.name FROM (") + kTablesOfStarSql +
					 ") t(name) JOIN pg_class c ON c.oid = to_regclass(t.name) WHERE c.relreplident <> 'f' ORDER BY 1";
	} else {
		std::string names;
		for (const std::string &name : plan.collections)
			names += (names.empty() ? "" : ", ") + SqlLiteral(conn, name);
		tables_sql = "SELECT format('%I.%I', n.nspname, c.relname) FROM unnest(ARRAY[" + names +
					 "]::text[]) x(name) JOIN pg_class c ON c.oid = to_regclass(x.name) JOIN pg_namespace n ON n.oid = "
					 "c.relnamespace WHERE c.relkind = 'r' AND c.relreplident <> 'f' ORDER BY 1";
	}
	PgResultHandle tables = co_await conn.Exec("checking the replica identity of the rule's tables", tables_sql);
	if (PQntuples(tables.get()) > 0) {
		std::string list;
		std::string fix;
		for (int row = 0; row < PQntuples(tables.get()); ++row) {
			std::string table = PQgetvalue(tables.get(), row, 0);
			list += (row == 0 ? "" : ", ") + table;
			fix += (row == 0 ? "" : " ") + ("ALTER TABLE " + table + " REPLICA IDENTITY FULL;");
		}
		throw std::runtime_error("bidirectional rule " + plan.name + ": table(s) " + list + " on " + side +
								 " lack REPLICA IDENTITY FULL: conflicts are detected by comparing the full old row "
								 "of each update and delete (HINT: run on " +
								 side + ": " + fix + ")");
	}
	if (plan.conflict_resolution == ConflictPolicy::LastWriteWins) {
		const std::string setting_sql = "SELECT current_setting('track_commit_timestamp')";
		PgResultHandle setting = co_await conn.Exec("reading track_commit_timestamp", setting_sql);
		if (std::string(PQgetvalue(setting.get(), 0, 0)) != "on")
			throw std::runtime_error(
				"bidirectional rule " + plan.name + " resolves conflicts by last-write-wins, but " + side +
				" has track_commit_timestamp = off: its rows have no commit time to compare (HINT: ALTER SYSTEM SET "
				"track_commit_timestamp = on on " +
				side + ", then restart that server; or choose another conflict_resolution)");
	}
}

} // namespace mosta::sidecar
