/*
 * catalog.cpp
 *     Reading rules and replicas from the mosta catalog, writing status back (see catalog.hpp).
 */
#include "app/catalog.hpp"

#include <map>

#include "pg/errors.hpp"

namespace mosta::sidecar {

namespace {

// Value returns field (row, col) of result as a string ("" for NULL).
std::string
Value(const PGresult *result, int row, int col) {
	return PQgetisnull(result, row, col) ? std::string() : std::string(PQgetvalue(result, row, col));
}

// LsnLiteral returns 'X/Y'::pg_lsn, or NULL for kInvalidLsn.
std::string
LsnLiteral(Lsn lsn) {
	return lsn == kInvalidLsn ? std::string("NULL::pg_lsn") : "'" + FormatLsn(lsn) + "'::pg_lsn";
}

// Resolve fills plan.targets and plan.error from the replicas of the catalog.
void
Resolve(RulePlan &plan, const std::vector<ReplicaInfo> &replicas) {
	if (plan.mode == "bidirectional") {
		plan.error = "mode bidirectional is not implemented by this version of mosta-sidecar";
		return;
	}
	if (plan.mode != "snapshot" && plan.mode != "cdc") {
		plan.error = "unknown mode \"" + plan.mode + "\"";
		return;
	}
	bool same = plan.source_project == plan.target_project;
	for (const ReplicaInfo &replica : replicas) {
		if (replica.project != plan.target_project)
			continue;
		if (same && (replica.role != "slave" || replica.dialect == "postgres"))
			continue;
		if (replica.dialect != "sqlite" && replica.dialect != "sqldump" && replica.dialect != "jsonl") {
			plan.error = "target replica \"" + replica.project + "." + replica.name + "\" has dialect " +
						 replica.dialect + ", which this version of mosta-sidecar does not apply to (only sqlite, "
						 "sqldump and jsonl)";
			plan.targets.clear();
			return;
		}
		plan.targets.push_back(replica);
	}
	if (plan.targets.empty())
		plan.error = same ? "project \"" + plan.target_project + "\" has no non-postgres slave to replicate to"
						  : "target project \"" + plan.target_project + "\" has no replica";
}

} // namespace

std::string
SlotName(const std::string &rule) {
	std::string slot = "mosta_";
	for (char c : rule) {
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
		slot += ok ? c : '_';
	}
	return slot;
}

std::string
SqlLiteral(PgConnection &conn, const std::string &value) {
	PgBufferHandle quoted(PQescapeLiteral(conn.Get(), value.data(), value.size()));
	if (!quoted)
		throw PgError::FromConn("quoting a literal", conn.Get());
	return std::string(quoted.get());
}

boost::asio::awaitable<std::vector<RulePlan>>
LoadRulePlans(PgConnection &conn) {
	const std::string replicas_sql = "SELECT project, name, role, dialect, uri FROM mosta.replicas ORDER BY project, name";
	PgResultHandle replicas_result = co_await conn.Exec("reading mosta.replicas", replicas_sql);
	std::vector<ReplicaInfo> replicas;
	for (int row = 0; row < PQntuples(replicas_result.get()); ++row)
		replicas.push_back({Value(replicas_result.get(), row, 0), Value(replicas_result.get(), row, 1),
							Value(replicas_result.get(), row, 2), Value(replicas_result.get(), row, 3),
							Value(replicas_result.get(), row, 4)});

	const std::string rules_sql =
		"SELECT r.name, r.source_project, r.target_project, r.mode, c.name, s.status"
		"  FROM mosta.rules r CROSS JOIN LATERAL unnest(r.collections) WITH ORDINALITY AS c(name, n)"
		"  LEFT JOIN mosta.rule_stats s ON s.rule = r.name"
		" WHERE r.enabled ORDER BY r.name, c.n";
	PgResultHandle rules_result = co_await conn.Exec("reading mosta.rules", rules_sql);
	std::vector<RulePlan> plans;
	for (int row = 0; row < PQntuples(rules_result.get()); ++row) {
		std::string name = Value(rules_result.get(), row, 0);
		if (plans.empty() || plans.back().name != name) {
			RulePlan plan;
			plan.name = name;
			plan.source_project = Value(rules_result.get(), row, 1);
			plan.target_project = Value(rules_result.get(), row, 2);
			plan.mode = Value(rules_result.get(), row, 3);
			plan.stats_status = Value(rules_result.get(), row, 5);
			plans.push_back(std::move(plan));
		}
		plans.back().collections.push_back(Value(rules_result.get(), row, 4));
	}
	for (RulePlan &plan : plans)
		Resolve(plan, replicas);
	co_return plans;
}

boost::asio::awaitable<void>
WriteStatus(PgConnection &conn, const std::string &rule, const RuleStatus &status,
			const std::vector<ReplicaStatusRow> &replicas) {
	std::string error = status.last_error.empty() ? "NULL" : SqlLiteral(conn, status.last_error);
	std::string sql =
		"INSERT INTO mosta.rule_stats AS s (rule, status, snapshot_rows, changes_applied, transactions, "
		"confirmed_lsn, last_applied_at, last_error, updated_at) VALUES (" +
		SqlLiteral(conn, rule) + ", " + SqlLiteral(conn, status.status) + ", " +
		std::to_string(status.snapshot_rows) + ", " + std::to_string(status.changes_applied) + ", " +
		std::to_string(status.transactions) + ", " + LsnLiteral(status.confirmed_lsn) + ", " +
		(status.applied_any ? "now()" : "NULL") + ", " + error +
		", now()) ON CONFLICT (rule) DO UPDATE SET status = EXCLUDED.status, snapshot_rows = "
		"EXCLUDED.snapshot_rows, changes_applied = EXCLUDED.changes_applied, transactions = EXCLUDED.transactions, "
		"confirmed_lsn = EXCLUDED.confirmed_lsn, last_applied_at = COALESCE(EXCLUDED.last_applied_at, "
		"s.last_applied_at), last_error = EXCLUDED.last_error, updated_at = now();";
	for (const ReplicaStatusRow &replica : replicas) {
		std::string lsn = LsnLiteral(replica.applied_lsn);
		std::string lag = replica.applied_lsn == kInvalidLsn
							  ? std::string("NULL")
							  : "GREATEST(0, pg_current_wal_lsn() - " + lsn + ")::bigint";
		std::string replica_error = replica.last_error.empty() ? "NULL" : SqlLiteral(conn, replica.last_error);
		std::string lag_ms = replica.lag_ms < 0 ? std::string("NULL") : std::to_string(replica.lag_ms);
		sql += "INSERT INTO mosta.replica_status AS s (project, replica, status, lag_ms, lag_bytes, applied_lsn, "
			   "last_error, last_seen) VALUES (" +
			   SqlLiteral(conn, replica.project) + ", " + SqlLiteral(conn, replica.replica) + ", " +
			   SqlLiteral(conn, replica.status) + ", " + lag_ms + ", " + lag + ", " + lsn + ", " + replica_error +
			   ", now()) ON CONFLICT (project, replica) DO UPDATE SET status = EXCLUDED.status, lag_ms = "
			   "EXCLUDED.lag_ms, lag_bytes = EXCLUDED.lag_bytes, applied_lsn = EXCLUDED.applied_lsn, last_error = "
			   "EXCLUDED.last_error, last_seen = now();";
	}
	const std::string context = "writing the status of rule " + rule;
	co_await conn.Exec(context, sql);
}

} // namespace mosta::sidecar
