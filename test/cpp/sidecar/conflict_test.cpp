/*
 * conflict_test.cpp
 *     Unit tests for the conflict policies' decision: each policy decides the same way on both sides of a
 *     conflicting pair, so the sides converge; last-write-wins compares instants across zone spellings, falls back
 *     to the source on a tie or an unknown time, and decides deletes against updates by side.
 */
#include "bidir/conflict.hpp"

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;

sc::ConflictRecord
Conflict(sc::ConflictKind kind, sc::Side from, std::string incoming_time, std::string local_time) {
	sc::ConflictRecord record;
	record.kind = kind;
	record.incoming_side = from;
	record.incoming_time = std::move(incoming_time);
	record.local_time = std::move(local_time);
	return record;
}

TEST(ConflictPolicy, ParsesAndNamesEveryPolicy) {
	for (const char *name : {"source-wins", "target-wins", "last-write-wins", "error"}) {
		auto policy = sc::ParseConflictPolicy(name);
		ASSERT_TRUE(policy.has_value()) << name;
		EXPECT_EQ(sc::ConflictPolicyName(*policy), name);
	}
	EXPECT_FALSE(sc::ParseConflictPolicy("Source-Wins").has_value());
	EXPECT_FALSE(sc::ParseConflictPolicy("").has_value());
}

TEST(ConflictPolicy, SourceAndTargetWinsDecideBySide) {
	auto from_source = Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Source, "", "");
	auto from_target = Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Target, "", "");
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::SourceWins, from_source), sc::Resolution::ApplyIncoming);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::SourceWins, from_target), sc::Resolution::KeepLocal);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::TargetWins, from_source), sc::Resolution::KeepLocal);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::TargetWins, from_target), sc::Resolution::ApplyIncoming);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::Error, from_target), sc::Resolution::Fail);
}

TEST(ConflictPolicy, LastWriteWinsComparesInstantsOnBothSides) {
	// source wrote at 10:00:00.5 UTC, target at 10:00:01 UTC spelled with another offset: the target's write wins
	// wherever it is decided
	const char *source_time = "2026-12-07T10:00:00.5+00:00";
	const char *target_time = "2026-12-07 12:00:01+02";
	auto at_target = Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Source, source_time, target_time);
	auto at_source = Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Target, target_time, source_time);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins, at_target), sc::Resolution::KeepLocal);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins, at_source), sc::Resolution::ApplyIncoming);
	// SQLite's Z spelling with milliseconds
	auto sqlite_later =
		Conflict(sc::ConflictKind::InsertExists, sc::Side::Target, "2026-12-07T10:00:00.501Z", source_time);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins, sqlite_later), sc::Resolution::ApplyIncoming);
}

TEST(ConflictPolicy, LastWriteWinsTieOrUnknownTimeGoesToTheSource) {
	const char *same = "2026-12-07T10:00:00+00:00";
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins,
								 Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Source, same, same)),
			  sc::Resolution::ApplyIncoming);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins,
								 Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Target, same, same)),
			  sc::Resolution::KeepLocal);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins,
								 Conflict(sc::ConflictKind::UpdateDiffers, sc::Side::Target, "not a time", same)),
			  sc::Resolution::KeepLocal);
}

TEST(ConflictPolicy, LastWriteWinsDecidesADeleteAgainstAnUpdateBySide) {
	// the target deleted at 10:00:05 what the source updated at 10:00:01: the source's row wins on both sides
	auto delete_at_source =
		Conflict(sc::ConflictKind::DeleteDiffers, sc::Side::Target, "2026-12-07T10:00:05Z", "2026-12-07T10:00:01Z");
	auto update_at_target = Conflict(sc::ConflictKind::UpdateMissing, sc::Side::Source, "2026-12-07T10:00:01Z", "");
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins, delete_at_source), sc::Resolution::KeepLocal);
	EXPECT_EQ(sc::DecideConflict(sc::ConflictPolicy::LastWriteWins, update_at_target), sc::Resolution::ApplyIncoming);
}

TEST(ConflictPolicy, DescribeNamesKindTableKeyAndSide) {
	auto record = Conflict(sc::ConflictKind::InsertExists, sc::Side::Target, "", "");
	record.schema = "public";
	record.table = "t";
	record.key_json = R"({"id":1})";
	EXPECT_EQ(sc::DescribeConflict(record),
			  R"(conflict insert_exists on public.t key {"id":1} (change from the target))");
	EXPECT_EQ(sc::ResolutionName(sc::Resolution::KeepLocal), "kept");
}

} // namespace
