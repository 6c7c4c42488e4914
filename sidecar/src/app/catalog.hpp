/*
 * catalog.hpp
 *     What the daemon reads from the mosta catalog (docs/sql-api.md section 10) and writes back to it: the enabled
 *     rules with their target replicas (RulePlan), and the status rows (mosta.rule_stats, mosta.replica_status).
 *
 *     Targets of a rule: when its target project is its source project, that project's slaves that are not
 *     postgres; otherwise every replica of the target project. This version applies to sqlite, sqldump and jsonl
 *     targets; a mongodb or postgres target, mode bidirectional, or a rule without targets makes the whole rule an
 *     error (RulePlan::error), which the daemon reports in mosta.rule_stats and never runs.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

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

// One enabled rule as the daemon will run it.
struct RulePlan {
	std::string name;
	std::string source_project;
	std::string target_project;
	std::string mode;					  // snapshot, cdc (bidirectional is an error)
	std::vector<std::string> collections; // canonical names, or the single "*"
	std::vector<ReplicaInfo> targets;
	std::string stats_status; // mosta.rule_stats.status when a row exists, else ""
	std::string error;		  // non-empty: the rule cannot run, for this reason
};

// SlotName returns "mosta_<rule>" with every character outside [a-z0-9_] replaced by '_'.
std::string SlotName(const std::string &rule);

// SqlLiteral quotes value as an SQL string literal for conn (PQescapeLiteral); throws PgError.
std::string SqlLiteral(PgConnection &conn, const std::string &value);

// LoadRulePlans reads the enabled rules and resolves their targets.
boost::asio::awaitable<std::vector<RulePlan>> LoadRulePlans(PgConnection &conn);

// The counters and state of one rule, as written to mosta.rule_stats.
struct RuleStatus {
	std::string status = "pending"; // pending, snapshot, streaming, done, error
	long long snapshot_rows = 0;
	long long changes_applied = 0;
	long long transactions = 0;
	Lsn confirmed_lsn = kInvalidLsn;
	bool applied_any = false; // last_applied_at is set to now() when true
	std::string last_error;
};

// The state of one target replica, as written to mosta.replica_status.
struct ReplicaStatusRow {
	std::string project;
	std::string replica;
	std::string status; // up, down, error
	Lsn applied_lsn = kInvalidLsn;
	std::int64_t lag_ms = -1; // -1: unknown (written as NULL)
	std::string last_error;
};

// WriteStatus upserts the rule's mosta.rule_stats row and its replicas' mosta.replica_status rows in one statement
// (lag_bytes = pg_current_wal_lsn() - applied_lsn).
boost::asio::awaitable<void> WriteStatus(PgConnection &conn, const std::string &rule, const RuleStatus &status,
										 const std::vector<ReplicaStatusRow> &replicas);

} // namespace mosta::sidecar
