/*
 * write_lease_client.hpp
 *     The node agent's side of the in-server write lease (docs/sql-api.md, mosta_write_lease_*): with
 *     mostajs.write_lease = on, a transaction that writes commits only before the deadline the agent last granted,
 *     on CLOCK_BOOTTIME, which the server and the agent share (same host; it counts suspended time too). The agent
 *     grants up to the FenceDeadline of its last successful keep-alive, so a frozen or cut-off agent's server
 *     stops taking writes by itself before etcd can hand the leader key to another node. C++ regime.
 */
#pragma once

#include <chrono>
#include <optional>

#include <boost/asio/awaitable.hpp>

#include "pg/connection.hpp"

namespace mosta::sidecar::ha {

// BootClock is CLOCK_BOOTTIME in µs: the clock of the in-server write lease.
struct BootClock {
	using duration = std::chrono::microseconds;
	using rep = duration::rep;
	using period = duration::period;
	using time_point = std::chrono::time_point<BootClock>;
	static constexpr bool is_steady = true;
	static time_point now() noexcept;
};

// What mosta_write_lease_state() says.
struct WriteLeaseState {
	bool enforced = false;	// mostajs.write_lease on and the library preloaded
	bool preloaded = false; // mostajs is in shared_preload_libraries
	bool granted = false;
	std::optional<long long> remaining_ms; // unset when never granted since the server started
};

// GrantWriteLease lets the server commit writes until deadline; returns the remaining ms (negative when past).
boost::asio::awaitable<long long> GrantWriteLease(PgConnection &conn, BootClock::time_point deadline);

// RevokeWriteLease refuses every write from now on (until the next grant).
boost::asio::awaitable<void> RevokeWriteLease(PgConnection &conn);

// ReadWriteLease reads mosta_write_lease_state().
boost::asio::awaitable<WriteLeaseState> ReadWriteLease(PgConnection &conn);

} // namespace mosta::sidecar::ha
