/*
 * run_to_exit.hpp
 *     RunToExit: the one-shot subcommands (verify, failover, switchover) are coroutines returning an exit status;
 *     this runs one on its own io_context to the end.
 */
#pragma once

#include <exception>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace mosta::sidecar {

// RunToExit runs command on context until it returns and returns its exit status; what it throws is rethrown.
inline int
RunToExit(boost::asio::io_context &context, boost::asio::awaitable<int> command) {
	int status = 1;
	std::exception_ptr failure;
	boost::asio::co_spawn(context, std::move(command), [&](std::exception_ptr error, int result) {
		failure = error;
		status = result;
	});
	context.run();
	if (failure)
		std::rethrow_exception(failure);
	return status;
}

} // namespace mosta::sidecar
