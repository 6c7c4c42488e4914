/*
 * dcs_timing.hpp
 *     The one timing rule every lease holder follows (docs/ha.md, "The timing argument"). A holder sends a
 *     keep-alive at time s (its CLOCK_BOOTTIME, read BEFORE sending); etcd starts the new TTL when it receives it,
 *     after s, so the lease cannot expire before s + ttl, and nobody else can take the key before then. When the
 *     keep-alive succeeded, the holder may act as holder until s + ttl - margin (FenceDeadline): by then it has
 *     stopped (the agent: its server's write lease, enforced inside PostgreSQL, has expired; the sidecar: its
 *     rules are stopped). The margin covers what separates "stops" from "stopped": a commit between its check and
 *     its WAL record, the clocks' rate difference over one TTL, a stop in flight.
 */
#pragma once

#include <algorithm>
#include <chrono>

namespace mosta::sidecar {

// DcsFenceMargin is how long before a lease can expire its holder must have stopped acting: max(2 s, ttl / 5).
inline std::chrono::milliseconds
DcsFenceMargin(std::chrono::milliseconds ttl) {
	return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(2'000), ttl / 5);
}

// FenceDeadline is the end of what a keep-alive sent at sent (and answered) allows.
template <typename TimePoint>
TimePoint
FenceDeadline(TimePoint sent, std::chrono::milliseconds ttl) {
	return sent + ttl - DcsFenceMargin(ttl);
}

} // namespace mosta::sidecar
