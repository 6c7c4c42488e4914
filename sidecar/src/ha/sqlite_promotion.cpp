/*
 * sqlite_promotion.cpp
 *     The promote and switch-back subcommands for a SQLite replica (see sqlite_promotion.hpp). C++ regime: SQLite
 *     through sink/sqlite_db.hpp, PostgreSQL through coroutines over PgConnection, every network step under a
 *     deadline; errors as exceptions, turned into an exit status and a message at the end.
 */
#include "ha/sqlite_promotion.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sqlite3.h>

#include "app/catalog.hpp"
#include "app/target_path.hpp"
#include "app/topology_tree.hpp"
#include "bidir/names.hpp"
#include "ha/node_probe.hpp"
#include "ha/promotion.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/errors.hpp"
#include "sink/sqlite_capture.hpp"
#include "sink/sqlite_db.hpp"
#include "util/run_to_exit.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;

// kPollInterval is how often switch-back looks at the drain's progress.
constexpr std::chrono::milliseconds kPollInterval{200};

// The DDL of the promotion's own tables in the SQLite file (the first as docs/failover.md and the issue's
// contract fix it).
constexpr const char *kPromotionDdl =
	"CREATE TABLE IF NOT EXISTS _mosta_promotion (project TEXT PRIMARY KEY, replica TEXT NOT NULL, "
	"state TEXT NOT NULL CHECK (state IN ('master', 'switching-back')), promoted_at TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _mosta_promotion_episode (project TEXT PRIMARY KEY, replica TEXT NOT NULL, "
	"promoted_at TEXT NOT NULL, first_seq INTEGER NOT NULL, former_master TEXT, detail TEXT NOT NULL);";

// Refused is a refusal before anything changed: exit 1 with its message (and hint).
class Refused : public std::runtime_error {
  public:
	Refused(const std::string &message, std::string hint) : std::runtime_error(message), hint_(std::move(hint)) {}
	const std::string &
	Hint() const noexcept {
		return hint_;
	}

  private:
	std::string hint_;
};

// TextJson, LsnJson, NumberJson, ObservationJson write JSON values of the activity details (null when unset).
std::string
TextJson(const std::string &text) {
	return text.empty() ? std::string("null") : JsonQuote(text);
}

std::string
LsnJson(std::optional<Lsn> lsn) {
	return lsn ? JsonQuote(FormatLsn(*lsn)) : std::string("null");
}

std::string
NumberJson(std::optional<long long> value) {
	return value ? std::to_string(*value) : std::string("null");
}

std::string
ObservationJson(const TreeObservation &last) {
	if (!last.present)
		return "null";
	return "{\"status\":" + TextJson(last.status) + ",\"lag_ms\":" + NumberJson(last.lag_ms) +
		   ",\"lag_bytes\":" + NumberJson(last.lag_bytes) + ",\"applied_lsn\":" + LsnJson(last.applied_lsn) +
		   ",\"last_seen\":" + TextJson(last.last_seen) + "}";
}

// Steps prints "<command>: [  0.123 s] text" lines on stdout, at once, masked.
class Steps {
  public:
	explicit Steps(const char *command) : command_(command), start_(Clock::now()) {}

	void
	operator()(const std::string &text) const {
		std::printf("%s: [%8.3f s] %s\n", command_, Seconds(), MaskCredentialsInText(text).c_str());
		std::fflush(stdout);
	}

	double
	Seconds() const {
		return std::chrono::duration<double>(Clock::now() - start_).count();
	}

	long long
	Ms() const {
		return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
	}

  private:
	const char *command_;
	Clock::time_point start_;
};

// ReadWholeFile returns the content of path; throws std::runtime_error naming it.
std::string
ReadWholeFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error("cannot read " + path);
	std::ostringstream content;
	content << in.rdbuf();
	return content.str();
}

// OpenExisting opens the SQLite file at path for writing, refusing a path that is not an existing file (opening
// would create one).
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

// TableExists tells whether db has a table named name.
bool
TableExists(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
	BindText(db, stmt.get(), 1, name);
	StepSql(db, stmt.get());
	return sqlite3_column_int(stmt.get(), 0) > 0;
}

// Checkpoint reads the end LSN of slot's checkpoint in db, unset when there is none.
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

// CheckpointSlots returns the slots of db's checkpoint rows.
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

// LastCapturedSeq is the highest seq _mosta_changes ever gave (sqlite_sequence survives purges); 0 for none.
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

// ReplicaTables lists the replicated tables of db: every table but the sidecar's (_mosta_*) and SQLite's own.
std::vector<std::string>
ReplicaTables(sqlite3 *db) {
	std::vector<std::string> tables;
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
										   "'\\_mosta\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
										   "ORDER BY name");
	while (StepSql(db, stmt.get()))
		tables.push_back(ColumnText(stmt.get(), 0));
	return tables;
}

// AgeMs is now - at in milliseconds by SQLite's clock (at an ISO 8601 time), unset when at is not one.
std::optional<long long>
AgeMs(sqlite3 *db, const std::string &at) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT CAST((julianday('now') - julianday(?1)) * 86400000 AS INTEGER)");
	BindText(db, stmt.get(), 1, at);
	StepSql(db, stmt.get());
	if (sqlite3_column_type(stmt.get(), 0) == SQLITE_NULL)
		return std::nullopt;
	return sqlite3_column_int64(stmt.get(), 0);
}

