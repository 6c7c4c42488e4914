/*
 * act_fence.cpp
 *     The fence of durable target writes (see act_fence.hpp).
 */
#include "util/act_fence.hpp"

#include <time.h>

#include <atomic>
#include <cstdint>
#include <limits>

namespace mosta::sidecar {

namespace {

// The deadline in CLOCK_BOOTTIME ns; the maximum (no --dcs) never passes.
std::atomic<std::int64_t> g_deadline{std::numeric_limits<std::int64_t>::max()};

} // namespace

std::chrono::nanoseconds
BootTimeNow() noexcept {
	timespec now{};
	clock_gettime(CLOCK_BOOTTIME, &now);
	return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

void
AllowActingUntil(std::chrono::nanoseconds deadline) noexcept {
	g_deadline.store(deadline.count(), std::memory_order_release);
}

void
RevokeActing() noexcept {
	g_deadline.store(0, std::memory_order_release);
}

bool
MayAct() noexcept {
	std::int64_t deadline = g_deadline.load(std::memory_order_acquire);
	return deadline == std::numeric_limits<std::int64_t>::max() || BootTimeNow().count() < deadline;
}

void
ThrowIfFenced(const std::string &what) {
	if (!MayAct())
		throw Fenced(what + ": not committed: this sidecar's lease was not renewed in time (--dcs), another sidecar "
							"may hold the rule now");
}

} // namespace mosta::sidecar
