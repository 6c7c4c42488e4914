/*
 * sqlite_backup_layout.cpp
 *     The SQL of a mosta-copy SQLite backup's tables (see sqlite_backup_layout.hpp).
 */
#include "io/sqlite_backup_layout.hpp"

#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::copy {

std::string
SqliteBackupCreateSql(const TableDef &table) {
	std::string sql = "CREATE TABLE " + QuoteIdentifier(sidecar::SqliteTableName(table.schema, table.name)) + " (";
	std::vector<std::size_t> copied = table.CopiedColumns();
	if (copied.empty())
		sql += QuoteIdentifier(kSqliteNoColumns);
	for (std::size_t i = 0; i < copied.size(); ++i) {
		const ColumnDef &column = table.columns[copied[i]];
		std::string declared = sidecar::SqliteDeclaredType(column.type);
		sql += (i == 0 ? "" : ", ") + QuoteIdentifier(column.name) + (declared.empty() ? "" : " " + declared);
	}
	if (!table.primary_key.empty()) {
		sql += ", PRIMARY KEY (";
		for (std::size_t i = 0; i < table.primary_key.size(); ++i)
			sql += (i == 0 ? "" : ", ") + QuoteIdentifier(table.primary_key[i]);
		sql += ")";
	}
	return sql + ")";
}

std::string
SqliteBackupInsertSql(const TableDef &table) {
	std::size_t count = table.CopiedColumns().size();
	std::string sql =
		"INSERT INTO " + QuoteIdentifier(sidecar::SqliteTableName(table.schema, table.name)) + " VALUES (";
	if (count == 0)
		sql += "NULL";
	for (std::size_t i = 0; i < count; ++i)
		sql += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
	return sql + ")";
}

std::string
SqliteBackupSelectSql(const TableDef &table) {
	std::string list;
	for (std::size_t index : table.CopiedColumns())
		list += (list.empty() ? "" : ", ") + QuoteIdentifier(table.columns[index].name);
	return "SELECT " + (list.empty() ? std::string("NULL") : list) + " FROM " +
		   QuoteIdentifier(sidecar::SqliteTableName(table.schema, table.name));
}

} // namespace mosta::copy
