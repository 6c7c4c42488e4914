/*
 * sync_standby.cpp
 *     The synchronous standby's choice and protocol (see sync_standby.hpp).
 */
#include "ha/sync_standby.hpp"

#include <algorithm>
#include <cstdlib>

namespace mosta::sidecar::ha {

namespace {

const ReplicationRow *
FindRow(const std::vector<ReplicationRow> &rows, const std::string &name) {
	for (const ReplicationRow &row : rows)
		if (row.name == name)
			return &row;
	return nullptr;
}

// FillReplication reads the rows of the pg_stat_replication query below into replication.
void
FillReplication(const PGresult *result, LeaderReplication &replication) {
	for (int i = 0; i < PQntuples(result); ++i) {
		const std::string name = PQgetvalue(result, i, 0);
		DcsStandbyRow row;
		row.state = PQgetvalue(result, i, 1);
		row.sync_state = PQgetvalue(result, i, 2);
		row.flush_lsn = PQgetvalue(result, i, 3);
		row.replay_lsn = PQgetvalue(result, i, 4);
		if (!PQgetisnull(result, i, 5))
			row.lag_ms = std::strtoll(PQgetvalue(result, i, 5), nullptr, 10);
		if (!PQgetisnull(result, i, 6))
			row.lag_bytes = std::strtoll(PQgetvalue(result, i, 6), nullptr, 10);
		ReplicationRow plain;
		plain.name = name;
		plain.state = row.state;
		plain.sync_state = row.sync_state;
		plain.flush_lsn = ParseLsn(row.flush_lsn).value_or(kInvalidLsn);
		replication.rows.push_back(plain);
		replication.standbys[name] = row;
	}
}

bool
Eligible(const std::vector<std::string> &eligible, const std::string &name) {
	return std::find(eligible.begin(), eligible.end(), name) != eligible.end();
}

} // namespace

std::string
SyncStandbyNames(const std::string &mode, const std::optional<std::string> &standby) {
	if (!standby)
		return mode == "strict" ? "*" : "";
	std::string quoted = "\"";
	for (char c : *standby) {
		if (c == '"')
			quoted += '"';
		quoted += c;
	}
	return "FIRST 1 (" + quoted + "\")";
}

std::optional<std::string>
ChooseSyncStandby(const std::optional<std::string> &current, const std::vector<ReplicationRow> &rows,
				  const std::vector<std::string> &eligible) {
	if (current && Eligible(eligible, *current)) {
		const ReplicationRow *row = FindRow(rows, *current);
		if (row != nullptr && row->state == "streaming")
			return current;
	}
	const ReplicationRow *best = nullptr;
	for (const ReplicationRow &row : rows) {
		if (row.state != "streaming" || !Eligible(eligible, row.name))
			continue;
		if (best == nullptr || row.flush_lsn > best->flush_lsn ||
			(row.flush_lsn == best->flush_lsn && row.name < best->name))
			best = &row;
	}
	if (best == nullptr)
		return std::nullopt;
	return best->name;
}

SyncPlan
PlanSync(const std::string &mode, const std::string &names, const std::optional<std::string> &key,
		 const std::vector<ReplicationRow> &rows, const std::vector<std::string> &eligible) {
	SyncPlan plan;
	// the standby the setting names now (when it is ours): kept while it streams
	std::optional<std::string> current = key;
	if (!current)
		for (const std::string &name : eligible)
			if (names == SyncStandbyNames(mode, name))
				current = name;
	plan.desired = ChooseSyncStandby(current, rows, eligible);
	const std::string target = SyncStandbyNames(mode, plan.desired);
	if (key && key != plan.desired) {
		plan.clear_key = true;
		plan.reason = "sync standby " + *key + " no longer chosen: sync key cleared first";
	}
	if (names != target) {
		plan.set_names = target;
		plan.reason += std::string(plan.reason.empty() ? "" : "; ") + "synchronous_standby_names = '" + target + "'";
		return plan; // the key names the new standby at a later poll, once the setting is in force
	}
	if (plan.desired && key != plan.desired) {
		const ReplicationRow *row = FindRow(rows, *plan.desired);
		if (row != nullptr && row->sync_state == "sync") {
			plan.name_key = true;
			plan.reason = "standby " + *plan.desired + " is sync: the sync key names it";
		}
	}
	return plan;
}

boost::asio::awaitable<LeaderReplication>
ReadLeaderReplication(PgConnection &conn) {
	LeaderReplication replication;
	PgResultHandle settings =
		co_await conn.Exec("reading the leader's WAL position",
						   "SELECT pg_current_wal_lsn()::text, current_setting('synchronous_standby_names')");
	replication.wal_lsn = PQgetvalue(settings.get(), 0, 0);
	replication.synchronous_names = PQgetvalue(settings.get(), 0, 1);
	// lag_ms: replay_lag, which is NULL once an idle standby has caught up (then 0 when it replayed everything)
	PgResultHandle rows = co_await conn.Exec(
		"reading pg_stat_replication",
		"SELECT application_name, state, coalesce(sync_state, ''), coalesce(flush_lsn::text, ''), "
		"coalesce(replay_lsn::text, ''), CASE WHEN replay_lag IS NOT NULL THEN (extract(epoch FROM replay_lag) * "
		"1000)::bigint WHEN replay_lsn = pg_current_wal_lsn() THEN 0 END, "
		"pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication "
		"ORDER BY application_name");
	FillReplication(rows.get(), replication);
	co_return replication;
}

} // namespace mosta::sidecar::ha
