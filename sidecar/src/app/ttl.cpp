/*
 * ttl.cpp
 *     The TTL pass (see ttl.hpp).
 */
#include "app/ttl.hpp"

#include <cstdlib>
#include <vector>

#include "app/log.hpp"
#include "pg/errors.hpp"

namespace mosta::sidecar {

std::string
TtlExpireSql(unsigned relid, int batch) {
	// an OID and an integer: nothing to quote, and the name never goes through a search_path
	return "SELECT mosta_ttl_expire(" + std::to_string(relid) + "::oid::regclass, " + std::to_string(batch) + ")";
}

namespace {

// One row of mosta.ttl.
struct TtlTable {
	unsigned relid = 0;
	std::string name;
};

// ExpireTable deletes up to kTtlBatchesPerPass batches from table; returns how many rows went.
boost::asio::awaitable<long long>
ExpireTable(PgConnection &conn, const TtlTable &table, int batch) {
	long long deleted = 0;
	const std::string sql = TtlExpireSql(table.relid, batch);
	for (int round = 0; round < kTtlBatchesPerPass; ++round) {
		PgResultHandle result = co_await conn.Exec("deleting expired rows of " + table.name, sql);
		long long rows = std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
		deleted += rows;
		if (rows < batch)
			break;
	}
	co_return deleted;
}

} // namespace

boost::asio::awaitable<void>
RunTtlPass(PgConnection &conn, int batch) {
	const std::string list_sql =
		"SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM mosta.ttl t"
		" JOIN pg_class c ON c.oid = t.tbl JOIN pg_namespace n ON n.oid = c.relnamespace"
		" ORDER BY 2";
	PgResultHandle list = co_await conn.Exec("reading mosta.ttl", list_sql);
	std::vector<TtlTable> tables;
	for (int row = 0; row < PQntuples(list.get()); ++row)
		tables.push_back({static_cast<unsigned>(std::strtoul(PQgetvalue(list.get(), row, 0), nullptr, 10)),
						  PQgetvalue(list.get(), row, 1)});
	for (const TtlTable &table : tables) {
		long long deleted = 0;
		try {
			deleted = co_await ExpireTable(conn, table, batch);
		} catch (const PgError &e) {
			// no SQLSTATE: libpq lost the connection, which the catalog poll handles
			if (e.SqlState().empty() || e.Class() == ErrorClass::Retry)
				throw;
			LogLine("ttl: " + std::string(e.what()) + "; the next pass tries again");
			continue;
		}
		if (deleted > 0)
			LogLine("ttl: " + table.name + ": deleted " + std::to_string(deleted) + " expired rows");
	}
}

} // namespace mosta::sidecar
