/*
 * catalog.cpp
 *     Reading rules and replicas from the mosta catalog, writing status back (see catalog.hpp).
 */
#include "app/catalog.hpp"

#include <algorithm>
#include <cstdio>
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

// BidirectionalRefusal returns why replica cannot be a side of a bidirectional rule ("" when it can).
std::string
BidirectionalRefusal(const ReplicaInfo &replica) {
	if (replica.dialect == "sqlite" || replica.dialect == "postgres")
		return {};
	std::string why = replica.dialect == "mongodb"
						  ? "MongoDB has no old row images to detect conflicts by value and no way to tell the "
							"sidecar's own writes from others' in its change streams"
						  : "a " + replica.dialect + " replica is an append-only file that nothing writes back into";
	return "target replica \"" + replica.project + "." + replica.name + "\" has dialect " + replica.dialect +
		   ", which cannot be a side of a bidirectional rule (" + why +
		   "; only sqlite and postgres replicas can): use a cdc rule for it";
}

// Resolve fills plan.targets and plan.error from the replicas of the catalog.
void
Resolve(RulePlan &plan, const std::vector<ReplicaInfo> &replicas) {
	if (plan.mode != "snapshot" && plan.mode != "cdc" && plan.mode != "bidirectional") {
		plan.error = "unknown mode \"" + plan.mode + "\"";
		return;
	}
	bool same = plan.source_project == plan.target_project;
	for (const ReplicaInfo &replica : replicas) {
		if (replica.project != plan.target_project)
			continue;
		if (same && (replica.role != "slave" || replica.dialect == "postgres"))
			continue;
		// a postgres slave of the target project is a physical standby of its master: read-only, not a side
		if (plan.Bidirectional() && replica.dialect == "postgres" && replica.role != "master")
			continue;
		if (plan.Bidirectional() && !BidirectionalRefusal(replica).empty()) {
			plan.error = BidirectionalRefusal(replica);
			plan.targets.clear();
			return;
		}
		// a postgres replica of ANOTHER project is a target database (a postgres slave of the same project is a
		// physical standby, skipped above)
		if (replica.dialect != "sqlite" && replica.dialect != "sqldump" && replica.dialect != "jsonl" &&
			replica.dialect != "mongodb" && replica.dialect != "postgres") {
			plan.error = "target replica \"" + replica.project + "." + replica.name + "\" has dialect " +
						 replica.dialect +
						 ", which this version of mosta-sidecar does not apply to (only sqlite, "
						 "sqldump, jsonl, mongodb and postgres)";
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

namespace {

// SlotAlphabet replaces every character outside [a-z0-9_] by '_'.
std::string
SlotAlphabet(const std::string &text) {
	std::string out;
	for (char c : text) {
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
		out += ok ? c : '_';
	}
	return out;
}

// kSlotNameParts is what of "<rule>_<replica>" fits in 63 bytes next to "mosta_" and "_<8 hex digits>".
constexpr std::size_t kSlotNameParts = 63 - 6 - 9;

} // namespace

std::string
SlotName(const std::string &rule, const std::string &project, const std::string &replica) {
	std::uint32_t hash = 2166136261U; // FNV-1a: stable across builds and machines, unlike std::hash
	for (const std::string *part : {&rule, &project, &replica}) {
		for (unsigned char c : *part + '\0')
			hash = (hash ^ c) * 16777619U;
	}
	char suffix[10];
	std::snprintf(suffix, sizeof suffix, "_%08x", hash);
	std::string parts = SlotAlphabet(rule) + "_" + SlotAlphabet(replica);
	return "mosta_" + parts.substr(0, kSlotNameParts) + suffix;
}

std::string
RuleSlotName(const std::string &rule) {
	std::uint32_t hash = 2166136261U; // FNV-1a, as SlotName
	for (unsigned char c : rule + '\0')
		hash = (hash ^ c) * 16777619U;
	char suffix[10];
	std::snprintf(suffix, sizeof suffix, "_%08x", hash);
	return "mosta_" + SlotAlphabet(rule).substr(0, kSlotNameParts) + suffix;
}

bool
IsMostaSlot(const std::string &slot) {
	if (slot.size() < 6 + 1 + 9 || slot.size() > 63 || slot.rfind("mosta_", 0) != 0)
		return false;
	std::string suffix = slot.substr(slot.size() - 9);
	return suffix[0] == '_' && suffix.find_first_not_of("0123456789abcdef", 1) == std::string::npos;
}

TargetStatus
PublishedTarget(const TargetStatus &target) {
	TargetStatus published = target;
	if (!target.reverse_error.empty()) {
		published.status = "error";
		published.last_error = "reverse direction: " + target.reverse_error +
							   (target.last_error.empty() ? "" : "; forward: " + target.last_error);
	}
	return published;
}

RuleStatus
AggregateRuleStatus(const std::vector<const TargetStatus *> &targets) {
	static const std::vector<std::string> kOrder = {"error",	"paused",	 "stopped", "pending",
													"snapshot", "streaming", "done"};
	auto rank = [](const std::string &status) {
		auto found = std::find(kOrder.begin(), kOrder.end(), status);
		return found == kOrder.end() ? 0 : static_cast<int>(found - kOrder.begin());
	};
	RuleStatus rule;
	bool first = true;
	for (const TargetStatus *unpublished : targets) {
		TargetStatus published = PublishedTarget(*unpublished);
		const TargetStatus *target = &published;
		if (first || rank(target->status) < rank(rule.status))
			rule.status = target->status;
		rule.snapshot_rows = std::max(rule.snapshot_rows, target->snapshot_rows);
		rule.changes_applied = std::max(rule.changes_applied, target->changes_applied);
		rule.transactions = std::max(rule.transactions, target->transactions);
		rule.confirmed_lsn = first ? target->applied_lsn : std::min(rule.confirmed_lsn, target->applied_lsn);
		if (target->retained_bytes)
			rule.retained_bytes = std::max(rule.retained_bytes.value_or(0), *target->retained_bytes);
		rule.applied_any = rule.applied_any || target->applied_any;
		if (rule.last_error.empty() && !target->last_error.empty())
			rule.last_error = target->project + "." + target->replica + ": " + target->last_error;
		first = false;
	}
	return rule;
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
	// without the extension every catalog query fails with "relation does not exist": say what is missing
	const std::string extension_sql = "SELECT current_database(), EXISTS (SELECT 1 FROM pg_extension WHERE extname = "
									  "'mostajs')";
	PgResultHandle extension = co_await conn.Exec("looking for the mostajs extension", extension_sql);
	if (std::string(PQgetvalue(extension.get(), 0, 1)) != "t")
		throw PgError("reading the catalog", "42704",
					  "the mostajs extension is not installed in database \"" +
						  std::string(PQgetvalue(extension.get(), 0, 0)) +
						  "\" (run CREATE EXTENSION mostajs there as a superuser, or point --source at the database "
						  "that has it)");
	const std::string replicas_sql =
		"SELECT project, name, role, dialect, uri FROM mosta.replicas ORDER BY project, name";
	PgResultHandle replicas_result = co_await conn.Exec("reading mosta.replicas", replicas_sql);
	std::vector<ReplicaInfo> replicas;
	for (int row = 0; row < PQntuples(replicas_result.get()); ++row)
		replicas.push_back({Value(replicas_result.get(), row, 0), Value(replicas_result.get(), row, 1),
							Value(replicas_result.get(), row, 2), Value(replicas_result.get(), row, 3),
							Value(replicas_result.get(), row, 4)});

	const std::string rules_sql =
		"SELECT r.name, r.source_project, r.target_project, r.mode, c.name, s.status, r.enabled, "
		"r.conflict_resolution"
		"  FROM mosta.rules r CROSS JOIN LATERAL unnest(r.collections) WITH ORDINALITY AS c(name, n)"
		"  LEFT JOIN mosta.rule_stats s ON s.rule = r.name"
		" ORDER BY r.name, c.n";
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
			plan.enabled = Value(rules_result.get(), row, 6) == "t";
			std::string policy = Value(rules_result.get(), row, 7);
			if (std::optional<ConflictPolicy> parsed = ParseConflictPolicy(policy))
				plan.conflict_resolution = *parsed;
			else
				plan.error = "unknown conflict_resolution \"" + policy + "\"";
			plans.push_back(std::move(plan));
		}
		plans.back().collections.push_back(Value(rules_result.get(), row, 4));
	}
	for (RulePlan &plan : plans)
		if (plan.error.empty())
			Resolve(plan, replicas);
	co_return plans;
}

boost::asio::awaitable<SlotState>
ReadSlotState(PgConnection &conn, const std::string &slot) {
	const std::string sql =
		"SELECT wal_status, pg_current_wal_lsn() - restart_lsn, confirmed_flush_lsn FROM pg_replication_slots"
		" WHERE slot_name = " +
		SqlLiteral(conn, slot);
	const std::string context = "looking up slot " + slot;
	PgResultHandle result = co_await conn.Exec(context, sql);
	SlotState state;
	if (PQntuples(result.get()) == 1) {
		state.exists = true;
		state.wal_status = Value(result.get(), 0, 0);
		if (!PQgetisnull(result.get(), 0, 1))
			state.retained_bytes = std::stoll(Value(result.get(), 0, 1));
		if (!PQgetisnull(result.get(), 0, 2))
			state.confirmed_flush = ParseLsn(Value(result.get(), 0, 2));
	}
	co_return state;
}

namespace {

// OptionalText returns a literal of text, or NULL when it is empty.
std::string
OptionalText(PgConnection &conn, const std::string &text) {
	return text.empty() ? std::string("NULL") : SqlLiteral(conn, text);
}

// OptionalNumber returns value, or NULL when it is unset.
std::string
OptionalNumber(const std::optional<long long> &value) {
	return value ? std::to_string(*value) : std::string("NULL");
}

// RuleStatsSql upserts the rule's mosta.rule_stats row.
std::string
RuleStatsSql(PgConnection &conn, const std::string &rule, const RuleStatus &status) {
	return "INSERT INTO mosta.rule_stats AS s (rule, status, snapshot_rows, changes_applied, transactions, "
		   "confirmed_lsn, retained_bytes, last_applied_at, last_error, updated_at) VALUES (" +
		   SqlLiteral(conn, rule) + ", " + SqlLiteral(conn, status.status) + ", " +
		   std::to_string(status.snapshot_rows) + ", " + std::to_string(status.changes_applied) + ", " +
		   std::to_string(status.transactions) + ", " + LsnLiteral(status.confirmed_lsn) + ", " +
		   OptionalNumber(status.retained_bytes) + ", " + (status.applied_any ? "now()" : "NULL") + ", " +
		   OptionalText(conn, status.last_error) +
		   ", now()) ON CONFLICT (rule) DO UPDATE SET status = EXCLUDED.status, snapshot_rows = "
		   "EXCLUDED.snapshot_rows, changes_applied = EXCLUDED.changes_applied, transactions = "
		   "EXCLUDED.transactions, confirmed_lsn = EXCLUDED.confirmed_lsn, retained_bytes = EXCLUDED.retained_bytes, "
		   "last_applied_at = COALESCE(EXCLUDED.last_applied_at, s.last_applied_at), last_error = "
		   "EXCLUDED.last_error, updated_at = now();";
}

} // namespace

boost::asio::awaitable<void>
WriteRuleStatus(PgConnection &conn, const std::string &rule, const RuleStatus &status) {
	const std::string sql = RuleStatsSql(conn, rule, status);
	const std::string context = "writing the status of rule " + rule;
	co_await conn.Exec(context, sql);
}

boost::asio::awaitable<void>
WriteStatus(PgConnection &conn, const std::string &rule, const RuleStatus &rule_status,
			const TargetStatus &unpublished) {
	TargetStatus target = PublishedTarget(unpublished);
	std::string sql = RuleStatsSql(conn, rule, rule_status);
	std::string lsn = LsnLiteral(target.applied_lsn);
	std::string project = SqlLiteral(conn, target.project);
	std::string replica = SqlLiteral(conn, target.replica);
	std::string error = OptionalText(conn, target.last_error);
	sql += "INSERT INTO mosta.target_status AS t (rule, project, replica, slot, status, snapshot_rows, "
		   "changes_applied, transactions, applied_lsn, retained_bytes, wal_status, last_error, warning, resnapshots, "
		   "updated_at) VALUES (" +
		   SqlLiteral(conn, rule) + ", " + project + ", " + replica + ", " + SqlLiteral(conn, target.slot) + ", " +
		   SqlLiteral(conn, target.status) + ", " + std::to_string(target.snapshot_rows) + ", " +
		   std::to_string(target.changes_applied) + ", " + std::to_string(target.transactions) + ", " + lsn + ", " +
		   OptionalNumber(target.retained_bytes) + ", " + OptionalText(conn, target.wal_status) + ", " + error + ", " +
		   OptionalText(conn, target.warning) + ", " + std::to_string(target.resnapshots) +
		   ", now()) ON CONFLICT (rule, project, replica) DO UPDATE SET slot = EXCLUDED.slot, status = "
		   "EXCLUDED.status, snapshot_rows = EXCLUDED.snapshot_rows, changes_applied = EXCLUDED.changes_applied, "
		   "transactions = EXCLUDED.transactions, applied_lsn = EXCLUDED.applied_lsn, retained_bytes = "
		   "EXCLUDED.retained_bytes, wal_status = EXCLUDED.wal_status, last_error = EXCLUDED.last_error, warning = "
		   "EXCLUDED.warning, resnapshots = EXCLUDED.resnapshots, updated_at = now();";
	std::string lag_bytes = target.applied_lsn == kInvalidLsn
								? std::string("NULL")
								: "GREATEST(0, pg_current_wal_lsn() - " + lsn + ")::bigint";
	// a replica the daemon no longer feeds (stopped, or its rule paused) is down, its lag unknown
	std::string replica_status = target.status == "error"								   ? "error"
								 : target.status == "stopped" || target.status == "paused" ? "down"
																						   : "up";
	if (replica_status == "down")
		lag_bytes = "NULL";
	std::string lag_ms =
		target.lag_ms < 0 || replica_status == "down" ? std::string("NULL") : std::to_string(target.lag_ms);
	sql += "INSERT INTO mosta.replica_status AS s (project, replica, status, lag_ms, lag_bytes, applied_lsn, "
		   "last_error, last_seen) VALUES (" +
		   project + ", " + replica + ", '" + replica_status + "', " + lag_ms + ", " + lag_bytes + ", " + lsn + ", " +
		   error +
		   ", now()) ON CONFLICT (project, replica) DO UPDATE SET status = EXCLUDED.status, lag_ms = "
		   "EXCLUDED.lag_ms, lag_bytes = EXCLUDED.lag_bytes, applied_lsn = EXCLUDED.applied_lsn, last_error = "
		   "EXCLUDED.last_error, last_seen = now();";
	const std::string context = "writing the status of rule " + rule;
	co_await conn.Exec(context, sql);
}

boost::asio::awaitable<void>
LogActivity(PgConnection &conn, const std::string &action, const std::string &rule, const std::string &detail_json) {
	const std::string sql = "INSERT INTO mosta.activity (action, object, detail) VALUES (" + SqlLiteral(conn, action) +
							", " + SqlLiteral(conn, rule) + ", " + SqlLiteral(conn, detail_json) + "::jsonb)";
	const std::string context = "logging " + action + " of rule " + rule;
	co_await conn.Exec(context, sql);
}

} // namespace mosta::sidecar
