/*
 * sync_standby.cpp
 *     The synchronous standby's choice and protocol (see sync_standby.hpp).
 */
#include "ha/sync_standby.hpp"

#include <algorithm>

namespace mosta::sidecar::ha {

namespace {

const ReplicationRow *
FindRow(const std::vector<ReplicationRow> &rows, const std::string &name) {
	for (const ReplicationRow &row : rows)
		if (row.name == name)
			return &row;
	return nullptr;
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

} // namespace mosta::sidecar::ha
