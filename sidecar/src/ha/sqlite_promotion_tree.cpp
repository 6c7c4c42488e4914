/*
 * sqlite_promotion_tree.cpp
 *     The topology file side of a SQLite promotion (see sqlite_promotion.hpp): reading a project from it, the lag
 *     gate, and the overlay that makes a promoted SQLite replica the project's master and write target. JSON is
 *     read and edited with SQLite's JSON functions on an in-memory database.
 */
#include "ha/sqlite_promotion.hpp"

#include <filesystem>
#include <stdexcept>
#include <tuple>

#include <sqlite3.h>

#include "app/target_path.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar::ha {

namespace {

// OptionalInt reads column index as an integer, unset when NULL.
std::optional<long long>
OptionalInt(sqlite3_stmt *stmt, int index) {
	if (sqlite3_column_type(stmt, index) == SQLITE_NULL)
		return std::nullopt;
	return sqlite3_column_int64(stmt, index);
}

// OptionalLsn reads column index as an LSN text, unset when NULL or not one.
std::optional<Lsn>
OptionalLsn(sqlite3_stmt *stmt, int index) {
	if (sqlite3_column_type(stmt, index) == SQLITE_NULL)
		return std::nullopt;
	return ParseLsn(ColumnText(stmt, index));
}

// JsonDb is an in-memory SQLite database for its JSON functions.
SqliteHandle
JsonDb() {
	return OpenSqlite(":memory:");
}

// CheckJson throws unless text is JSON holding a "projects" object.
void
CheckTopology(sqlite3 *db, const std::string &tree_json) {
	SqliteStmtHandle check =
		PrepareSql(db, "SELECT json_valid(?1), json_type(CASE WHEN json_valid(?1) THEN ?1 END, '$.projects')");
	BindText(db, check.get(), 1, tree_json);
	StepSql(db, check.get());
	if (sqlite3_column_int(check.get(), 0) != 1)
		throw std::runtime_error("the topology file is not JSON");
	if (ColumnText(check.get(), 1) != "object")
		throw std::runtime_error("the topology file has no \"projects\" object: not a file of mosta-sidecar --tree");
}

// ProjectPath is the JSON path of a project's member: $.projects."name".member; throws for a name SQLite's path
// syntax cannot quote.
std::string
ProjectPath(const std::string &project, const std::string &member) {
	if (project.find('"') != std::string::npos)
		throw std::runtime_error("project name " + project + " holds a double quote: its topology cannot be edited");
	return "$.projects.\"" + project + "\"" + (member.empty() ? "" : "." + member);
}

} // namespace

std::string
TreeObservation::Describe() const {
	if (!present)
		return "never reported";
	std::string text = "status " + (status.empty() ? std::string("?") : status) + ", lag " +
					   (lag_ms ? std::to_string(*lag_ms) + " ms" : std::string("unknown")) + " / " +
					   (lag_bytes ? std::to_string(*lag_bytes) + " bytes" : std::string("unknown")) + ", applied " +
					   (applied_lsn ? FormatLsn(*applied_lsn) : std::string("unknown"));
	return text + ", last seen " + last_seen;
}

const TreeReplica *
TreeProject::Master() const {
	for (const TreeReplica &replica : replicas)
		if (replica.role == "master")
			return &replica;
	return nullptr;
}

const TreeReplica *
TreeProject::Find(const std::string &name) const {
	for (const TreeReplica &replica : replicas)
		if (replica.name == name)
			return &replica;
	return nullptr;
}

