/*
 * resync.hpp
 *     ResyncInSnapshot: a target that holds data, whose rule's slot had to be created again (a failover to a
 *     standby, which has no logical slot; a slot dropped or invalidated), is brought back to the source by range
 *     checksums instead of a full copy (docs/verification.md, "Re-sync after a lost slot"; docs/guarantees.md).
 *
 *     In the new slot's exported snapshot, for each table of the rule with a primary key: the target's rows are
 *     read and hashed as verify does (app/verify_read.hpp, app/verify_mongo.hpp), grouped into hash buckets of the
 *     canonical key text (app/resync_plan.hpp); the source computes the same buckets' counts and checksums in SQL,
 *     so only one row per bucket crosses. For the buckets that differ, the source's (key, row hash) pairs of those
 *     buckets are read and compared with the target's; the target's differing and extra rows are deleted and the
 *     source's differing and missing rows written (mosta.snapshot_documents filtered by key), all in ONE sink
 *     transaction committed at the slot's consistent point, exactly as a copy's: streaming goes on from there. A
 *     table without a primary key is copied whole (emptied, then every row). For a MongoDB target, json columns
 *     are not compared (as in verify): a row that differs only there is not re-written.
 *
 *     Only SQLite and MongoDB targets can be compared; the runner copies the others whole (rule_slot.cpp).
 */
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "app/target_channel.hpp"
#include "decode/change.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// ResyncComparable tells whether a target of this dialect can be re-synced by checksums (sqlite, mongodb).
bool ResyncComparable(const std::string &dialect) noexcept;

// What one target's re-sync did.
struct ResyncReport {
	bool done = false; // false: the target could not be read (unavailable says why): copy it whole
	std::string unavailable;
	int tables = 0;
	int tables_copied_whole = 0; // without a primary key
	long long source_rows = 0;	 // rows of the compared tables on the source (what a full copy would move)
	long long ranges_compared = 0;
	long long ranges_differing = 0;
	long long rows_compared = 0; // source rows of the differing ranges, compared key by key
	long long rows_missing = 0;
	long long rows_extra = 0;
	long long rows_different = 0;
	long long rows_deleted = 0;	 // target rows deleted (extra and different)
	long long rows_recopied = 0; // source rows written (missing, different, and those of tables copied whole)
	long long milliseconds = 0;
};

// ResyncInSnapshot re-syncs channel (replica is its catalog row) in snapshot_name on sql (left outside a
// transaction), committed at consistent_point and flushed. A target that cannot be read returns done false with
// nothing applied; a sink failure leaves the channel failed (TargetChannel::Failed); a failure to read the source
// throws.
boost::asio::awaitable<ResyncReport> ResyncInSnapshot(PgConnection &sql, const Config &config, const RulePlan &plan,
													  const std::string &snapshot_name, Lsn consistent_point,
													  TargetChannel &channel, const ReplicaInfo &replica,
													  DecoderOptions options);

// ResyncDetailJson returns the mosta.activity detail of a re-sync: the target (project, replica, dialect), the slot
// and its consistent point, the counts of ResyncReport and a message.
std::string ResyncDetailJson(const std::string &project, const std::string &replica, const std::string &dialect,
							 const std::string &slot, Lsn consistent_point, const ResyncReport &report);

} // namespace mosta::sidecar
