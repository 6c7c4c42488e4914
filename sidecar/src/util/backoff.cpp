/*
 * backoff.cpp
 *     Backoff: full-jitter exponential delays between min_delay and max_delay, and its default random source.
 */
#include "util/backoff.hpp"

#include <algorithm>
#include <memory>
#include <random>
#include <stdexcept>
#include <utility>

namespace mosta::sidecar {

namespace {

// CheckedPolicy returns policy after checking that its bounds make sense.
BackoffPolicy
CheckedPolicy(BackoffPolicy policy) {
	if (policy.min_delay.count() <= 0)
		throw std::invalid_argument("backoff min_delay must be positive");
	if (policy.max_delay < policy.min_delay)
		throw std::invalid_argument("backoff max_delay must not be less than min_delay");
	return policy;
}

// DefaultRandom returns a uniform source backed by a std::mt19937_64 seeded from std::random_device.
BackoffRandom
DefaultRandom() {
	auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
	return [engine](std::uint64_t upper) { return std::uniform_int_distribution<std::uint64_t>{0, upper}(*engine); };
}

// DoubledCeiling returns min(max_delay, 2 * ceiling) without overflowing.
std::chrono::milliseconds
DoubledCeiling(std::chrono::milliseconds ceiling, std::chrono::milliseconds max_delay) {
	return ceiling > max_delay / 2 ? max_delay : ceiling * 2;
}

} // namespace

// Backoff uses the default random source.
Backoff::Backoff(BackoffPolicy policy) : Backoff(policy, DefaultRandom()) {}

// Backoff starts with the window [min_delay, min(max_delay, 2 * min_delay)].
Backoff::Backoff(BackoffPolicy policy, BackoffRandom random)
	: policy_(CheckedPolicy(policy)), random_(std::move(random)),
	  ceiling_(DoubledCeiling(policy_.min_delay, policy_.max_delay)) {
	if (!random_)
		throw std::invalid_argument("backoff random source is empty");
}

// NextDelay draws from [min_delay, ceiling], then doubles the ceiling up to max_delay.
std::chrono::milliseconds
Backoff::NextDelay() {
	auto span = static_cast<std::uint64_t>((ceiling_ - policy_.min_delay).count());
	std::uint64_t jitter = std::min(random_(span), span);
	auto delay = policy_.min_delay + std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(jitter)};
	ceiling_ = DoubledCeiling(ceiling_, policy_.max_delay);
	++attempts_;
	return delay;
}

// Reset goes back to the first window.
void
Backoff::Reset() noexcept {
	ceiling_ = DoubledCeiling(policy_.min_delay, policy_.max_delay);
	attempts_ = 0;
}

} // namespace mosta::sidecar
