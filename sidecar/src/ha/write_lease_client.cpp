/*
 * write_lease_client.cpp
 *     The in-server write lease's SQL calls (see write_lease_client.hpp).
 */
#include "ha/write_lease_client.hpp"

#include <cstdlib>
#include <ctime>
#include <string>

namespace mosta::sidecar::ha {

BootClock::time_point
BootClock::now() noexcept {
	timespec now{};
	clock_gettime(CLOCK_BOOTTIME, &now);
	return time_point(std::chrono::seconds(now.tv_sec) + std::chrono::microseconds(now.tv_nsec / 1'000));
}

boost::asio::awaitable<long long>
GrantWriteLease(PgConnection &conn, BootClock::time_point deadline) {
	const std::string sql =
		"SELECT mosta_write_lease_grant(" + std::to_string(deadline.time_since_epoch().count()) + ")";
	PgResultHandle result = co_await conn.Exec("granting the server's write lease", sql);
	co_return std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
}

boost::asio::awaitable<void>
RevokeWriteLease(PgConnection &conn) {
	co_await conn.Exec("revoking the server's write lease", "SELECT mosta_write_lease_revoke()");
}

boost::asio::awaitable<WriteLeaseState>
ReadWriteLease(PgConnection &conn) {
	PgResultHandle result =
		co_await conn.Exec("reading the server's write lease", "SELECT enforced, preloaded, granted, remaining_ms "
															   "FROM mosta_write_lease_state()");
	WriteLeaseState state;
	auto flag = [&](int column) { return std::string(PQgetvalue(result.get(), 0, column)) == "t"; };
	state.enforced = flag(0);
	state.preloaded = flag(1);
	state.granted = flag(2);
	if (!PQgetisnull(result.get(), 0, 3))
		state.remaining_ms = std::strtoll(PQgetvalue(result.get(), 0, 3), nullptr, 10);
	co_return state;
}

} // namespace mosta::sidecar::ha
