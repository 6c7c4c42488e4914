/*
 * sqlite_promotion.hpp
 *     Writes on a promoted SQLite replica (docs/failover.md, "Writes on a promoted SQLite replica"):
 *
 *       mosta-sidecar promote PROJECT REPLICA      while the PostgreSQL master is unreachable
 *       mosta-sidecar switch-back PROJECT          once it is back and the daemon has drained the episode
 *
 *     promote needs no database. What it must know comes from the topology file the daemon writes (--tree: the
 *     replica's path, the rule feeding it, its slot and its last observation, all as mosta_topology() gave them,
 *     credentials masked) and from the SQLite file itself (the rule's checkpoint). It refuses, changing nothing,
 *     when the master answers (unless --force), when the replica is not a sqlite slave fed by exactly one enabled
 *     cdc rule, and when the lag gate (SqliteLagGate) refuses (unless --allow-data-loss). Then it installs the
 *     capture triggers (sink/sqlite_capture.hpp) on the replica's tables, writes the _mosta_promotion row (state
 *     master) and the episode's record (_mosta_promotion_episode, below) into the file, and rewrites the topology
 *     file so that the replica is the project's master and write target (OverlayPromotion).
 *
 *     While the row exists the daemon treats the (cdc rule, replica) pair as bidirectional with the rule's
 *     conflict_resolution (SqliteTargetIsPromoted, app/bidir_*; a promotion or a switch-back made while the rule
 *     runs restarts it at the next catalog poll: PromotedTargets in app/run.cpp): the captured writes go to PostgreSQL
 * under the reverse replication origin, PostgreSQL's own changes come to the file in conflict mode. Its topology file
 *     keeps saying who the write target is: WriteTopologyTree passes mosta_topology() through OverlayPromotions.
 *
 *     switch-back does not apply anything itself: the daemon is the one writer of the reverse origin, and two
 *     appliers would race for it. It waits until PostgreSQL holds every captured change (the reverse origin's
 *     remote_lsn >= SeqLsn(last captured seq)) and the file holds every PostgreSQL commit up to the last one
 *     drained (the rule's checkpoint >= the origin's local_lsn), then, in one SQLite write transaction that first
 *     checks that nothing was captured meanwhile, drops the triggers and the promotion row; then it purges the
 *     drained changes, writes two mosta.activity rows (sqlite_promotion: what promote decided; switch_back: the
 *     episode's counts and conflicts) and the topology file. Timing out changes nothing but the row's state.
 *
 *     The episode's record, beside the contract's _mosta_promotion:
 *       _mosta_promotion_episode(project TEXT PRIMARY KEY, replica TEXT NOT NULL, promoted_at TEXT NOT NULL,
 *                                first_seq INTEGER NOT NULL, former_master TEXT, detail TEXT NOT NULL)
 *     first_seq is the capture sequence when the promotion began (the episode's changes are those after it),
 *     detail the JSON of what promote decided (gate, observation, checkpoint, probe), which switch-back logs in
 *     PostgreSQL since promote could not. switch-back deletes it last: a record without a promotion row is a
 *     switch-back that stopped before its activity rows, which the next switch-back writes.
 *
 *     The topology file is read and edited with SQLite's JSON functions (an in-memory database): simdjson, the
 *     sidecar's reader, cannot edit a document, and SQLite is linked anyway. A rewritten file is compact JSON.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "app/config.hpp"
#include "ha/failover.hpp"
#include "pg/lsn.hpp"

struct sqlite3;

namespace mosta::sidecar::ha {

// A replica's last observation as the topology file holds it (its "status" object).
struct TreeObservation {
	bool present = false; // the daemon reported it at least once (lastSeen set)
	std::string status;	  // up, catching-up, down, error, unknown (stale when the file was written)
	std::optional<long long> lag_ms;
	std::optional<long long> lag_bytes;
	std::optional<Lsn> applied_lsn; // the replica's checkpoint as the daemon last wrote it
	std::string last_seen;
	// Describe says "status up, lag 0 ms / 120 bytes, applied 0/16B3748, last seen 2026-..." (or "never reported").
	std::string Describe() const;
};

// One replica of the project in the topology file.
struct TreeReplica {
	std::string name;
	std::string role;
	std::string dialect;
	std::string uri; // masked: a file path for sqlite
	long long lag_tolerance_ms = 0;
	TreeObservation last;
};

// One rule target of the topology file that is the replica being promoted.
struct TreeFeed {
	std::string rule;
	std::string mode; // snapshot, cdc, bidirectional
	std::string conflict_resolution;
	bool enabled = true;
	std::string slot; // the rule's slot as the topology shows it (promote keys the checkpoint by SlotName)
	std::string status;
	std::optional<Lsn> applied_lsn;
};

// What the topology file says of a project and one of its replicas.
struct TreeProject {
	std::string generated_at;
	std::vector<TreeReplica> replicas;
	std::vector<TreeFeed> feeds; // the rule targets naming (project, replica)

	// Master returns the project's master, or null.
	const TreeReplica *Master() const;
	// Find returns the replica named name, or null.
	const TreeReplica *Find(const std::string &name) const;
};

// ReadTreeProject reads project from the text of a topology file, with the rule targets feeding replica. Throws
// std::runtime_error when the text is not a topology (no "projects" object) or the project is not in it.
TreeProject ReadTreeProject(const std::string &tree_json, const std::string &project, const std::string &replica);

// SqliteLagGate decides from the last observation and the file's checkpoint whether the SQLite replica holds
// what the master had committed (within its tolerance). A SQLite replica is never more caught up than its
// checkpoint, and with the master down the only account of the master is the observation: lag_tolerance_ms 0
// needs status up with lag 0 (the daemon had applied everything its slot delivered, and the stream was idle);
// > 0 needs status up and lag_ms <= tolerance; both need a checkpoint at least the observed applied LSN (a file
// behind what was observed is an older copy). Never reported, or no checkpoint: refused.
GateVerdict SqliteLagGate(long long lag_tolerance_ms, const TreeObservation &last, std::optional<Lsn> checkpoint);

// ServerAnswered tells whether a failed connection's error shows that the server itself answered (a FATAL or
// ERROR from it: a wrong password, an unknown database, starting up or shutting down): such a master is not
// down, whatever the probe could not do.
bool ServerAnswered(const std::string &probe_error);

// A row of _mosta_promotion.
struct PromotionRow {
	std::string project;
	std::string replica;
	std::string state; // master, switching-back
	std::string promoted_at;
};

// ReadPromotions returns the rows of _mosta_promotion in db (none when the table does not exist).
std::vector<PromotionRow> ReadPromotions(sqlite3 *db);

// OverlayPromotion returns tree_json with row's replica as its project's master and write target: its role
// master, the former master's role slave with status down (not within tolerance, lastError saying why),
// readsGoTo the replica, eligible [], and two members added to the project: "writeTarget" (the replica) and
// "promotion" {replica, state, promotedAt, formerMaster, file}. tree_json unchanged when the project or the
// replica is not in it. Throws std::runtime_error when tree_json is not JSON.
std::string OverlayPromotion(const std::string &tree_json, const PromotionRow &row, const std::string &file);

// OverlayPromotions applies OverlayPromotion for every sqlite replica of tree_json whose file (resolved under
// data_dir; missing files skipped) holds a promotion row of its project; tree_json unchanged when none does.
// What cannot be read is skipped (the tree stays what the catalog says).
std::string OverlayPromotions(const std::string &tree_json, const std::string &data_dir);

// RunPromote runs "promote PROJECT REPLICA" for a sqlite replica; returns the exit status: 0 promoted, 1 refused
// (nothing changed) or failed (what was done is printed).
int RunPromote(boost::asio::io_context &context, const Config &config);

// RunSwitchBack runs "switch-back PROJECT"; returns 0 when PostgreSQL is the master again, 1 when refused or not
// drained within --timeout (the promotion stays), or failed.
int RunSwitchBack(boost::asio::io_context &context, const Config &config);

} // namespace mosta::sidecar::ha