TreeProject
ReadTreeProject(const std::string &tree_json, const std::string &project, const std::string &replica) {
	SqliteHandle db = JsonDb();
	CheckTopology(db.get(), tree_json);
	TreeProject tree;
	SqliteStmtHandle generated =
		PrepareSql(db.get(), "SELECT json_extract(?1, '$.generatedAt'), "
							 "(SELECT count(*) FROM json_each(?1, '$.projects') WHERE key = ?2)");
	BindText(db.get(), generated.get(), 1, tree_json);
	BindText(db.get(), generated.get(), 2, project);
	StepSql(db.get(), generated.get());
	tree.generated_at = ColumnText(generated.get(), 0);
	if (sqlite3_column_int(generated.get(), 1) == 0)
		throw std::runtime_error("project \"" + project + "\" is not in the topology file");
	SqliteStmtHandle replicas =
		PrepareSql(db.get(), "SELECT json_extract(r.value, '$.name'), json_extract(r.value, '$.role'), "
							 "json_extract(r.value, '$.dialect'), json_extract(r.value, '$.uri'), "
							 "json_extract(r.value, '$.lagTolerance'), json_extract(r.value, '$.status.status'), "
							 "json_extract(r.value, '$.status.lagMs'), json_extract(r.value, '$.status.lagBytes'), "
							 "json_extract(r.value, '$.status.appliedLsn'), json_extract(r.value, '$.status.lastSeen') "
							 "FROM json_each(?1, '$.projects') p, json_each(p.value, '$.replicas') r WHERE p.key = ?2 "
							 "ORDER BY r.key");
	BindText(db.get(), replicas.get(), 1, tree_json);
	BindText(db.get(), replicas.get(), 2, project);
	while (StepSql(db.get(), replicas.get())) {
		TreeReplica r;
		r.name = ColumnText(replicas.get(), 0);
		r.role = ColumnText(replicas.get(), 1);
		r.dialect = ColumnText(replicas.get(), 2);
		r.uri = ColumnText(replicas.get(), 3);
		r.lag_tolerance_ms = OptionalInt(replicas.get(), 4).value_or(0);
		r.last.status = ColumnText(replicas.get(), 5);
		r.last.lag_ms = OptionalInt(replicas.get(), 6);
		r.last.lag_bytes = OptionalInt(replicas.get(), 7);
		r.last.applied_lsn = OptionalLsn(replicas.get(), 8);
		r.last.last_seen = ColumnText(replicas.get(), 9);
		r.last.present = !r.last.last_seen.empty();
		tree.replicas.push_back(std::move(r));
	}
	SqliteStmtHandle feeds = PrepareSql(
		db.get(), "SELECT json_extract(u.value, '$.name'), json_extract(u.value, '$.mode'), "
				  "json_extract(u.value, '$.conflictResolution'), json_extract(u.value, '$.enabled'), "
				  "json_extract(t.value, '$.slot'), json_extract(t.value, '$.status'), "
				  "json_extract(t.value, '$.appliedLsn') "
				  "FROM json_each(?1, '$.rules') u, json_each(u.value, '$.targets') t "
				  "WHERE json_extract(t.value, '$.project') = ?2 AND json_extract(t.value, '$.replica') = ?3 "
				  "ORDER BY 1");
	BindText(db.get(), feeds.get(), 1, tree_json);
	BindText(db.get(), feeds.get(), 2, project);
	BindText(db.get(), feeds.get(), 3, replica);
	while (StepSql(db.get(), feeds.get())) {
		TreeFeed f;
		f.rule = ColumnText(feeds.get(), 0);
		f.mode = ColumnText(feeds.get(), 1);
		f.conflict_resolution = ColumnText(feeds.get(), 2);
		f.enabled = OptionalInt(feeds.get(), 3).value_or(1) != 0;
		f.slot = ColumnText(feeds.get(), 4);
		f.status = ColumnText(feeds.get(), 5);
		f.applied_lsn = OptionalLsn(feeds.get(), 6);
		tree.feeds.push_back(std::move(f));
	}
	return tree;
}