// Stamp returns tree_json with generatedAt now and generatedBy by: the file was written by a command, not from
// the catalog.
std::string
Stamp(const std::string &tree_json, const std::string &by) {
	SqliteHandle db = OpenSqlite(":memory:");
	SqliteStmtHandle stmt =
		PrepareSql(db.get(), "SELECT json_set(?1, '$.generatedAt', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), "
							 "'$.generatedBy', ?2)");
	BindText(db.get(), stmt.get(), 1, tree_json);
	BindText(db.get(), stmt.get(), 2, by);
	StepSql(db.get(), stmt.get());
	return ColumnText(stmt.get(), 0) + "\n";
}

// ------------------------------------------------------------------------------------------------------------
// promote

// What promote decided before changing anything.
struct PromotePlan {
	std::string tree_text; // the topology file's content ("" without --tree)
	TreeProject tree;
	const TreeReplica *replica = nullptr; // null without --tree
	const TreeReplica *master = nullptr;
	TreeFeed feed;
	std::string file;
	std::string master_uri; // what was probed (unmasked)
	NodeProbe probe;
	bool master_answers = false;
	std::optional<Lsn> checkpoint;
	GateVerdict gate;
	std::optional<long long> tree_age_ms;
	std::vector<std::string> tables;
};

class Promote {
  public:
	explicit Promote(const Config &config) : config_(config), step_("promote") {}

	asio::awaitable<int> Execute();
	const Steps &
	Step() const {
		return step_;
	}

  private:
	void ReadTreeStep(PromotePlan &plan);
	SqliteHandle FileStep(PromotePlan &plan);
	asio::awaitable<void> ProbeStep(PromotePlan &plan);
	void GateStep(PromotePlan &plan, sqlite3 *db);
	std::string DetailJson(const PromotePlan &plan) const;

	const Config &config_;
	Steps step_;
};

// ReadTreeStep reads the project from the topology file and refuses what cannot be promoted.
void
Promote::ReadTreeStep(PromotePlan &plan) {
	const std::string &project = config_.ha_project;
	const std::string &name = config_.promote_replica;
	if (config_.tree_path.empty()) {
		step_("no --tree: the replica's rule and last observation are unknown; the lag gate will refuse unless "
			  "--allow-data-loss");
		return;
	}
	step_("reading the topology of project \"" + project + "\" from " + config_.tree_path);
	try {
		plan.tree_text = ReadWholeFile(config_.tree_path);
		plan.tree = ReadTreeProject(plan.tree_text, project, name);
	} catch (const std::exception &e) {
		throw Refused("cannot read project \"" + project + "\" from the topology file " + config_.tree_path + ": " +
						  e.what(),
					  "--tree names the file the daemon writes (mosta-sidecar --tree FILE); it must hold the project.");
	}
	plan.replica = plan.tree.Find(name);
	if (plan.replica == nullptr) {
		std::string known;
		for (const TreeReplica &r : plan.tree.replicas)
			known += (known.empty() ? "" : ", ") + r.name + " (" + r.dialect + " " + r.role + ")";
		throw Refused("replica \"" + name + "\" is not a replica of project \"" + project +
						  "\" in the topology file (it has: " + (known.empty() ? std::string("none") : known) + ")",
					  "Name a sqlite slave of the project.");
	}
	if (plan.replica->dialect != "sqlite")
		throw Refused("replica \"" + name + "\" is a " + plan.replica->dialect + " " + plan.replica->role +
						  ": promote makes a SQLite replica the write target",
					  plan.replica->dialect == "postgres"
						  ? "A PostgreSQL standby is promoted by mosta-sidecar failover " + project + " --to " + name +
								"."
						  : "Only sqlite slaves can be promoted.");
	if (plan.replica->role == "master")
		throw Refused("replica \"" + name + "\" is already the master of project \"" + project + "\"", "");
	plan.master = plan.tree.Master();
	if (plan.master == nullptr || plan.master->dialect != "postgres")
		throw Refused("project \"" + project + "\" has no PostgreSQL master in the topology file",
					  "A SQLite replica is promoted in place of a PostgreSQL master.");
	std::vector<const TreeFeed *> cdc;
	std::string others;
	for (const TreeFeed &feed : plan.tree.feeds) {
		if (feed.mode == "cdc" && feed.enabled)
			cdc.push_back(&feed);
		else
			others += (others.empty() ? "" : ", ") + feed.rule + " (" + feed.mode +
					  (feed.enabled ? std::string() : ", disabled") + ")";
	}
	if (cdc.size() != 1) {
		std::string names;
		for (const TreeFeed *feed : cdc)
			names += (names.empty() ? "" : ", ") + feed->rule;
		throw Refused(
			cdc.empty() ? "no enabled cdc rule feeds replica \"" + name + "\" in the topology file" +
							  (others.empty() ? std::string(" (the daemon never ran a rule into it)")
											  : " (only: " + others + ")")
						: "several cdc rules feed replica \"" + name + "\" (" + names +
							  "): a promotion hands one rule's captured writes back",
			"A promoted SQLite replica is the target of exactly one enabled cdc rule (a bidirectional one takes "
			"writes already; a snapshot one has no stream to carry them back).");
	}
	plan.feed = *cdc.front();
	// the topology shows the rule's slot; the file keys its checkpoint by the target's (app/catalog.hpp)
	plan.feed.slot = SlotName(plan.feed.rule, project, name);
	step_("replica " + name + ": sqlite slave fed by rule " + plan.feed.rule + " (conflict_resolution " +
		  plan.feed.conflict_resolution + ", checkpoint key " + plan.feed.slot + "); master " + plan.master->name);
}

