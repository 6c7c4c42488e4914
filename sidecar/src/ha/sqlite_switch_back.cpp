/*
 * sqlite_switch_back.cpp
 *     The switch-back subcommand of a promoted SQLite replica (see sqlite_promotion.hpp). C++ regime: SQLite
 *     through sink/sqlite_db.hpp, PostgreSQL through coroutines over PgConnection, every network step under a
 *     deadline; errors as exceptions, turned into an exit status and a message at the end.
 */
#include "ha/sqlite_promotion.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
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

// kPollInterval is how often switch-back looks at the drain's progress.
constexpr std::chrono::milliseconds kPollInterval{200};

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

} // namespace

} // namespace sqlite_promotion

int
RunSwitchBack(asio::io_context &context, const Config &config) {
	return RunToExit(context, sqlite_promotion::Guarded<sqlite_promotion::SwitchBack>(config, "switch-back"));
}

} // namespace mosta::sidecar::ha
