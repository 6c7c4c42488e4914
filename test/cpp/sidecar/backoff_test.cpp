/*
 * backoff_test.cpp
 *     Unit tests for Backoff, with injected random sources: the window doubles from [min, 2*min] up to max, the
 *     draw is full jitter inside it, Reset starts again, and bad policies are refused.
 */
#include "util/backoff.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;
using std::chrono::milliseconds;

// Lowest always draws 0, so each delay is the floor.
std::uint64_t
Lowest(std::uint64_t) {
	return 0;
}

// Highest always draws upper, so each delay is the ceiling of its window.
std::uint64_t
Highest(std::uint64_t upper) {
	return upper;
}

// Delays returns the next count delays of backoff.
std::vector<milliseconds>
Delays(sc::Backoff &backoff, int count) {
	std::vector<milliseconds> delays;
	for (int i = 0; i < count; ++i)
		delays.push_back(backoff.NextDelay());
	return delays;
}

TEST(Backoff, CeilingDoublesUpToMaxDelay) {
	sc::Backoff backoff({milliseconds{100}, milliseconds{1'000}}, Highest);
	std::vector<milliseconds> expected{milliseconds{200},	milliseconds{400},	 milliseconds{800},
									   milliseconds{1'000}, milliseconds{1'000}, milliseconds{1'000}};
	EXPECT_EQ(Delays(backoff, 6), expected);
	EXPECT_EQ(backoff.Attempts(), 6u);
}

TEST(Backoff, FloorIsMinDelay) {
	sc::Backoff backoff({milliseconds{100}, milliseconds{1'000}}, Lowest);
	for (milliseconds delay : Delays(backoff, 8))
		EXPECT_EQ(delay, milliseconds{100});
}

TEST(Backoff, DrawsFullJitterInsideEachWindow) {
	std::vector<std::uint64_t> uppers;
	sc::Backoff backoff({milliseconds{50}, milliseconds{500}}, [&uppers](std::uint64_t upper) {
		uppers.push_back(upper);
		return upper / 2;
	});
	std::vector<milliseconds> expected{milliseconds{75}, milliseconds{125}, milliseconds{225}, milliseconds{275},
									   milliseconds{275}};
	EXPECT_EQ(Delays(backoff, 5), expected);
	// The random source is asked for [0, ceiling - min]: ceilings 100, 200, 400, 500, 500.
	EXPECT_EQ(uppers, (std::vector<std::uint64_t>{50, 150, 350, 450, 450}));
}

TEST(Backoff, ResetStartsFromTheFirstWindow) {
	sc::Backoff backoff({milliseconds{100}, milliseconds{10'000}}, Highest);
	Delays(backoff, 5);
	EXPECT_EQ(backoff.NextDelay(), milliseconds{6'400});
	backoff.Reset();
	EXPECT_EQ(backoff.Attempts(), 0u);
	EXPECT_EQ(backoff.NextDelay(), milliseconds{200});
	EXPECT_EQ(backoff.NextDelay(), milliseconds{400});
}

TEST(Backoff, ClampsARandomSourceThatOvershoots) {
	sc::Backoff backoff({milliseconds{100}, milliseconds{1'000}}, [](std::uint64_t) { return UINT64_MAX; });
	EXPECT_EQ(backoff.NextDelay(), milliseconds{200});
}

TEST(Backoff, EqualBoundsGiveAFixedDelay) {
	sc::Backoff backoff({milliseconds{250}, milliseconds{250}}, Highest);
	for (milliseconds delay : Delays(backoff, 4))
		EXPECT_EQ(delay, milliseconds{250});
}

TEST(Backoff, DoesNotOverflowNearTheLimit) {
	milliseconds huge{INT64_MAX / 2 + 1};
	sc::Backoff backoff({milliseconds{1}, huge}, Highest);
	for (int i = 0; i < 100; ++i)
		EXPECT_LE(backoff.NextDelay(), huge);
	EXPECT_EQ(backoff.NextDelay(), huge);
}

TEST(Backoff, RefusesBadPolicies) {
	EXPECT_THROW(sc::Backoff({milliseconds{0}, milliseconds{10}}, Highest), std::invalid_argument);
	EXPECT_THROW(sc::Backoff({milliseconds{-5}, milliseconds{10}}, Highest), std::invalid_argument);
	EXPECT_THROW(sc::Backoff({milliseconds{10}, milliseconds{9}}, Highest), std::invalid_argument);
	EXPECT_THROW(sc::Backoff({milliseconds{10}, milliseconds{20}}, sc::BackoffRandom{}), std::invalid_argument);
}

TEST(Backoff, DefaultSourceStaysInsideTheWindow) {
	sc::Backoff backoff(sc::BackoffPolicy{milliseconds{10}, milliseconds{80}});
	milliseconds ceiling{20};
	for (int i = 0; i < 200; ++i) {
		milliseconds delay = backoff.NextDelay();
		EXPECT_GE(delay, milliseconds{10});
		EXPECT_LE(delay, ceiling);
		ceiling = std::min(ceiling * 2, milliseconds{80});
	}
}

TEST(Backoff, DefaultPolicyIsTenthOfASecondToHalfAMinute) {
	sc::BackoffPolicy policy;
	EXPECT_EQ(policy.min_delay, milliseconds{100});
	EXPECT_EQ(policy.max_delay, milliseconds{30'000});
}

} // namespace
