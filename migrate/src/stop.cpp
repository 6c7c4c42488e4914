/*
 * stop.cpp
 *     StopRequested and RequestStop (commands.hpp): one lock-free flag the signal handler sets.
 */
#include <atomic>

#include "commands.hpp"

namespace mosta::migrate {

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler stores into a lock-free atomic");

} // namespace

bool
StopRequested() noexcept {
	return g_stop.load();
}

bool
RequestStop() noexcept {
	return g_stop.exchange(true);
}

} // namespace mosta::migrate
