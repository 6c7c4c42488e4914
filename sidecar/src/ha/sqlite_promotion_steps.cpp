/*
 * sqlite_promotion_steps.cpp
 *     What promote and switch-back share (see sqlite_promotion_steps.hpp).
 */
#include "ha/sqlite_promotion_steps.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sqlite3.h>

#include "mosta/common/canonical_row.hpp"

namespace mosta::sidecar::ha::sqlite_promotion {

std::string
ReadWholeFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::ostringstream content;
	content << in.rdbuf();
	return content.str();
}

SqliteHandle
OpenExisting(const std::string &path) {
	std::error_code error;
	if (!std::filesystem::is_regular_file(path, error))
		throw Refused("the SQLite file " + path + " does not exist",
					  "Give the replica's file with --file, or the daemon's data directory with --data-dir (or "
					  "MOSTA_DATA_DIR) so that the replica's path resolves as the daemon resolves it.");
	SqliteHandle db = OpenSqlite(path);
	sqlite3_busy_timeout(db.get(), 5000);
	return db;
}

bool
TableExists(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
	BindText(db, stmt.get(), 1, name);
	StepSql(db, stmt.get());
	return sqlite3_column_int(stmt.get(), 0) > 0;
}

std::optional<Lsn>
Checkpoint(sqlite3 *db, const std::string &slot) {
	if (!TableExists(db, "_mosta_checkpoint"))
		return std::nullopt;
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT end_lsn FROM _mosta_checkpoint WHERE slot = ?1");
	BindText(db, stmt.get(), 1, slot);
	if (!StepSql(db, stmt.get()))
		return std::nullopt;
	return static_cast<Lsn>(sqlite3_column_int64(stmt.get(), 0));
}

std::vector<std::string>
CheckpointSlots(sqlite3 *db) {
	std::vector<std::string> slots;
	if (!TableExists(db, "_mosta_checkpoint"))
		return slots;
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT slot FROM _mosta_checkpoint ORDER BY slot");
	while (StepSql(db, stmt.get()))
		slots.push_back(ColumnText(stmt.get(), 0));
	return slots;
}

std::int64_t
LastCapturedSeq(sqlite3 *db) {
	std::int64_t last = 0;
	if (TableExists(db, "sqlite_sequence")) {
		SqliteStmtHandle stmt = PrepareSql(db, "SELECT seq FROM sqlite_sequence WHERE name = '_mosta_changes'");
		if (StepSql(db, stmt.get()))
			last = sqlite3_column_int64(stmt.get(), 0);
	}
	if (TableExists(db, "_mosta_changes")) {
		SqliteStmtHandle stmt = PrepareSql(db, "SELECT coalesce(max(seq), 0) FROM _mosta_changes");
		StepSql(db, stmt.get());
		last = std::max<std::int64_t>(last, sqlite3_column_int64(stmt.get(), 0));
	}
	return last;
}

} // namespace mosta::sidecar::ha::sqlite_promotion
