/*
 * initial_copy.cpp
 *     The tables, shapes and row cursors of the initial copy (see initial_copy.hpp).
 */
#include "app/initial_copy.hpp"

#include <stdexcept>

#include "decode/change.hpp"

namespace mosta::sidecar {

boost::asio::awaitable<std::vector<std::string>>
CopiedTables(PgConnection &sql, const RulePlan &plan) {
	std::vector<std::string> tables;
	if (plan.collections.size() == 1 && plan.collections[0] == "*") {
		const std::string star_sql = kTablesOfStarSql;
		PgResultHandle result = co_await sql.Exec("listing the tables of '*'", star_sql);
		for (int row = 0; row < PQntuples(result.get()); ++row)
			tables.emplace_back(PQgetvalue(result.get(), row, 0));
		co_return tables;
	}
	std::string names;
	for (const std::string &name : plan.collections)
		names += (names.empty() ? "" : ", ") + SqlLiteral(sql, name);
	// a partition's changes are streamed under its root's name, which a rule naming the partition does not cover
	const std::string partitions_sql =
		"SELECT x.name, format('%I.%I', n.nspname, r.relname) FROM unnest(ARRAY[" + names +
		"]::text[]) x(name) JOIN pg_class c ON c.oid = to_regclass(x.name) AND c.relispartition"
		" JOIN pg_class r ON r.oid = pg_partition_root(c.oid) JOIN pg_namespace n ON n.oid = r.relnamespace";
	PgResultHandle partitions = co_await sql.Exec("checking the rule's collections", partitions_sql);
	if (PQntuples(partitions.get()) > 0)
		throw std::runtime_error("collection " + std::string(PQgetvalue(partitions.get(), 0, 0)) +
								 " is a partition of " + PQgetvalue(partitions.get(), 0, 1) +
								 ": partitioned tables are replicated as their root, so name the root in the rule");
	co_return plan.collections;
}

boost::asio::awaitable<std::string>
ShapeDocument(PgConnection &sql, const std::string &table) {
	const std::string shape_sql = "SELECT mosta.snapshot_ddl_document(" + SqlLiteral(sql, table) + "::regclass)";
	PgResultHandle shape = co_await sql.Exec("announcing the shape of " + table, shape_sql);
	co_return std::string(PQgetvalue(shape.get(), 0, 0));
}

std::string
CopyCursorSql(PgConnection &sql, const std::string &table) {
	return "DECLARE mosta_copy NO SCROLL CURSOR FOR SELECT mosta.snapshot_documents(" + SqlLiteral(sql, table) +
		   "::regclass, include_types => true, partition_root => true, format_version => " +
		   std::to_string(kCopyFormatVersion) + ")";
}

} // namespace mosta::sidecar
