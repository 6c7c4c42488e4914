/*
 * main.cpp
 *     mosta-monitor: parses the options, sets up the io_context, the signal_set, the topology source and the HTTP
 *     server, and runs until SIGINT or SIGTERM (SIGHUP re-reads the topology file).
 *     Exit status: 0 clean stop, 1 runtime failure, 2 bad options.
 */
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "http_server.hpp"
#include "log.hpp"
#include "options.hpp"
#include "state.hpp"
#include "tree_source.hpp"

int
main(int argc, char **argv) {
	namespace mm = mosta::monitor;
	namespace asio = boost::asio;
	mm::Options options;
	try {
		std::vector<std::string> args(argv + 1, argv + argc);
		options = mm::ParseOptions(args, std::getenv("MOSTA_MONITOR_TOKEN"));
	} catch (const mm::OptionsError &e) {
		std::fprintf(stderr, "mosta-monitor: %s\n", e.what());
		return 2;
	}
	if (options.help || options.version) {
		std::fputs(options.help ? mm::HelpText().c_str() : "mosta-monitor " MOSTA_VERSION "\n", stdout);
		return 0;
	}
	try {
		// a closed socket must be an error code, never a signal
		std::signal(SIGPIPE, SIG_IGN);
		asio::io_context context(1);
		bool tree = !options.tree_path.empty();
		mm::MonitorState state(mm::StateSettings{tree ? "tree" : "catalog", tree ? options.tree_path : "the catalog",
												 options.poll_interval, options.stale_after});
		mm::HttpServer server(context, options, state);
		asio::ip::tcp::endpoint endpoint = server.Listen();
		std::optional<std::string> last_reason;
		// deliver takes each read of the source; nothing may escape it, or the source's loop would end
		mm::ReadCallback deliver = [&](const mm::SourceRead &read) {
			try {
				double now = mm::NowUnix();
				bool changed = read.kind == mm::SourceRead::Kind::Text		? state.OnText(read.text, now)
							   : read.kind == mm::SourceRead::Kind::Missing ? state.OnMissing(now)
																			: state.OnError(read.text, now);
				if (!changed)
					return;
				std::optional<std::string> reason = state.StaleReason(now);
				if (reason != last_reason)
					mm::MonitorLog(reason ? "stale: " + *reason : std::string("the topology is current"));
				last_reason = reason;
				server.PublishState();
			} catch (const std::exception &e) {
				mm::MonitorLog(std::string("could not take a read of the topology: ") + e.what());
			}
		};
		auto report = [](std::exception_ptr error) {
			if (!error)
				return;
			try {
				std::rethrow_exception(error);
			} catch (const std::exception &e) {
				mm::MonitorLog(std::string("the topology source stopped: ") + e.what());
			}
		};
		if (tree)
			asio::co_spawn(context, mm::WatchTree(options.tree_path, options.poll_interval, options.inotify, deliver),
						   report);
		else
			asio::co_spawn(context, mm::PollCatalog(options.source, options.poll_interval, deliver), report);
		server.Start();
		asio::signal_set signals(context, SIGINT, SIGTERM);
		signals.async_wait([&](const boost::system::error_code &error, int signal) {
			if (error)
				return;
			mm::MonitorLog("signal " + std::to_string(signal) + ": stopping");
			server.Stop();
			context.stop();
		});
		// SIGHUP re-reads the file at once (the catalog is read at the next poll); it never stops the monitor
		asio::signal_set hangups(context, SIGHUP);
		std::function<void(const boost::system::error_code &, int)> on_hangup =
			[&](const boost::system::error_code &error, int) {
				if (error)
					return;
				mm::MonitorLog("SIGHUP: reading the topology again");
				if (tree)
					deliver(mm::ReadTreeFile(options.tree_path));
				hangups.async_wait(on_hangup);
			};
		hangups.async_wait(on_hangup);
		// logged once the signals are handled: a script that waits for this line may signal at once
		mm::MonitorLog(
			"listening on http://" +
			(endpoint.address().is_v6() ? "[" + endpoint.address().to_string() + "]" : endpoint.address().to_string()) +
			":" + std::to_string(endpoint.port()) +
			(options.token.empty() ? " (no token required: loopback clients only)" : ""));
		context.run();
		return 0;
	} catch (const std::exception &e) {
		mm::MonitorLog(e.what());
		return 1;
	}
}
