// standby_watch_test.cpp: the time lag of a PostgreSQL standby (app/standby_watch.hpp), from the master's history
// of WAL positions and the standby's replay LSN and last replayed commit.
#include "app/standby_watch.hpp"

#include <gtest/gtest.h>

namespace mosta::sidecar {
namespace {

TEST(StandbyLagMs, ZeroWhenEverythingIsReplayed) {
	MasterHistory history;
	history.Add(1'000, 100);
	EXPECT_EQ(StandbyLagMs(history, 100, 100, 1'000, std::nullopt), 0);
	EXPECT_EQ(StandbyLagMs(history, 100, 150, 1'000, std::nullopt), 0); // replayed past what the master said
}

TEST(StandbyLagMs, ZeroWhenCaughtUpWithThePreviousObservation) {
	// the master moved since by the sidecar's own status write: an idle primary still has no lag
	MasterHistory history;
	history.Add(1'000, 100);
	history.Add(6'000, 120);
	EXPECT_EQ(StandbyLagMs(history, 120, 100, 6'000, 500.0), 0);
}

TEST(StandbyLagMs, TimeSinceTheLatestObservationTheStandbyHolds) {
	MasterHistory history;
	history.Add(1'000, 100);
	history.Add(2'000, 200);
	history.Add(3'000, 300);
	history.Add(4'000, 400);
	// replayed up to 250: it holds what the master had at 2'000, not at 3'000
	EXPECT_EQ(StandbyLagMs(history, 400, 250, 4'000, std::nullopt), 2'000);
	// a replayed commit later than that observation is a better bound
	EXPECT_EQ(StandbyLagMs(history, 400, 250, 4'000, 2'500.0), 1'500);
	// an older replayed commit does not make it worse
	EXPECT_EQ(StandbyLagMs(history, 400, 250, 4'000, 1'500.0), 2'000);
}

TEST(StandbyLagMs, UnknownWithoutAnyBound) {
	MasterHistory history;
	history.Add(1'000, 100);
	history.Add(2'000, 200);
	EXPECT_EQ(StandbyLagMs(history, 200, 50, 2'000, std::nullopt), std::nullopt);
	EXPECT_EQ(StandbyLagMs(history, 200, 50, 2'000, 900.0), 1'100);
}

TEST(MasterHistory, PreviousAndCurrentAsOf) {
	MasterHistory history;
	EXPECT_EQ(history.Previous(), std::nullopt);
	history.Add(1'000, 100);
	EXPECT_EQ(history.Previous(), std::nullopt);
	history.Add(2'000, 200);
	EXPECT_EQ(history.Previous(), Lsn{100});
	EXPECT_EQ(history.CurrentAsOf(199), 1'000.0);
	EXPECT_EQ(history.CurrentAsOf(200), 2'000.0);
	EXPECT_EQ(history.CurrentAsOf(99), std::nullopt);
}

} // namespace
} // namespace mosta::sidecar