// FileStep finds and opens the SQLite file, and refuses a switch-back in progress or a file without tables.
SqliteHandle
Promote::FileStep(PromotePlan &plan) {
	if (!config_.sqlite_file.empty()) {
		std::error_code error;
		plan.file = std::filesystem::absolute(config_.sqlite_file, error).lexically_normal().string();
	} else {
		try {
			plan.file = ResolveTargetPath(config_.data_dir, {config_.ha_project, plan.replica->name, plan.replica->role,
															 "sqlite", plan.replica->uri});
		} catch (const std::exception &e) {
			throw Refused(e.what(), "Give the daemon's --data-dir (or MOSTA_DATA_DIR), or the file with --file.");
		}
	}
	SqliteHandle db = OpenExisting(plan.file);
	if (plan.feed.slot.empty()) {
		std::vector<std::string> slots = CheckpointSlots(db.get());
		if (slots.size() == 1)
			plan.feed.slot = slots.front();
	}
	step_("SQLite file " + plan.file);
	for (const PromotionRow &row : ReadPromotions(db.get()))
		if (row.project == config_.ha_project && row.state != "master")
			throw Refused("the SQLite file is being switched back to PostgreSQL (state " + row.state + " since " +
							  row.promoted_at + ")",
						  "Finish it: mosta-sidecar switch-back " + config_.ha_project + ".");
	plan.tables = ReplicaTables(db.get());
	if (plan.tables.empty())
		throw Refused("the SQLite file " + plan.file + " holds no replicated table", "Nothing could be captured.");
	return db;
}

// ProbeStep probes the master; refuses (unless --force) when it is up or answers at all.
asio::awaitable<void>
Promote::ProbeStep(PromotePlan &plan) {
	plan.master_uri = !config_.source.empty() ? config_.source : plan.master != nullptr ? plan.master->uri : "";
	const std::string name = plan.master != nullptr ? plan.master->name : std::string("the master");
	step_("probing the master " + name + " (" +
		  (plan.master_uri.empty() ? std::string("the PG* environment") : MaskCredentials(plan.master_uri)) + ")");
	plan.probe = co_await ProbeNode(plan.master_uri);
	const bool primary = plan.probe.reachable && !plan.probe.in_recovery;
	plan.master_answers = primary || (!plan.probe.reachable && ServerAnswered(plan.probe.error));
	if (plan.master_answers) {
		const std::string what =
			primary ? "is up: it accepts connections and is not in recovery" : "answers (" + plan.probe.error + ")";
		if (!config_.force)
			throw Refused("the master " + name + " " + what +
							  ": promoting the SQLite replica would make two write targets",
						  "Writes go to PostgreSQL while it runs; to move them for good use a switchover or a "
						  "failover. --force promotes anyway: the writes made on both sides are then resolved by "
						  "the rule's conflict policy when they meet, not prevented.");
		step_("WARNING: the master " + name + " " + what + "; promoting anyway (--force): split brain");
	} else if (plan.probe.reachable) {
		step_("master " + name + " is reachable but in recovery: not a primary");
	} else {
		step_("master " + name + " is down (" + plan.probe.error + ")");
	}
}

// GateStep reads the file's checkpoint and applies the lag gate (or --allow-data-loss).
void
Promote::GateStep(PromotePlan &plan, sqlite3 *db) {
	plan.checkpoint = plan.feed.slot.empty() ? std::nullopt : Checkpoint(db, plan.feed.slot);
	TreeObservation none;
	const TreeObservation &last = plan.replica != nullptr ? plan.replica->last : none;
	const long long tolerance = plan.replica != nullptr ? plan.replica->lag_tolerance_ms : 0;
	plan.gate = SqliteLagGate(tolerance, last, plan.checkpoint);
	if (!plan.tree.generated_at.empty())
		plan.tree_age_ms = AgeMs(db, plan.tree.generated_at);
	step_("checkpoint " + (plan.feed.slot.empty() ? std::string("?") : plan.feed.slot) + " in the file: " +
		  (plan.checkpoint ? FormatLsn(*plan.checkpoint) : std::string("none")) + "; topology file written " +
		  (plan.tree_age_ms ? std::to_string(*plan.tree_age_ms / 1000) + " s ago" : std::string("at an unknown time")));
	step_("gate (tolerance " + std::to_string(tolerance) + " ms) " + (plan.gate.allows ? "allows" : "refuses") +
		  " it: " + plan.gate.reason);
	if (last.present && last.applied_lsn && last.lag_bytes && plan.checkpoint) {
		const Lsn master_lsn = *last.applied_lsn + static_cast<Lsn>(*last.lag_bytes);
		const long long beyond =
			master_lsn > *plan.checkpoint ? static_cast<long long>(master_lsn - *plan.checkpoint) : 0;
		step_("the master's WAL was at " + FormatLsn(master_lsn) + " when last observed: " + std::to_string(beyond) +
			  " bytes beyond the file's checkpoint, which may hold nothing of the rule's tables (the daemon's own "
			  "status writes, other tables) or changes not yet decoded: with the master down they cannot be told "
			  "apart; what it committed after that observation is unknown");
	}
	if (!plan.gate.allows) {
		if (!config_.allow_data_loss)
			throw Refused("refusing to promote " + config_.promote_replica + ": " + plan.gate.reason,
						  "Commits of the master may be missing from the SQLite file: once they are back on "
						  "PostgreSQL they still reach the file, resolved against its writes by the rule's policy. "
						  "Run again with --allow-data-loss to promote anyway.");
		step_("WARNING: promoting past the lag gate (--allow-data-loss)");
	}
}

