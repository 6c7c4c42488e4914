/*
 * rule_slot.cpp
 *     RuleRunner: the rule's slot and the copies (see rule_runner.hpp): create or reuse the slot, migrate 0.2.0's
 *     per-target slots, re-sync by key-range checksums (app/resync.hpp) or re-copy loudly when the slot was lost,
 *     and copy a target alone in a temporary slot's snapshot.
 */
#include "app/rule_runner.hpp"

#include <algorithm>
#include <optional>

#include "app/log.hpp"
#include "app/resync.hpp"
#include "app/rule_copy.hpp"
#include "pg/errors.hpp"

namespace mosta::sidecar {

boost::asio::awaitable<void>
RuleRunner::PrepareSlot() {
	SlotState slot = co_await ReadSlotState(sql_, slot_);
	if (!slot.exists && co_await Migrate())
		slot = co_await ReadSlotState(sql_, slot_);
	if (slot.exists && slot.wal_status == "lost") {
		for (auto &channel : channels_)
			co_await Warn(sql_, plan_.name, *channel, "slot_invalidated",
						  "PostgreSQL invalidated slot " + slot_ +
							  " (wal_status lost: it retained more WAL than max_slot_wal_keep_size allows), so "
							  "changes were lost for this target: re-syncing it in a new slot's snapshot (by "
							  "key-range checksums for SQLite and MongoDB, a new initial copy otherwise)");
		co_await stream_->DropSlot(slot_, false);
		slot.exists = false;
	}
	if (!slot.exists) {
		co_await CreateAndCopy();
		co_return;
	}
	co_await DropTargetSlots("the rule's slot " + slot_ + " replaces it");
	slot_confirmed_ = slot.confirmed_flush.value_or(kInvalidLsn);
	for (auto &channel : channels_) {
		if (!channel->IsOpen()) {
			positions_.Pin(channel->Name(), slot_confirmed_); // whatever it holds, the slot cannot move on
			continue;
		}
		Lsn durable = channel->Durable();
		// a copy or re-sync that did not finish may have been taken after a failover: the checkpoint the target
		// still holds is then of the old primary's WAL, and may even be ahead of the new slot; only a new copy is
		// sure to bring it back
		if (durable != kInvalidLsn && channel->Status().copy_unfinished && !channel->needs_copy) {
			++channel->Status().resnapshots;
			co_await Warn(sql_, plan_.name, *channel, "resnapshot",
						  "the target's last copy or re-sync did not finish (its checkpoint may be of the WAL "
						  "before a failover): taking a new initial copy that replaces the target's tables");
			channel->needs_copy = true;
		}
		// the target was rolled back under the slot (restored from an older copy, a dump cut back): PostgreSQL
		// resumes at confirmed_flush_lsn, so what the target lost between its checkpoint and there cannot come again
		if (durable != kInvalidLsn && durable < slot_confirmed_ && !channel->needs_copy) {
			++channel->Status().resnapshots;
			co_await Warn(sql_, plan_.name, *channel, "target_rolled_back",
						  "the target holds data up to " + FormatLsn(durable) + " but slot " + slot_ +
							  " already confirmed " + FormatLsn(slot_confirmed_) +
							  " (the target was restored or cut back to an earlier checkpoint), so the changes "
							  "between are gone for this target: taking a new initial copy that replaces the "
							  "target's tables");
			channel->needs_copy = true;
		} else if (durable == kInvalidLsn) {
			LogLine(channel->Label() + ": holds no checkpoint (a new target, or an interrupted initial copy): "
									   "copying it alone");
			channel->needs_copy = true;
		} else if (channel->needs_copy) {
			++channel->Status().resnapshots;
			co_await Warn(sql_, plan_.name, *channel, "resnapshot",
						  "the replica changed: taking a new initial copy that replaces the target's tables");
		}
		positions_.Set(channel->Name(), channel->needs_copy ? slot_confirmed_ : durable);
	}
}

boost::asio::awaitable<void>
RuleRunner::CreateAndCopy() {
	std::vector<CopyTarget> targets;
	std::vector<TargetChannel *> resync; // hold data and can be compared: re-synced by range checksums
	for (auto &channel : channels_) {
		if (!channel->IsOpen())
			continue;
		bool holds_data = channel->Durable() != kInvalidLsn;
		channel->needs_copy = false;
		channel->Status().copy_unfinished = holds_data; // until the copy or re-sync commits
		if (holds_data && ResyncComparable(channel->Dialect())) {
			channel->SetState("snapshot", "creating slot " + slot_ + ", then re-syncing by key-range checksums");
			resync.push_back(channel.get());
			continue;
		}
		if (holds_data) {
			++channel->Status().resnapshots;
			if (plan_.mode == "cdc" && channel->Status().event.empty())
				co_await Warn(sql_, plan_.name, *channel, "resnapshot",
							  "slot " + slot_ + " is gone while the target holds data up to " +
								  FormatLsn(channel->Durable()) + ": taking a new initial copy that replaces the " +
								  "target's tables (a " + channel->Dialect() +
								  " target cannot be compared by checksums)");
		}
		channel->SetState("snapshot", "creating slot " + slot_);
		// a target at 0/0 may hold rows of an interrupted copy (MongoDB): emptied first, as a re-snapshot
		targets.push_back({channel.get(), holds_data || channel->Dialect() == "mongodb"});
	}
	co_await PublishAll();
	CreatedSlot created = co_await stream_->CreateSlot(slot_, "mostajs", SlotSnapshot::Export);
	LogLine(Label() + ": slot " + slot_ + " created at " + FormatLsn(created.consistent_point) + ", copying " +
			std::to_string(targets.size()) + " target(s) from one read, re-syncing " + std::to_string(resync.size()));
	slot_confirmed_ = created.consistent_point;
	// a failure to read throws: the slot stays, and the next run copies alone each target without a checkpoint
	if (!targets.empty())
		co_await CopyInSnapshot(sql_, plan_, created.snapshot_name, created.consistent_point, targets,
								decoder_options_);
	for (TargetChannel *channel : resync)
		co_await Resync(*channel, created);
	for (auto &channel : channels_) {
		if (channel->IsOpen() && !channel->Failed() && !channel->needs_copy) {
			channel->Status().copy_unfinished = false;
			positions_.Set(channel->Name(), channel->Durable());
		} else {
			positions_.Pin(channel->Name(), slot_confirmed_);
			channel->needs_copy = true;
		}
	}
	co_await PublishAll();
}

boost::asio::awaitable<void>
RuleRunner::Resync(TargetChannel &channel, const CreatedSlot &created) {
	const ReplicaInfo *replica = nullptr;
	for (const ReplicaInfo &candidate : plan_.targets)
		if (candidate.project + "." + candidate.name == channel.Name())
			replica = &candidate;
	ResyncReport report;
	if (replica != nullptr)
		report = co_await ResyncInSnapshot(sql_, config_, plan_, created.snapshot_name, created.consistent_point,
										   channel, *replica, decoder_options_);
	else
		report.unavailable = "the target is not in the rule's catalog any more";
	if (!report.done) {
		if (channel.Failed())
			co_return; // HandleFailures reports it; the caller pins it for a copy alone
		++channel.Status().resnapshots;
		co_await Warn(sql_, plan_.name, channel, "resnapshot",
					  "slot " + slot_ + " is gone while the target holds data up to " + FormatLsn(channel.Durable()) +
						  ", and the target cannot be read to compare it (" + report.unavailable +
						  "): taking a new initial copy that replaces the target's tables");
		channel.needs_copy = true;
		co_return;
	}
	std::string detail = ResyncDetailJson(channel.Status().project, channel.Status().replica, channel.Dialect(), slot_,
										  created.consistent_point, report);
	LogLine(channel.Label() + ": slot " + slot_ + " was missing: re-synced by key-range checksums in " +
			std::to_string(report.milliseconds) + " ms: " + std::to_string(report.ranges_differing) + " of " +
			std::to_string(report.ranges_compared) + " range(s) differed; " + std::to_string(report.rows_deleted) +
			" row(s) deleted, " + std::to_string(report.rows_recopied) + " re-copied (the source holds " +
			std::to_string(report.source_rows) + ")");
	channel.Status().snapshot_rows = report.rows_recopied;
	++channel.Status().resnapshots; // the target was brought back without its slot's stream, as by a copy
	try {
		co_await LogActivity(sql_, "resync", plan_.name, detail);
	} catch (const std::exception &e) {
		LogLine(channel.Label() + ": could not log resync in mosta.activity: " + e.what());
	}
}

boost::asio::awaitable<void>
RuleRunner::CopyPending() {
	for (auto &channel : channels_) {
		if (channel->needs_copy && channel->IsOpen() && !channel->Failed() && !channel->Busy())
			co_await CopyAlone(*channel);
	}
}

boost::asio::awaitable<void>
RuleRunner::CopyAlone(TargetChannel &channel) {
	// the rule's slot cannot move past what the target will need while it is copied
	positions_.Pin(channel.Name(), slot_confirmed_);
	std::string key = SlotName(plan_.name, channel.Status().project, channel.Status().replica);
	std::string temporary = "mosta_copy_" + key.substr(key.size() - 8);
	channel.SetState("snapshot", "copying it alone in the snapshot of temporary slot " + temporary);
	co_await PublishAll();
	// a second replication connection: its temporary slot exports the snapshot, and goes with the connection
	ReplicationStream copy_connection(executor_, StreamOptions(), [] { return kInvalidLsn; });
	co_await copy_connection.Connect();
	CreatedSlot created = co_await copy_connection.CreateSlot(temporary, "mostajs", SlotSnapshot::ExportTemporary);
	// a target that holds data is replaced; MongoDB keeps the partial writes of an interrupted copy
	bool truncate = channel.Durable() != kInvalidLsn || channel.Dialect() == "mongodb";
	channel.Status().copy_unfinished = channel.Durable() != kInvalidLsn;
	std::vector<CopyTarget> targets{CopyTarget{&channel, truncate}};
	try {
		co_await CopyInSnapshot(sql_, plan_, created.snapshot_name, created.consistent_point, targets,
								decoder_options_);
	} catch (...) {
		copy_connection.Close();
		throw;
	}
	copy_connection.Close();
	if (channel.Failed())
		co_return; // HandleFailures reports it; its pin stays
	channel.needs_copy = false;
	channel.Status().copy_unfinished = false;
	channel.attach = true;
	positions_.Set(channel.Name(), channel.Durable());
	co_await PublishAll();
}

boost::asio::awaitable<bool>
RuleRunner::Migrate() {
	// 0.2.0 gave each target its own slot: the one furthest behind becomes the rule's slot, so that every
	// target's checkpoint is at or after where the rule's stream starts and no new copy is needed
	std::optional<std::pair<std::string, Lsn>> furthest_behind;
	std::vector<std::string> found;
	for (auto &channel : channels_) {
		std::string name = SlotName(plan_.name, channel->Status().project, channel->Status().replica);
		SlotState state = co_await ReadSlotState(sql_, name);
		if (!state.exists)
			continue;
		found.push_back(name);
		if (state.wal_status == "lost" || !state.confirmed_flush) {
			co_await Warn(sql_, plan_.name, *channel, "slot_invalidated",
						  "PostgreSQL invalidated slot " + name +
							  " (wal_status lost), so changes were lost for this target: taking a new initial copy");
			channel->needs_copy = true;
			continue;
		}
		if (!furthest_behind || *state.confirmed_flush < furthest_behind->second)
			furthest_behind = {name, *state.confirmed_flush};
	}
	if (found.empty())
		co_return false;
	if (!furthest_behind) {
		co_await DropTargetSlots("it was lost");
		co_return false;
	}
	const std::string copy_sql = "SELECT pg_copy_logical_replication_slot(" + SqlLiteral(sql_, furthest_behind->first) +
								 ", " + SqlLiteral(sql_, slot_) + ")";
	co_await sql_.Exec("copying slot " + furthest_behind->first + " to " + slot_, copy_sql);
	std::string text = "migrated " + std::to_string(found.size()) + " per-target slot(s) of mostajs 0.2.0 to slot " +
					   slot_ + ", copied from " + furthest_behind->first + " at " + FormatLsn(furthest_behind->second) +
					   " (no new copy)";
	LogLine(Label() + ": " + text);
	try {
		const std::string detail_sql = "SELECT json_build_object('slot', " + SqlLiteral(sql_, slot_) + ", 'from', " +
									   SqlLiteral(sql_, furthest_behind->first) + ", 'message', " +
									   SqlLiteral(sql_, text) + ")::text";
		PgResultHandle detail = co_await sql_.Exec("describing the migration", detail_sql);
		co_await LogActivity(sql_, "slot_migrated", plan_.name, PQgetvalue(detail.get(), 0, 0));
	} catch (const std::exception &e) {
		LogLine(Label() + ": could not log slot_migrated in mosta.activity: " + e.what());
	}
	co_await DropTargetSlots("slot " + slot_ + " replaces it");
	co_return true;
}

boost::asio::awaitable<void>
RuleRunner::DropTargetSlots(const std::string &why) {
	for (auto &channel : channels_) {
		std::string name = SlotName(plan_.name, channel->Status().project, channel->Status().replica);
		const std::string drop_sql =
			"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = " +
			SqlLiteral(sql_, name) + " AND NOT active";
		PgResultHandle dropped = co_await sql_.Exec("dropping slot " + name, drop_sql);
		if (PQntuples(dropped.get()) > 0)
			LogLine(channel->Label() + ": dropped slot " + name + ": " + why);
	}
}

boost::asio::awaitable<std::string>
RuleRunner::IncludeTables() {
	if (plan_.collections.size() == 1 && plan_.collections[0] == "*")
		co_return std::string();
	// the stream carries only the rule's collections: an include-tables filter (protocol section 14)
	std::string names;
	for (const std::string &name : plan_.collections)
		names += (names.empty() ? "" : ", ") + SqlLiteral(sql_, name);
	const std::string filter_sql = "SELECT n.nspname, c.relname FROM unnest(ARRAY[" + names +
								   "]::text[]) x(name) JOIN pg_class c ON c.oid = to_regclass(x.name)"
								   " JOIN pg_namespace n ON n.oid = c.relnamespace";
	PgResultHandle filter = co_await sql_.Exec("resolving the rule's collections", filter_sql);
	auto escape = [](const char *text) {
		std::string out;
		for (const char *p = text; *p != '\0'; ++p) {
			if (*p == '\\' || *p == ',' || *p == '.' || *p == '*')
				out += '\\';
			out += *p;
		}
		return out;
	};
	std::string include_tables;
	for (int row = 0; row < PQntuples(filter.get()); ++row)
		include_tables += (row == 0 ? "" : ",") + escape(PQgetvalue(filter.get(), row, 0)) + "." +
						  escape(PQgetvalue(filter.get(), row, 1));
	if (include_tables.empty())
		throw std::runtime_error("none of the rule's collections exists any more");
	co_return include_tables;
}

} // namespace mosta::sidecar
