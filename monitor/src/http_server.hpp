/*
 * http_server.hpp
 *     HttpServer: the monitor's HTTP/1.1 server on Boost.Beast, one coroutine per connection on one io_context
 *     thread. Requests go to Route (routes.hpp); /events becomes a Server-Sent Events stream: the state at once,
 *     then each published state, and ": keepalive" every 15 s. Each stream has a bounded queue: a client that
 *     falls kMaxQueued events behind is dropped (it reconnects and gets the current state), so a slow client
 *     never holds memory or slows the others.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "routes.hpp"

namespace mosta::monitor {

class HttpServer {
  public:
	static constexpr std::size_t kMaxQueued = 8;			   // events queued per stream before it is dropped
	static constexpr std::chrono::seconds kKeepalive{15};	   // ": keepalive" this often on an idle stream
	static constexpr std::chrono::seconds kIoTimeout{30};	   // a read or write that takes longer closes
	static constexpr std::size_t kMaxConnections = 1024;	   // more are closed at once
	static constexpr std::size_t kMaxRequestBytes = 16 * 1024; // headers, and the body of POST /login

	HttpServer(boost::asio::io_context &context, const Options &options, MonitorState &state);
	~HttpServer();
	HttpServer(const HttpServer &) = delete;
	HttpServer &operator=(const HttpServer &) = delete;

	// Listen binds and listens on the options' address and port, returning the endpoint (the port picked for
	// --port 0); throws boost::system::system_error.
	boost::asio::ip::tcp::endpoint Listen();

	// Start accepts connections (after Listen).
	void Start();

	// Stop closes the listener and every event stream.
	void Stop();

	// PublishState sends the current state to every event stream.
	void PublishState();

	// Streams returns how many event streams are open.
	std::size_t Streams() const noexcept;

  private:
	struct Stream;

	boost::asio::awaitable<void> Accept();
	boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);
	boost::asio::awaitable<void> StreamEvents(std::shared_ptr<Stream> stream);

	boost::asio::io_context &context_;
	RouteContext routes_;
	boost::asio::ip::tcp::acceptor acceptor_;
	std::set<std::shared_ptr<Stream>> streams_;
	std::size_t connections_ = 0;
};

} // namespace mosta::monitor