// DetailJson is what promote decided, for the episode's record and then mosta.activity.
std::string
Promote::DetailJson(const PromotePlan &plan) const {
	std::string tables;
	for (const std::string &table : plan.tables)
		tables += (tables.empty() ? "" : ",") + JsonQuote(table);
	std::optional<Lsn> master_lsn;
	if (plan.replica != nullptr && plan.replica->last.applied_lsn && plan.replica->last.lag_bytes)
		master_lsn = *plan.replica->last.applied_lsn + static_cast<Lsn>(*plan.replica->last.lag_bytes);
	return "{\"replica\":" + JsonQuote(config_.promote_replica) + ",\"file\":" + JsonQuote(plan.file) +
		   ",\"rule\":" + TextJson(plan.feed.rule) + ",\"slot\":" + TextJson(plan.feed.slot) +
		   ",\"conflict_resolution\":" + TextJson(plan.feed.conflict_resolution) +
		   ",\"force\":" + (config_.force ? "true" : "false") +
		   ",\"allow_data_loss\":" + (config_.allow_data_loss ? "true" : "false") +
		   ",\"master\":{\"name\":" + (plan.master != nullptr ? JsonQuote(plan.master->name) : std::string("null")) +
		   ",\"reachable\":" + (plan.probe.reachable ? "true" : "false") +
		   ",\"answers\":" + (plan.master_answers ? "true" : "false") + ",\"error\":" + TextJson(plan.probe.error) +
		   ",\"lsn_at_last_observation\":" + LsnJson(master_lsn) +
		   "},\"gate\":{\"allows\":" + (plan.gate.allows ? "true" : "false") +
		   ",\"lag_tolerance_ms\":" + std::to_string(plan.replica != nullptr ? plan.replica->lag_tolerance_ms : 0) +
		   ",\"reason\":" + JsonQuote(plan.gate.reason) + ",\"last_observation\":" +
		   (plan.replica != nullptr ? ObservationJson(plan.replica->last) : std::string("null")) +
		   ",\"checkpoint\":" + LsnJson(plan.checkpoint) + "},\"topology_file\":" + TextJson(config_.tree_path) +
		   ",\"topology_generated_at\":" + TextJson(plan.tree.generated_at) + ",\"tables\":[" + tables + "]}";
}

// Execute runs every step; the steps before InstallCapture only read and may refuse.
asio::awaitable<int>
Promote::Execute() {
	const std::string &project = config_.ha_project;
	const std::string &name = config_.promote_replica;
	PromotePlan plan;
	ReadTreeStep(plan);
	SqliteHandle db = FileStep(plan);
	sqlite3 *file = db.get();
	co_await ProbeStep(plan);
	GateStep(plan, file);

	// from here on the file changes
	InstallCapture(file, plan.tables);
	step_("capture triggers installed on " + std::to_string(plan.tables.size()) + " table(s)");
	const std::string detail = DetailJson(plan);
	ExecSql(file, "BEGIN IMMEDIATE");
	try {
		ExecSql(file, kPromotionDdl);
		SqliteStmtHandle row = PrepareSql(file, "INSERT INTO _mosta_promotion (project, replica, state, promoted_at) "
												"VALUES (?1, ?2, 'master', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
												"ON CONFLICT (project) DO NOTHING");
		BindText(file, row.get(), 1, project);
		BindText(file, row.get(), 2, name);
		RunSql(file, row.get());
		const std::int64_t first_seq = LastCapturedSeq(file);
		SqliteStmtHandle episode =
			PrepareSql(file, "INSERT INTO _mosta_promotion_episode (project, replica, promoted_at, first_seq, "
							 "former_master, detail) SELECT project, replica, promoted_at, ?2, ?3, ?4 FROM "
							 "_mosta_promotion WHERE project = ?1 ON CONFLICT (project) DO NOTHING");
		BindText(file, episode.get(), 1, project);
		BindInt64(file, episode.get(), 2, first_seq);
		BindText(file, episode.get(), 3, plan.master != nullptr ? plan.master->name : std::string());
		BindText(file, episode.get(), 4, detail);
		RunSql(file, episode.get());
		ExecSql(file, "COMMIT");
	} catch (...) {
		sqlite3_exec(file, "ROLLBACK", nullptr, nullptr, nullptr);
		throw;
	}
	PromotionRow promoted;
	for (const PromotionRow &row : ReadPromotions(file))
		if (row.project == project)
			promoted = row;
	if (promoted.replica != name)
		throw std::runtime_error("the file records replica " + promoted.replica + " of project " + project +
								 " as promoted, not " + name);
	step_("_mosta_promotion: " + name + " is the write target of \"" + project + "\" since " + promoted.promoted_at);
	if (!plan.tree_text.empty()) {
		ReplaceFileAtomically(config_.tree_path,
							  Stamp(OverlayPromotion(plan.tree_text, promoted, plan.file), "mosta-sidecar promote"));
		step_("topology file " + config_.tree_path + ": " + name + " is the master and write target of \"" + project +
			  "\"");
	}
	std::printf("promote: done in %lld ms: %s (%s) takes the writes of \"%s\"\n", step_.Ms(), name.c_str(),
				plan.file.c_str(), project.c_str());
	std::printf(
		"next:\n"
		"  1. point the application's writes at %s (every connection's writes there are captured)\n"
		"  2. when PostgreSQL is back, run the daemon (mosta-sidecar --source DSN%s; a running one takes the "
		"promotion at its next catalog poll): it applies the captured writes with the policy of rule %s (%s) and "
		"PostgreSQL's own to the file\n"
		"  3. stop the writes to the file, then: mosta-sidecar switch-back %s --source DSN%s\n",
		plan.file.c_str(), config_.tree_path.empty() ? "" : (" --tree " + config_.tree_path).c_str(),
		plan.feed.rule.empty() ? "?" : plan.feed.rule.c_str(),
		plan.feed.conflict_resolution.empty() ? "?" : plan.feed.conflict_resolution.c_str(), project.c_str(),
		config_.tree_path.empty() ? "" : (" --tree " + config_.tree_path).c_str());
	std::fflush(stdout);
	co_return 0;
}

