/*
 * with_timeout.hpp
 *     WithTimeout: await a coroutine under a deadline, for every step that talks to a node which may be dead or
 *     silent (the standby watch, the HA commands). A failure is reported at once as itself; only a step still
 *     running at the deadline becomes a TimeoutError.
 */
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mosta::sidecar {

// DurationText says "5 s" for whole seconds, "250 ms" otherwise.
inline std::string
DurationText(std::chrono::milliseconds duration) {
	if (duration.count() % 1000 == 0)
		return std::to_string(duration.count() / 1000) + " s";
	return std::to_string(duration.count()) + " ms";
}

// TimeoutError is a step that did not finish before its deadline.
class TimeoutError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

namespace detail {

// Outcome holds what a coroutine returned or threw.
template <typename T> struct Outcome {
	std::exception_ptr error;
	std::optional<T> value;
};
template <> struct Outcome<void> { std::exception_ptr error; };

// Capture awaits work and returns its outcome instead of throwing: awaitable_operators' || waits for the first
// operation to SUCCEED, so a failure (a refused connection) would otherwise wait for the timer and be reported as
// a timeout.
template <typename T>
boost::asio::awaitable<Outcome<T>>
Capture(boost::asio::awaitable<T> work) {
	Outcome<T> outcome;
	try {
		if constexpr (std::is_void_v<T>)
			co_await std::move(work);
		else
			outcome.value.emplace(co_await std::move(work));
	} catch (...) {
		outcome.error = std::current_exception();
	}
	co_return outcome;
}

} // namespace detail

// WithTimeout awaits work and returns its result or rethrows its error as soon as it has one, or throws
// TimeoutError("<what>: no answer within 5 s", or without "<what>: " when what is empty) when it takes longer than
// timeout; work is then cancelled, and the connection it used is in an unknown state: close it.
template <typename T>
boost::asio::awaitable<T>
WithTimeout(boost::asio::awaitable<T> work, std::chrono::milliseconds timeout, const std::string &what) {
	using namespace boost::asio::experimental::awaitable_operators;
	boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, timeout);
	auto outcome = co_await (detail::Capture(std::move(work)) || timer.async_wait(boost::asio::use_awaitable));
	if (outcome.index() != 0)
		throw TimeoutError((what.empty() ? std::string() : what + ": ") + "no answer within " + DurationText(timeout));
	detail::Outcome<T> done = std::get<0>(std::move(outcome));
	if (done.error)
		std::rethrow_exception(done.error);
	if constexpr (!std::is_void_v<T>)
		co_return std::move(*done.value);
}

} // namespace mosta::sidecar
