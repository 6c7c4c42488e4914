/*
 * pause.hpp
 *     Pause and MillisSince: the HA code's waits between polls of a node (a timer on the coroutine's executor, never
 *     a blocking sleep) and the durations it logs.
 */
#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mosta::sidecar {

// Pause waits step on the current coroutine's executor (a cancelled timer ends it early, without an error).
inline boost::asio::awaitable<void>
Pause(std::chrono::milliseconds step) {
	boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, step);
	boost::system::error_code ignored;
	co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

// MillisSince returns the milliseconds elapsed since start on the steady clock.
inline long long
MillisSince(std::chrono::steady_clock::time_point start) {
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

} // namespace mosta::sidecar
