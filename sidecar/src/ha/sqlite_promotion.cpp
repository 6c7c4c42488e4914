/*
 * sqlite_promotion.cpp
 *     The promote subcommand for a SQLite replica (see sqlite_promotion.hpp; switch-back is
 *     sqlite_switch_back.cpp). C++ regime: SQLite through sink/sqlite_db.hpp, the master's probe a coroutine
 *     under a deadline; errors as exceptions, turned into an exit status and a message at the end.
 */
#include "ha/sqlite_promotion.hpp"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <sqlite3.h>

#include "app/catalog.hpp"
#include "app/target_path.hpp"
#include "app/topology_tree.hpp"
#include "ha/node_probe.hpp"
#include "ha/sqlite_promotion_steps.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "sink/sqlite_capture.hpp"
#include "sink/sqlite_db.hpp"
#include "util/run_to_exit.hpp"

namespace mosta::sidecar::ha {

namespace asio = boost::asio;

namespace sqlite_promotion {

namespace {

// The DDL of the promotion's own tables in the SQLite file (the first as docs/failover.md and the issue's
// contract fix it).
constexpr const char *kPromotionDdl =
	"CREATE TABLE IF NOT EXISTS _mosta_promotion (project TEXT PRIMARY KEY, replica TEXT NOT NULL, "
	"state TEXT NOT NULL CHECK (state IN ('master', 'switching-back')), promoted_at TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _mosta_promotion_episode (project TEXT PRIMARY KEY, replica TEXT NOT NULL, "
	"promoted_at TEXT NOT NULL, first_seq INTEGER NOT NULL, former_master TEXT, detail TEXT NOT NULL);";

// ObservationJson writes a last observation for the activity details.
std::string
ObservationJson(const TreeObservation &last) {
	if (!last.present)
		return "null";
	return "{\"status\":" + TextJson(last.status) + ",\"lag_ms\":" + NumberJson(last.lag_ms) +
		   ",\"lag_bytes\":" + NumberJson(last.lag_bytes) + ",\"applied_lsn\":" + LsnJson(last.applied_lsn) +
		   ",\"last_seen\":" + TextJson(last.last_seen) + "}";
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

} // namespace

} // namespace sqlite_promotion

int
RunPromote(asio::io_context &context, const Config &config) {
	return RunToExit(context, sqlite_promotion::Guarded<sqlite_promotion::Promote>(config, "promote"));
}

} // namespace mosta::sidecar::ha
