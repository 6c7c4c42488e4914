// main.cpp
//     mosta-test-mongod: a MongoDB-wire-protocol test server that keeps its data in memory (see
//     docs/testing.md). One io_context on one thread, one coroutine per connection; commands run
//     synchronously against the Store, so they need no locks. A change stream's getMore that finds
//     no event suspends its connection's coroutine on a timer (its maxTimeMS) that every write
//     cancels, so waiting never blocks the other connections.
//
//     mosta-test-mongod [--port N] [--bind ADDRESS] [--oplog-size N]
//         --port 0 (the default) picks a free port. Once listening it prints
//         "mosta-test-mongod listening on ADDRESS:PORT" to stdout; SIGINT/SIGTERM exit 0.
//         --oplog-size: the change events kept for change streams (default 1000000).
#include "store.hpp"
#include "wire.hpp"
#include "mosta/common/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <set>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using namespace mosta::testmongod;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kDefaultOplogSize = 1'000'000;

// The timers of the connections waiting in a change stream's getMore; a write cancels them all.
using Waiters = std::set<asio::steady_timer *>;

asio::awaitable<void>
Serve(tcp::socket socket, Store &store, Waiters &waiters, int64_t connection_id) {
	std::vector<uint8_t> body;
	int32_t next_reply_id = 1;
	for (;;) {
		uint8_t header_bytes[kHeaderSize];
		auto [read_error, n] = co_await asio::async_read(socket, asio::buffer(header_bytes), kUseTuple);
		if (read_error)
			co_return; // the client hung up
		MessageHeader header = ParseHeader(header_bytes);
		if (header.length < static_cast<int32_t>(kHeaderSize) || header.length > kMaxMessageBytes) {
			std::cerr << "mosta-test-mongod: connection " << connection_id << ": message length " << header.length
					  << " out of range, closing\n";
			co_return;
		}
		body.resize(static_cast<size_t>(header.length) - kHeaderSize);
		auto [body_error, m] = co_await asio::async_read(socket, asio::buffer(body), kUseTuple);
		if (body_error)
			co_return;
		std::vector<uint8_t> reply;
		std::optional<std::chrono::steady_clock::time_point> deadline;
		for (;;) {
			CommandContext context{connection_id, !deadline || std::chrono::steady_clock::now() < *deadline, {}};
			try {
				reply = HandleMessage(store, header, body.data(), body.size(), context, next_reply_id);
			} catch (const std::exception &error) {
				std::cerr << "mosta-test-mongod: connection " << connection_id << ": " << error.what() << ", closing\n";
				co_return;
			}
			if (context.wait.count() == 0)
				break;
			// no event yet: wait for a write or the deadline (set once, by the first attempt), then run it again
			if (!deadline)
				deadline = std::chrono::steady_clock::now() + context.wait;
			asio::steady_timer timer(socket.get_executor(), *deadline);
			waiters.insert(&timer);
			co_await timer.async_wait(kUseTuple);
			waiters.erase(&timer);
		}
		next_reply_id++;
		if (reply.empty())
			continue;
		auto [write_error, w] = co_await asio::async_write(socket, asio::buffer(reply), kUseTuple);
		if (write_error)
			co_return;
	}
}

asio::awaitable<void>
Accept(tcp::acceptor &acceptor, Store &store, Waiters &waiters) {
	int64_t connections = 0;
	for (;;) {
		auto [error, socket] = co_await acceptor.async_accept(kUseTuple);
		if (error == asio::error::operation_aborted)
			co_return;
		if (error) {
			std::cerr << "mosta-test-mongod: accept: " << error.message() << "\n";
			continue;
		}
		socket.set_option(tcp::no_delay(true));
		asio::co_spawn(acceptor.get_executor(), Serve(std::move(socket), store, waiters, ++connections),
					   [](std::exception_ptr failure) {
						   if (!failure)
							   return;
						   try {
							   std::rethrow_exception(failure);
						   } catch (const std::exception &e) {
							   std::cerr << "mosta-test-mongod: connection failed: " << e.what() << "\n";
						   }
					   });
	}
}

[[noreturn]] void
Usage(const char *message) {
	std::cerr << "mosta-test-mongod: " << message
			  << "\nusage: mosta-test-mongod [--port N] [--bind ADDRESS] [--oplog-size N]\n";
	std::exit(2);
}

} // namespace

int
main(int argc, char **argv) {
	std::string bind = "127.0.0.1";
	unsigned long port = 0;
	unsigned long long oplog_size = kDefaultOplogSize;
	for (int i = 1; i < argc; i++) {
		std::string arg = argv[i];
		if ((arg == "--port" || arg == "--bind" || arg == "--oplog-size") && i + 1 < argc) {
			std::string value = argv[++i];
			if (arg == "--bind") {
				bind = value;
				continue;
			}
			char *end = nullptr;
			unsigned long long number = std::strtoull(value.c_str(), &end, 10);
			if (arg == "--oplog-size") {
				if (value.empty() || *end || number < 1 || value[0] == '-')
					Usage("--oplog-size needs a positive number of change events");
				oplog_size = number;
				continue;
			}
			port = static_cast<unsigned long>(number);
			if (value.empty() || *end || number > 65535 || value[0] == '-')
				Usage("--port needs a number from 0 to 65535");
		} else if (arg == "--help" || arg == "-h") {
			std::cout << "usage: mosta-test-mongod [--port N] [--bind ADDRESS] [--oplog-size N] [--version]\n";
			return 0;
		} else if (arg == "--version") {
			std::cout << "mosta-test-mongod " << mosta::kMostaVersion << "\n" << mosta::ProtocolVersionsText() << "\n";
			return 0;
		} else {
			Usage(("unknown argument " + arg).c_str());
		}
	}
	try {
		asio::io_context context(1);
		tcp::endpoint endpoint(asio::ip::make_address(bind), static_cast<unsigned short>(port));
		tcp::acceptor acceptor(context);
		acceptor.open(endpoint.protocol());
		acceptor.set_option(tcp::acceptor::reuse_address(true));
		acceptor.bind(endpoint);
		acceptor.listen();
		auto local = acceptor.local_endpoint();
		Store store(local.address().to_string() + ":" + std::to_string(local.port()), oplog_size);
		Waiters waiters;
		store.SetChangeListener([&waiters] {
			for (asio::steady_timer *timer : waiters)
				timer->cancel();
		});
		asio::signal_set signals(context, SIGINT, SIGTERM);
		signals.async_wait([&context](const boost::system::error_code &, int) { context.stop(); });
		asio::co_spawn(context, Accept(acceptor, store, waiters), [&context](std::exception_ptr failure) {
			if (failure) {
				std::cerr << "mosta-test-mongod: the listener failed\n";
				context.stop();
			}
		});
		std::cout << "mosta-test-mongod listening on " << local.address().to_string() << ":" << local.port()
				  << std::endl;
		context.run();
		return 0;
	} catch (const std::exception &error) {
		std::cerr << "mosta-test-mongod: " << error.what() << "\n";
		return 1;
	}
}