GateVerdict
SqliteLagGate(long long lag_tolerance_ms, const TreeObservation &last, std::optional<Lsn> checkpoint) {
	if (!last.present)
		return {false, "never reported by mosta-sidecar in the topology file: nothing tells what it holds"};
	if (!checkpoint)
		return {false, "the file holds no checkpoint of its rule: it was never fed by the rule's stream"};
	const std::string seen = " (" + last.Describe() + "; the file's checkpoint " + FormatLsn(*checkpoint) + ")";
	if (last.applied_lsn && *checkpoint < *last.applied_lsn)
		return {false, "the file's checkpoint " + FormatLsn(*checkpoint) + " is behind the " +
						   FormatLsn(*last.applied_lsn) +
						   " observed: it is not the file the daemon fed (an older copy?)" + seen};
	if (last.status != "up" || !last.lag_ms)
		return {false, "not up at the last observation" + seen};
	if (lag_tolerance_ms == 0) {
		if (*last.lag_ms != 0)
			return {false, "lag_tolerance_ms is 0 and it was not caught up at the last observation (lag " +
							   std::to_string(*last.lag_ms) + " ms)" + seen};
		return {true, "caught up at the last observation: everything the rule's slot had delivered was applied "
					  "and the stream was idle" +
						  seen};
	}
	if (*last.lag_ms > lag_tolerance_ms)
		return {false, "lag " + std::to_string(*last.lag_ms) + " ms beyond its tolerance of " +
						   std::to_string(lag_tolerance_ms) + " ms at the last observation" + seen};
	return {true, "within its tolerance of " + std::to_string(lag_tolerance_ms) + " ms at the last observation" + seen};
}

bool
ServerAnswered(const std::string &probe_error) {
	return probe_error.find("FATAL:") != std::string::npos || probe_error.find("ERROR:") != std::string::npos;
}