// ------------------------------------------------------------------------------------------------------------
// switch-back

// kRemoved is the state of an episode whose promotion row a switch-back removed before it could write the
// activity rows (the episode's record is still in the file).
constexpr const char *kRemoved = "removed";

// EpisodeRow returns project's promotion in db: its _mosta_promotion row, else (state kRemoved) the episode's
// record left by a switch-back that did not finish.
std::optional<PromotionRow>
EpisodeRow(sqlite3 *db, const std::string &project) {
	for (const PromotionRow &row : ReadPromotions(db))
		if (row.project == project)
			return row;
	if (!TableExists(db, "_mosta_promotion_episode"))
		return std::nullopt;
	SqliteStmtHandle stmt =
		PrepareSql(db, "SELECT replica, promoted_at FROM _mosta_promotion_episode WHERE project = ?1");
	BindText(db, stmt.get(), 1, project);
	if (!StepSql(db, stmt.get()))
		return std::nullopt;
	return PromotionRow{project, ColumnText(stmt.get(), 0), kRemoved, ColumnText(stmt.get(), 1)};
}

// The promotion switch-back ends, as found.
struct Episode {
	std::string file;
	SqliteHandle db;
	PromotionRow row;
	std::int64_t first_seq = 0;
	std::string former_master;
	std::string promote_detail; // JSON
	std::string rule;
	std::string conflict_resolution;
	std::string slot;
	std::string origin; // ReverseOriginName
};

// Where the drain stands.
struct DrainState {
	std::int64_t last_seq = 0;
	std::optional<Lsn> origin_remote; // what PostgreSQL holds of the captured changes (0/seq)
	std::optional<Lsn> origin_local;  // the end of the last drained transaction in PostgreSQL
	std::optional<Lsn> checkpoint;	  // the forward checkpoint in the file

	bool
	Drained(std::int64_t first_seq) const {
		return last_seq <= first_seq || (origin_remote && *origin_remote >= SeqLsn(last_seq));
	}
	bool
	ForwardCaughtUp(std::int64_t first_seq) const {
		if (last_seq <= first_seq || !origin_local)
			return true;
		return checkpoint && *checkpoint >= *origin_local;
	}
	std::string
	Describe() const {
		return "captured up to seq " + std::to_string(last_seq) + ", PostgreSQL holds " +
			   (origin_remote ? FormatLsn(*origin_remote) : std::string("nothing (no reverse origin yet)")) +
			   ", the file's checkpoint " + (checkpoint ? FormatLsn(*checkpoint) : std::string("none")) +
			   (origin_local ? " (needs " + FormatLsn(*origin_local) + ")" : std::string());
	}
};

class SwitchBack {
  public:
	explicit SwitchBack(const Config &config) : config_(config), step_("switch-back") {}

	asio::awaitable<int> Execute();
	const Steps &
	Step() const {
		return step_;
	}

  private:
	asio::awaitable<void> ConnectStep(PgConnection &conn);
	asio::awaitable<void> FindStep(PgConnection &conn, Episode &episode);
	asio::awaitable<void> RuleStep(PgConnection &conn, Episode &episode);
	asio::awaitable<DrainState> ReadDrain(PgConnection &conn, const Episode &episode);
	asio::awaitable<bool> WaitDrained(PgConnection &conn, Episode &episode, DrainState &state);
	bool Finish(Episode &episode, DrainState &state);
	asio::awaitable<std::string> ConflictsJson(PgConnection &conn, const Episode &episode);

	const Config &config_;
	Steps step_;
};

