/*
 * rule_status.cpp
 *     Status publishing of a rule's targets (see rule_status.hpp).
 */
#include "app/rule_status.hpp"

#include <chrono>
#include <ctime>
#include <vector>

#include "app/log.hpp"

namespace mosta::sidecar {

namespace {

// UtcNow returns the current time as "2026-11-22 19:30:00 UTC", for warnings.
std::string
UtcNow() {
	std::time_t now = std::time(nullptr);
	std::tm utc{};
	gmtime_r(&now, &utc);
	char text[32];
	std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
	return text;
}

// MegaBytes prints bytes in MB, for log lines.
std::string
MegaBytes(long long bytes) {
	return std::to_string(bytes / (1024 * 1024)) + " MB";
}

} // namespace

RuleStatus
RuleProgress::Aggregate() const {
	std::vector<const TargetStatus *> all;
	for (const auto &[key, target] : targets)
		all.push_back(&target);
	return AggregateRuleStatus(all);
}

TargetStatus &
ProgressEntry(RuleProgress &progress, const RulePlan &plan, const ReplicaInfo &target) {
	auto [entry, created] = progress.targets.try_emplace({target.project, target.name});
	if (created) {
		entry->second.project = target.project;
		entry->second.replica = target.name;
	}
	entry->second.slot = RuleSlotName(plan.name);
	return entry->second;
}

boost::asio::awaitable<void>
LoadCounters(PgConnection &sql, const std::string &rule, TargetStatus &status) {
	if (status.counters_loaded)
		co_return;
	const std::string stats_sql = "SELECT snapshot_rows, changes_applied, transactions, resnapshots, status FROM "
								  "mosta.target_status WHERE rule = " +
								  SqlLiteral(sql, rule) + " AND project = " + SqlLiteral(sql, status.project) +
								  " AND replica = " + SqlLiteral(sql, status.replica);
	PgResultHandle stats = co_await sql.Exec("reading mosta.target_status", stats_sql);
	if (PQntuples(stats.get()) == 1) {
		status.snapshot_rows = std::stoll(PQgetvalue(stats.get(), 0, 0));
		status.changes_applied = std::stoll(PQgetvalue(stats.get(), 0, 1));
		status.transactions = std::stoll(PQgetvalue(stats.get(), 0, 2));
		status.resnapshots = std::stoi(PQgetvalue(stats.get(), 0, 3));
		if (std::string(PQgetvalue(stats.get(), 0, 4)) == "done")
			status.status = "done";
		// the last run published a copy or re-sync in progress and never its end
		status.copy_unfinished = std::string(PQgetvalue(stats.get(), 0, 4)) == "snapshot";
	}
	status.counters_loaded = true;
}

boost::asio::awaitable<void>
PublishStatus(PgConnection &sql, const Config &config, const std::string &rule, const RuleProgress &progress,
			  TargetChannel &channel, const SlotState &slot) {
	TargetStatus &status = channel.Status();
	status.retained_bytes = slot.retained_bytes;
	status.wal_status = slot.wal_status;
	std::string warning = status.event;
	long long retained = slot.retained_bytes.value_or(0);
	bool over = config.retained_wal_warning > 0 && retained > config.retained_wal_warning;
	if (over) {
		std::string text = "slot " + status.slot + " retains " + MegaBytes(retained) +
						   " of WAL, over --retained-wal-warning (" + MegaBytes(config.retained_wal_warning) + ")";
		if (!status.over_retained_limit)
			LogLine(channel.Label() + ": WARNING: " + text);
		warning += (warning.empty() ? "" : "; ") + text;
	} else if (status.over_retained_limit) {
		LogLine(channel.Label() + ": slot " + status.slot + " retains " + MegaBytes(retained) +
				" of WAL again, under the limit");
	}
	status.over_retained_limit = over;
	if (slot.wal_status == "unreserved")
		warning += std::string(warning.empty() ? "" : "; ") + "slot " + status.slot +
				   " is past max_slot_wal_keep_size (wal_status unreserved): PostgreSQL invalidates it at its next "
				   "checkpoint unless the rule's targets catch up";
	status.warning = warning;
	if (status.status != "error" && channel.caught_up_at)
		status.lag_ms = channel.idle ? 0
									 : std::chrono::duration_cast<std::chrono::milliseconds>(
										   std::chrono::steady_clock::now() - *channel.caught_up_at)
										   .count();
	else
		status.lag_ms = -1;
	co_await WriteStatus(sql, rule, progress.Aggregate(), status);
	status.applied_any = false;
}

boost::asio::awaitable<void>
Warn(PgConnection &sql, const std::string &rule, TargetChannel &channel, const std::string &action,
	 const std::string &text) {
	LogLine(channel.Label() + ": WARNING: " + text);
	TargetStatus &status = channel.Status();
	status.event = text + " (" + UtcNow() + ")";
	try {
		const std::string detail_sql = "SELECT json_build_object('project', " + SqlLiteral(sql, status.project) +
									   ", 'replica', " + SqlLiteral(sql, status.replica) + ", 'slot', " +
									   SqlLiteral(sql, status.slot) + ", 'message', " + SqlLiteral(sql, text) +
									   ")::text";
		PgResultHandle detail = co_await sql.Exec("describing the event", detail_sql);
		co_await LogActivity(sql, action, rule, PQgetvalue(detail.get(), 0, 0));
	} catch (const std::exception &e) {
		LogLine(channel.Label() + ": could not log " + action + " in mosta.activity: " + e.what());
	}
}

} // namespace mosta::sidecar