std::vector<PromotionRow>
ReadPromotions(sqlite3 *db) {
	std::vector<PromotionRow> rows;
	SqliteStmtHandle exists =
		PrepareSql(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_mosta_promotion'");
	StepSql(db, exists.get());
	if (sqlite3_column_int(exists.get(), 0) == 0)
		return rows;
	SqliteStmtHandle read =
		PrepareSql(db, "SELECT project, replica, state, promoted_at FROM _mosta_promotion ORDER BY project");
	while (StepSql(db, read.get()))
		rows.push_back({ColumnText(read.get(), 0), ColumnText(read.get(), 1), ColumnText(read.get(), 2),
						ColumnText(read.get(), 3)});
	return rows;
}

std::string
OverlayPromotion(const std::string &tree_json, const PromotionRow &row, const std::string &file) {
	SqliteHandle db = JsonDb();
	CheckTopology(db.get(), tree_json);
	// the replicas' positions in the project's array
	SqliteStmtHandle find =
		PrepareSql(db.get(), "SELECT r.key, json_extract(r.value, '$.name'), json_extract(r.value, '$.role') "
							 "FROM json_each(?1, '$.projects') p, json_each(p.value, '$.replicas') r WHERE p.key = ?2");
	BindText(db.get(), find.get(), 1, tree_json);
	BindText(db.get(), find.get(), 2, row.project);
	std::optional<long long> promoted;
	std::optional<long long> former;
	std::string former_name;
	while (StepSql(db.get(), find.get())) {
		const std::string name = ColumnText(find.get(), 1);
		if (name == row.replica)
			promoted = sqlite3_column_int64(find.get(), 0);
		else if (ColumnText(find.get(), 2) == "master") {
			former = sqlite3_column_int64(find.get(), 0);
			former_name = name;
		}
	}
	if (!promoted)
		return tree_json;
	const std::string replicas = ProjectPath(row.project, "replicas");
	const std::string mine = replicas + "[" + std::to_string(*promoted) + "]";
	const std::string promotion = "{\"replica\":" + JsonQuote(row.replica) + ",\"state\":" + JsonQuote(row.state) +
								  ",\"promotedAt\":" + JsonQuote(row.promoted_at) + ",\"formerMaster\":" +
								  (former_name.empty() ? std::string("null") : JsonQuote(former_name)) +
								  ",\"file\":" + JsonQuote(file) + "}";
	// (path, value, value is JSON) in the order json_set applies them
	std::vector<std::tuple<std::string, std::string, bool>> edits{
		{mine + ".role", "master", false},
		{ProjectPath(row.project, "readsGoTo"), row.replica, false},
		{ProjectPath(row.project, "eligible"), "[]", true},
		{ProjectPath(row.project, "writeTarget"), row.replica, false},
		{ProjectPath(row.project, "promotion"), promotion, true},
	};
	if (former) {
		const std::string theirs = replicas + "[" + std::to_string(*former) + "]";
		edits.emplace_back(theirs + ".role", "slave", false);
		edits.emplace_back(theirs + ".status.status", "down", false);
		edits.emplace_back(theirs + ".status.withinTolerance", "false", true);
		edits.emplace_back(theirs + ".status.lastError",
						   "former master: the SQLite replica " + row.replica + " is the write target since " +
							   row.promoted_at + " (mosta-sidecar promote); mosta-sidecar switch-back makes " +
							   former_name + " the master again",
						   false);
	}
	std::string sql = "SELECT json_set(?1";
	int index = 2;
	for (const auto &edit : edits) {
		sql += ", ?" + std::to_string(index) + ", " +
			   (std::get<2>(edit) ? "json(?" + std::to_string(index + 1) + ")" : "?" + std::to_string(index + 1));
		index += 2;
	}
	sql += ")";
	SqliteStmtHandle set = PrepareSql(db.get(), sql);
	BindText(db.get(), set.get(), 1, tree_json);
	index = 2;
	for (const auto &edit : edits) {
		BindText(db.get(), set.get(), index, std::get<0>(edit));
		BindText(db.get(), set.get(), index + 1, std::get<1>(edit));
		index += 2;
	}
	StepSql(db.get(), set.get());
	return ColumnText(set.get(), 0) + "\n";
}

std::string
OverlayPromotions(const std::string &tree_json, const std::string &data_dir) {
	std::string tree = tree_json;
	std::vector<ReplicaInfo> sqlite_replicas;
	try {
		SqliteHandle db = JsonDb();
		CheckTopology(db.get(), tree_json);
		SqliteStmtHandle read = PrepareSql(
			db.get(), "SELECT p.key, json_extract(r.value, '$.name'), json_extract(r.value, '$.role'), "
					  "json_extract(r.value, '$.uri') FROM json_each(?1, '$.projects') p, "
					  "json_each(p.value, '$.replicas') r WHERE json_extract(r.value, '$.dialect') = 'sqlite'");
		BindText(db.get(), read.get(), 1, tree_json);
		while (StepSql(db.get(), read.get()))
			sqlite_replicas.push_back({ColumnText(read.get(), 0), ColumnText(read.get(), 1), ColumnText(read.get(), 2),
									   "sqlite", ColumnText(read.get(), 3)});
	} catch (const std::exception &) {
		return tree_json; // not a topology: nothing to overlay
	}
	for (const ReplicaInfo &replica : sqlite_replicas) {
		try {
			const std::string path = ResolveTargetPath(data_dir, replica);
			std::error_code error;
			if (path == ":memory:" || !std::filesystem::is_regular_file(path, error))
				continue;
			sqlite3 *raw = nullptr;
			int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
			SqliteHandle file(raw);
			if (rc != SQLITE_OK)
				continue;
			sqlite3_busy_timeout(file.get(), 1000);
			for (const PromotionRow &row : ReadPromotions(file.get()))
				if (row.project == replica.project && row.replica == replica.name)
					tree = OverlayPromotion(tree, row, path);
		} catch (const std::exception &) {
			// an unreadable file: the tree says what the catalog says
		}
	}
	return tree;
}

} // namespace mosta::sidecar::ha
