/*
 * backoff.hpp
 *     Exponential backoff with "full jitter" above a floor: the n-th delay since the last success (n from 0) is
 *     drawn uniformly from [min_delay, min(max_delay, min_delay * 2^(n+1))]. The random source is injected, so
 *     tests are deterministic; by default it is a Mersenne Twister seeded from std::random_device.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace mosta::sidecar {

// The bounds of a backoff: the floor (and base of the doubling) and the cap of every delay.
struct BackoffPolicy {
	std::chrono::milliseconds min_delay{100};
	std::chrono::milliseconds max_delay{30'000};
};

// A source of uniform random integers in [0, upper] (inclusive); results above upper are clamped.
using BackoffRandom = std::function<std::uint64_t(std::uint64_t upper)>;

// Backoff hands out the delays before successive retries; Reset() after a success starts again from the floor.
class Backoff {
  public:
	// Backoff checks policy (0 < min_delay <= max_delay, else std::invalid_argument) and uses a seeded random source.
	explicit Backoff(BackoffPolicy policy);

	// Backoff checks policy and draws from random (which must not be empty).
	Backoff(BackoffPolicy policy, BackoffRandom random);

	// NextDelay returns the delay before the next retry and widens the window for the one after.
	std::chrono::milliseconds NextDelay();

	// Reset forgets past failures: the next delay is drawn from the first window again.
	void Reset() noexcept;

	// Attempts returns how many delays NextDelay has handed out since construction or the last Reset.
	std::uint64_t
	Attempts() const noexcept {
		return attempts_;
	}

	// Policy returns the bounds this backoff was built with.
	const BackoffPolicy &
	Policy() const noexcept {
		return policy_;
	}

  private:
	BackoffPolicy policy_;
	BackoffRandom random_;
	std::chrono::milliseconds ceiling_;
	std::uint64_t attempts_ = 0;
};

} // namespace mosta::sidecar