// ConnectStep connects to PostgreSQL and refuses a node in recovery.
asio::awaitable<void>
SwitchBack::ConnectStep(PgConnection &conn) {
	const std::string source = config_.source.empty() ? std::string("the PG* environment") : config_.source;
	step_("connecting to PostgreSQL (" + MaskCredentials(source) + ")");
	try {
		co_await WithTimeout(conn.Connect(config_.source, ConnectionKind::Sql), std::chrono::milliseconds(10'000),
							 "connecting to PostgreSQL");
	} catch (...) {
		throw Refused("PostgreSQL is not reachable: " + CurrentErrorText(),
					  "switch-back hands the writes back to PostgreSQL: it must be up (--source, MOSTA_SOURCE_URI or "
					  "PG*). Until then the SQLite replica stays the write target.");
	}
	const std::string sql = "SELECT pg_is_in_recovery()";
	PgResultHandle recovery = co_await conn.Exec("reading pg_is_in_recovery()", sql);
	if (std::string(PQgetvalue(recovery.get(), 0, 0)) == "t")
		throw Refused("the PostgreSQL node of --source is in recovery: not a primary",
					  "Point --source at the project's primary.");
}

// FindStep finds the promoted file (--file, else the project's sqlite replicas under --data-dir) and its record.
asio::awaitable<void>
SwitchBack::FindStep(PgConnection &conn, Episode &episode) {
	const std::string &project = config_.ha_project;
	std::vector<std::string> looked;
	if (!config_.sqlite_file.empty()) {
		std::error_code error;
		episode.file = std::filesystem::absolute(config_.sqlite_file, error).lexically_normal().string();
		episode.db = OpenExisting(episode.file);
		if (std::optional<PromotionRow> row = EpisodeRow(episode.db.get(), project))
			episode.row = *row;
		looked.push_back(episode.file);
	} else {
		const std::string sql =
			"SELECT name, role, uri FROM mosta.replicas WHERE project = " + SqlLiteral(conn, project) +
			" AND dialect = 'sqlite' ORDER BY name";
		PgResultHandle replicas = co_await conn.Exec("reading the sqlite replicas of project " + project, sql);
		for (int i = 0; i < PQntuples(replicas.get()) && episode.row.project.empty(); ++i) {
			ReplicaInfo info{project, PQgetvalue(replicas.get(), i, 0), PQgetvalue(replicas.get(), i, 1), "sqlite",
							 PQgetvalue(replicas.get(), i, 2)};
			std::string path;
			try {
				path = ResolveTargetPath(config_.data_dir, info);
			} catch (const std::exception &e) {
				looked.push_back(info.name + ": " + e.what());
				continue;
			}
			looked.push_back(path);
			std::error_code error;
			if (!std::filesystem::is_regular_file(path, error))
				continue;
			SqliteHandle db = OpenExisting(path);
			if (std::optional<PromotionRow> row = EpisodeRow(db.get(), project); row && row->replica == info.name) {
				episode.row = *row;
				episode.file = path;
				episode.db = std::move(db);
			}
		}
	}
	if (episode.row.project.empty()) {
		std::string where;
		for (const std::string &path : looked)
			where += (where.empty() ? "" : ", ") + path;
		throw Refused("no SQLite replica of project \"" + project + "\" is promoted (looked at: " +
						  (where.empty() ? std::string("no sqlite replica") : where) + ")",
					  "The promoted file holds a _mosta_promotion row; give it with --file, or the daemon's "
					  "--data-dir so that the replicas' paths resolve.");
	}
	if (TableExists(episode.db.get(), "_mosta_promotion_episode")) {
		SqliteStmtHandle stmt =
			PrepareSql(episode.db.get(),
					   "SELECT first_seq, former_master, detail FROM _mosta_promotion_episode WHERE project = ?1");
		BindText(episode.db.get(), stmt.get(), 1, project);
		if (StepSql(episode.db.get(), stmt.get())) {
			episode.first_seq = sqlite3_column_int64(stmt.get(), 0);
			episode.former_master = ColumnText(stmt.get(), 1);
			episode.promote_detail = ColumnText(stmt.get(), 2);
		}
	}
	step_("promoted replica " + episode.row.replica + " (" + episode.file + "), state " + episode.row.state +
		  " since " + episode.row.promoted_at + "; the episode's captures start after seq " +
		  std::to_string(episode.first_seq));
}

// RuleStep finds the enabled rule whose checkpoint the file holds, and its reverse origin.
asio::awaitable<void>
SwitchBack::RuleStep(PgConnection &conn, Episode &episode) {
	const std::string &project = config_.ha_project;
	const std::string sql =
		"SELECT name, mode, conflict_resolution FROM mosta.rules WHERE target_project = " + SqlLiteral(conn, project) +
		" AND enabled ORDER BY name";
	PgResultHandle rules = co_await conn.Exec("reading the rules into project " + project, sql);
	std::vector<std::string> slots = CheckpointSlots(episode.db.get());
	for (int i = 0; i < PQntuples(rules.get()); ++i) {
		const std::string rule = PQgetvalue(rules.get(), i, 0);
		const std::string slot = SlotName(rule, project, episode.row.replica);
		if (std::find(slots.begin(), slots.end(), slot) == slots.end())
			continue;
		if (!episode.rule.empty())
			throw Refused("several rules feed " + episode.row.replica + " (" + episode.rule + ", " + rule + ")",
						  "A promotion hands one rule's captured writes back.");
		episode.rule = rule;
		episode.slot = slot;
		episode.conflict_resolution = PQgetvalue(rules.get(), i, 2);
		if (std::string(PQgetvalue(rules.get(), i, 1)) != "cdc")
			throw Refused("rule " + rule + " is not a cdc rule any more (mode " + PQgetvalue(rules.get(), i, 1) + ")",
						  "");
	}
	if (episode.rule.empty())
		throw Refused(
			"no enabled rule into project \"" + project + "\" has a checkpoint in " + episode.file,
			"The rule that fed the replica must be enabled: the daemon drains the captured writes through it.");
	episode.origin = ReverseOriginName(episode.rule, project, episode.row.replica);
	step_("rule " + episode.rule + " (conflict_resolution " + episode.conflict_resolution +
		  "): the daemon applies the captured writes under the replication origin " + episode.origin);
}

// ReadDrain reads where the drain stands: the file's last seq and checkpoint, the reverse origin's progress.
asio::awaitable<DrainState>
SwitchBack::ReadDrain(PgConnection &conn, const Episode &episode) {
	DrainState state;
	state.last_seq = LastCapturedSeq(episode.db.get());
	state.checkpoint = Checkpoint(episode.db.get(), episode.slot);
	const std::string sql = "SELECT remote_lsn, local_lsn FROM pg_replication_origin_status WHERE external_id = " +
							SqlLiteral(conn, episode.origin);
	PgResultHandle origin = co_await conn.Exec("reading the progress of origin " + episode.origin, sql);
	if (PQntuples(origin.get()) == 1) {
		if (!PQgetisnull(origin.get(), 0, 0))
			state.origin_remote = ParseLsn(PQgetvalue(origin.get(), 0, 0));
		if (!PQgetisnull(origin.get(), 0, 1))
			state.origin_local = ParseLsn(PQgetvalue(origin.get(), 0, 1));
	}
	co_return state;
}

// WaitDrained polls until the episode is drained both ways and Finish succeeded (true), or the timeout (false).
asio::awaitable<bool>
SwitchBack::WaitDrained(PgConnection &conn, Episode &episode, DrainState &state) {
	const auto deadline = Clock::now() + config_.switchover_timeout;
	asio::steady_timer timer(co_await asio::this_coro::executor);
	std::string shown;
	for (;;) {
		state = co_await ReadDrain(conn, episode);
		const std::string now = state.Describe();
		if (now != shown) {
			step_("waiting for the daemon: " + now);
			shown = now;
		}
		if (state.Drained(episode.first_seq) && state.ForwardCaughtUp(episode.first_seq) && Finish(episode, state))
			co_return true;
		if (Clock::now() >= deadline)
			co_return false;
		timer.expires_after(kPollInterval);
		co_await timer.async_wait(asio::use_awaitable);
	}
}

// Finish ends the promotion in one SQLite write transaction, unless something was captured since state was
// read (false: wait again). Holding the write lock, no connection can write between the check and the removal.
bool
SwitchBack::Finish(Episode &episode, DrainState &state) {
	sqlite3 *db = episode.db.get();
	ExecSql(db, "BEGIN IMMEDIATE");
	try {
		if (LastCapturedSeq(db) != state.last_seq) {
			ExecSql(db, "ROLLBACK");
			return false;
		}
		RemoveCapture(db);
		SqliteStmtHandle remove = PrepareSql(db, "DELETE FROM _mosta_promotion WHERE project = ?1");
		BindText(db, remove.get(), 1, config_.ha_project);
		RunSql(db, remove.get());
		ExecSql(db, "COMMIT");
	} catch (...) {
		sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
		throw;
	}
	return true;
}

// ConflictsJson counts the episode's conflicts in mosta.conflicts ("null" when the catalog has no such table).
asio::awaitable<std::string>
SwitchBack::ConflictsJson(PgConnection &conn, const Episode &episode) {
	const std::string exists_sql = "SELECT to_regclass('mosta.conflicts') IS NOT NULL";
	PgResultHandle exists = co_await conn.Exec("looking for mosta.conflicts", exists_sql);
	if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t")
		co_return "null";
	const std::string sql =
		"SELECT json_build_object('total', count(*), 'from_sqlite', count(*) FILTER (WHERE incoming_side = 'target'), "
		"'from_postgresql', count(*) FILTER (WHERE incoming_side = 'source'), 'by_decision', coalesce((SELECT "
		"json_object_agg(d.decision, d.n) FROM (SELECT decision, count(*) AS n FROM mosta.conflicts WHERE rule = " +
		SqlLiteral(conn, episode.rule) + " AND replica = " + SqlLiteral(conn, episode.row.replica) +
		" AND recorded_at >= " + SqlLiteral(conn, episode.row.promoted_at) +
		"::timestamptz GROUP BY decision) d), '{}'))::text FROM mosta.conflicts WHERE rule = " +
		SqlLiteral(conn, episode.rule) + " AND replica = " + SqlLiteral(conn, episode.row.replica) +
		" AND recorded_at >= " + SqlLiteral(conn, episode.row.promoted_at) + "::timestamptz";
	PgResultHandle conflicts = co_await conn.Exec("counting the episode's conflicts", sql);
	co_return std::string(PQgetvalue(conflicts.get(), 0, 0));
}

// Execute runs every step; nothing is removed from the file before the drain is complete.
asio::awaitable<int>
SwitchBack::Execute() {
	const std::string &project = config_.ha_project;
	PgConnection conn(co_await asio::this_coro::executor);
	co_await ConnectStep(conn);
	Episode episode;
	co_await FindStep(conn, episode);
	co_await RuleStep(conn, episode);
	const bool removed = episode.row.state == kRemoved;
	if (removed)
		step_("an earlier switch-back removed the promotion and stopped before its activity rows: writing them");
	else if (episode.row.state != "switching-back") {
		SqliteStmtHandle state = PrepareSql(episode.db.get(), "UPDATE _mosta_promotion SET state = 'switching-back' "
															  "WHERE project = ?1");
		BindText(episode.db.get(), state.get(), 1, project);
		RunSql(episode.db.get(), state.get());
		step_("state switching-back: the file must take no more writes; the daemon keeps draining");
	}
	DrainState drain;
	if (removed) {
		drain = co_await ReadDrain(conn, episode);
	} else if (!co_await WaitDrained(conn, episode, drain)) {
		std::fprintf(
			stderr,
			"mosta-sidecar: switch-back not done: not drained within %lld s: %s\n"
			"HINT: the daemon applies the captured writes (mosta-sidecar --source DSN, with the data "
			"directory of the file; it takes a promotion at its next catalog poll); is rule %s's target in error "
			"(mosta_rule_targets)? "
			"Nothing was removed: %s stays the write target (state switching-back); run switch-back again.\n",
			static_cast<long long>(config_.switchover_timeout.count() / 1000), drain.Describe().c_str(),
			episode.rule.c_str(), episode.row.replica.c_str());
		co_return 1;
	}
	const std::int64_t captured = drain.last_seq - episode.first_seq;
	if (!removed)
		step_("drained: " + drain.Describe() + "; triggers and promotion removed from the file");
	const std::int64_t purged = PurgeCaptured(episode.db.get(), drain.last_seq);
	const std::string conflicts = co_await ConflictsJson(conn, episode);
	const std::string promote_detail = episode.promote_detail.empty() ? std::string("{}") : episode.promote_detail;
	long long promotion_id = co_await LogActivity(conn, "sqlite_promotion", project, episode.row.replica,
												  "{\"promoted_at\":" + JsonQuote(episode.row.promoted_at) +
													  ",\"promote\":" + promote_detail + "}");
	const std::string detail =
		"{\"replica\":" + JsonQuote(episode.row.replica) + ",\"file\":" + JsonQuote(episode.file) +
		",\"master\":" + TextJson(episode.former_master) + ",\"rule\":" + JsonQuote(episode.rule) +
		",\"conflict_resolution\":" + JsonQuote(episode.conflict_resolution) +
		",\"promoted_at\":" + JsonQuote(episode.row.promoted_at) + ",\"captured_changes\":" + std::to_string(captured) +
		",\"first_seq\":" + std::to_string(episode.first_seq) + ",\"last_seq\":" + std::to_string(drain.last_seq) +
		",\"purged\":" + std::to_string(purged) + ",\"reverse_origin\":" + JsonQuote(episode.origin) +
		",\"origin_remote_lsn\":" + LsnJson(drain.origin_remote) +
		",\"origin_local_lsn\":" + LsnJson(drain.origin_local) + ",\"checkpoint\":" + LsnJson(drain.checkpoint) +
		",\"conflicts\":" + conflicts + ",\"took_ms\":" + std::to_string(step_.Ms()) + "}";
	long long id = co_await LogActivity(conn, "switch_back", project, episode.row.replica, detail);
	step_("activity rows " + std::to_string(promotion_id) + " (sqlite_promotion) and " + std::to_string(id) +
		  " (switch_back): " + std::to_string(captured) + " change(s) captured in the episode, conflicts " + conflicts);
	SqliteStmtHandle forget = PrepareSql(episode.db.get(), "DELETE FROM _mosta_promotion_episode WHERE project = ?1");
	BindText(episode.db.get(), forget.get(), 1, project);
	RunSql(episode.db.get(), forget.get());
	if (!config_.tree_path.empty()) {
		co_await WriteTopologyTree(conn, config_.tree_path, config_.data_dir);
		step_("topology file " + config_.tree_path + " written from the catalog");
	}
	std::printf("switch-back: done in %lld ms: %s is the master of \"%s\" again; %s is a replica again (writes "
				"there are no longer captured)\n",
				step_.Ms(), episode.former_master.empty() ? "PostgreSQL" : episode.former_master.c_str(),
				project.c_str(), episode.row.replica.c_str());
	std::fflush(stdout);
	co_return 0;
}

// Guarded runs a command and turns a refusal or a failure into an exit status and a message on stderr.
template <typename Command>
asio::awaitable<int>
Guarded(const Config &config, const char *name) {
	Command command(config);
	try {
		co_return co_await command.Execute();
	} catch (const Refused &refused) {
		std::fprintf(stderr, "mosta-sidecar: %s refused: %s\n", name, MaskCredentialsInText(refused.what()).c_str());
		if (!refused.Hint().empty())
			std::fprintf(stderr, "HINT: %s\n", refused.Hint().c_str());
		std::fprintf(stderr, "mosta-sidecar: nothing was changed\n");
	} catch (...) {
		std::fprintf(stderr, "mosta-sidecar: %s failed after %.3f s: %s\n", name, command.Step().Seconds(),
					 CurrentErrorText().c_str());
		std::fprintf(stderr, "HINT: the steps printed above were done; see docs/failover.md (\"Writes on a promoted "
							 "SQLite replica\").\n");
	}
	co_return 1;
}

} // namespace

int
RunPromote(asio::io_context &context, const Config &config) {
	return RunToExit(context, Guarded<Promote>(config, "promote"));
}

int
RunSwitchBack(asio::io_context &context, const Config &config) {
	return RunToExit(context, Guarded<SwitchBack>(config, "switch-back"));
}

} // namespace mosta::sidecar::ha
