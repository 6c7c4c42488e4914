/*
 * catalog.hpp
 *     What the daemon reads from the mosta catalog (docs/sql-api.md section 10) and writes back to it: the enabled
 *     rules with their target replicas (RulePlan), and the status rows (mosta.rule_stats, mosta.target_status,
 *     mosta.replica_status).
 *
 *     Targets of a rule: when its target project is its source project, that project's slaves that are not
 *     postgres (those are physical standbys); otherwise every replica of the target project. This version applies to
 *     sqlite, sqldump, jsonl, mongodb and postgres targets (a postgres replica of another project is a separate
 *     database the PostgreSQL sink writes into, sink/pg_sink.hpp); any other dialect, or a rule without targets
 *     makes the whole rule an error (RulePlan::error), which the daemon reports in mosta.rule_stats and never runs.
 *     A bidirectional rule's sides must be sqlite replicas or the target project's postgres master
 *     (docs/bidirectional.md, "What is not supported").
 *
 *     Each rule has one replication slot (RuleSlotName), read once and fanned out to its targets; each target keeps
 *     its own checkpoint, keyed by SlotName(rule, project, replica) (docs/guarantees.md, "One slot per rule").
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "bidir/conflict.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

// One row of mosta.replicas (uri unmasked: never log it without MaskCredentials).
struct ReplicaInfo {
	std::string project;
	std::string name;
	std::string role;
	std::string dialect;
	std::string uri;
};

// One rule as the daemon will run it (or keep paused, when disabled).
struct RulePlan {
	std::string name;
	bool enabled = true;
	std::string source_project;
	std::string target_project;
	std::string mode;					  // snapshot, cdc, bidirectional
	std::vector<std::string> collections; // canonical names, or the single "*"
	std::vector<ReplicaInfo> targets;
	std::string stats_status; // mosta.rule_stats.status when a row exists, else ""
	std::string error;		  // non-empty: the rule cannot run, for this reason
	// mosta.rules.conflict_resolution: what a bidirectional rule (or a promoted SQLite replica of a cdc rule)
	// decides on a conflict (bidir/conflict.hpp).
	ConflictPolicy conflict_resolution = ConflictPolicy::SourceWins;

	// Bidirectional tells whether the rule replicates both ways (every target is a side: docs/bidirectional.md).
	bool
	Bidirectional() const noexcept {
		return mode == "bidirectional";
	}
};

// SlotName returns the slot of one target of a rule: "mosta_<rule>_<replica>_<hash>", where every character of
// rule and replica outside [a-z0-9_] becomes '_', long names are cut so that the whole fits PostgreSQL's 63
// bytes, and <hash> (8 hex digits of rule, project and replica) keeps names that sanitize alike apart.
std::string SlotName(const std::string &rule, const std::string &project, const std::string &replica);

// RuleSlotName returns the replication slot of a rule, shared by all its targets: "mosta_<rule>_<hash>", sanitized
// and cut as SlotName, <hash> of the rule alone. SlotName stays the key of each target's checkpoint in its sink.
std::string RuleSlotName(const std::string &rule);

// IsMostaSlot tells whether slot has the shape SlotName gives: one of the daemon's own slots.
bool IsMostaSlot(const std::string &slot);

// kTablesOfStarSql lists the tables a '*' rule covers (qualified, quoted names): ordinary permanent tables outside
// the system schemas and mosta, with a primary key or REPLICA IDENTITY FULL; partitioned tables count as one table,
// their top-most root (the stream reports partitions under it: partition-root), so partitions are not listed. The
// initial copy and verify use it; mosta._validate_tables (sql/parts/60_validate.sql) says the same.
inline constexpr const char *kTablesOfStarSql =
	"SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'"
	"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mosta', 'pg_toast')"
	"   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'"
	"   AND (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))"
	" ORDER BY 1";

// SqlLiteral quotes value as an SQL string literal for conn (PQescapeLiteral); throws PgError.
std::string SqlLiteral(PgConnection &conn, const std::string &value);

// LoadRulePlans reads every rule, enabled or not, and resolves its targets.
boost::asio::awaitable<std::vector<RulePlan>> LoadRulePlans(PgConnection &conn);

// The progress and health of one target of a rule, as written to mosta.target_status (and, for its replica,
// mosta.replica_status).
struct TargetStatus {
	std::string project;
	std::string replica;
	std::string slot;
	std::string status = "pending"; // pending, snapshot, streaming, done, paused, stopped, error
	long long snapshot_rows = 0;
	long long changes_applied = 0;
	long long transactions = 0;
	Lsn applied_lsn = kInvalidLsn;			 // the sink's durable LSN: what is confirmed to the slot
	std::optional<long long> retained_bytes; // WAL the slot makes PostgreSQL keep; unknown when unset
	std::string wal_status;					 // pg_replication_slots.wal_status ("" when the slot is absent)
	std::int64_t lag_ms = -1;				 // -1: unknown (written as NULL)
	int resnapshots = 0;					 // initial copies taken again (slot lost or dropped)
	bool applied_any = false;				 // last_applied_at is set to now() when true
	std::string last_error;
	std::string warning; // retained WAL over the limit, slot invalidated, ...

	// Kept by the daemon, not written.
	bool counters_loaded = false; // the counters were started from the catalog's row
	// A copy or re-sync of the target, holding data, started and did not finish (in this process, or status
	// snapshot in the catalog's row): its checkpoint may be of the WAL before a failover (rule_slot.cpp).
	bool copy_unfinished = false;
	std::string event; // the last loud event (re-snapshot), repeated in warning until the daemon restarts
	bool over_retained_limit = false;	// the retained WAL warning was logged and not yet cleared
	long long skipped_transactions = 0; // held transactions skipped since the last flush (a stream restart)
	// The reverse direction's failure (a side of a bidirectional rule, app/bidir_reverse.hpp), "" when it works:
	// the target is written with status error and this text, prefixed "reverse direction: ", as its last_error.
	std::string reverse_error;
};

// PublishedTarget returns target as written to the catalog: with its reverse direction's failure folded in.
TargetStatus PublishedTarget(const TargetStatus &target);

// The counters and state of one rule, as written to mosta.rule_stats: an aggregate of its targets.
struct RuleStatus {
	std::string status = "pending"; // pending, snapshot, streaming, done, paused, stopped, error
	long long snapshot_rows = 0;
	long long changes_applied = 0;
	long long transactions = 0;
	Lsn confirmed_lsn = kInvalidLsn;
	std::optional<long long> retained_bytes;
	bool applied_any = false; // last_applied_at is set to now() when true
	std::string last_error;
};

// AggregateRuleStatus sums up a rule's targets: the status of the least advanced (error first, then paused, stopped,
// pending, snapshot, streaming, done), the counters of the most advanced, the smallest confirmed LSN, the largest
// retained WAL, and the first error prefixed with its replica.
RuleStatus AggregateRuleStatus(const std::vector<const TargetStatus *> &targets);

// SlotState is a slot as pg_replication_slots shows it.
struct SlotState {
	bool exists = false;
	std::string wal_status;					 // reserved, extended, unreserved, lost
	std::optional<long long> retained_bytes; // pg_current_wal_lsn() - restart_lsn
	std::optional<Lsn> confirmed_flush;		 // what the slot will stream from: nothing before it comes again
};

// ReadSlotState looks slot up in pg_replication_slots.
boost::asio::awaitable<SlotState> ReadSlotState(PgConnection &conn, const std::string &slot);

// WriteStatus upserts, in one statement, the rule's mosta.rule_stats row (rule), the target's mosta.target_status
// row and its replica's mosta.replica_status row (lag_bytes = pg_current_wal_lsn() - applied_lsn; status up,
// error with the target's error, or down with lag unknown for a stopped or paused target).
boost::asio::awaitable<void> WriteStatus(PgConnection &conn, const std::string &rule, const RuleStatus &rule_status,
										 const TargetStatus &target);

// WriteRuleStatus upserts only the rule's mosta.rule_stats row (a rule that cannot run, a paused rule).
boost::asio::awaitable<void> WriteRuleStatus(PgConnection &conn, const std::string &rule, const RuleStatus &status);

// LogActivity appends a row to mosta.activity (action, the rule as object, detail as jsonb text); used for events
// an operator must find later, such as a slot PostgreSQL invalidated.
boost::asio::awaitable<void> LogActivity(PgConnection &conn, const std::string &action, const std::string &rule,
										 const std::string &detail_json);

} // namespace mosta::sidecar
