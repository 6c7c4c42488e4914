/*
 * http_server.cpp
 *     The HTTP server and its event streams (see http_server.hpp).
 */
#include "http_server.hpp"

#include <deque>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "log.hpp"

namespace mosta::monitor {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// One event stream: its socket, its queue of events to send and the timer that wakes its writer.
struct HttpServer::Stream {
	explicit Stream(beast::tcp_stream s) : socket(std::move(s)), wake(socket.get_executor()) {}
	beast::tcp_stream socket;
	asio::steady_timer wake;
	std::deque<std::shared_ptr<const std::string>> queue;
	bool dropped = false;
};

namespace {

// StateEvent returns the SSE message carrying state (one line of JSON: the writer escapes every line end).
std::shared_ptr<const std::string>
StateEvent(const std::string &state) {
	return std::make_shared<const std::string>("event: state\ndata: " + state + "\n\n");
}

// kEventStreamHeader starts an event stream; the stream ends when the connection closes.
constexpr std::string_view kEventStreamHeader = "HTTP/1.1 200 OK\r\n"
												"Server: mosta-monitor\r\n"
												"Content-Type: text/event-stream\r\n"
												"Cache-Control: no-store\r\n"
												"X-Content-Type-Options: nosniff\r\n"
												"X-Accel-Buffering: no\r\n"
												"Connection: close\r\n"
												"\r\n";

} // namespace

HttpServer::HttpServer(asio::io_context &context, const Options &options, MonitorState &state)
	: context_(context), routes_{options, state, {}, {}}, acceptor_(context) {}

HttpServer::~HttpServer() {
	Stop();
}

tcp::endpoint
HttpServer::Listen() {
	asio::ip::address address = routes_.options.bind == "localhost" ? asio::ip::make_address("127.0.0.1")
																	: asio::ip::make_address(routes_.options.bind);
	tcp::endpoint endpoint(address, routes_.options.port);
	acceptor_.open(endpoint.protocol());
	acceptor_.set_option(tcp::acceptor::reuse_address(true));
	acceptor_.bind(endpoint);
	acceptor_.listen(asio::socket_base::max_listen_connections);
	return acceptor_.local_endpoint();
}

void
HttpServer::Start() {
	asio::co_spawn(context_, Accept(), [](std::exception_ptr error) {
		if (!error)
			return;
		try {
			std::rethrow_exception(error);
		} catch (const std::exception &e) {
			MonitorLog(std::string("the listener stopped: ") + e.what());
		}
	});
}

void
HttpServer::Stop() {
	boost::system::error_code ignored;
	acceptor_.close(ignored);
	for (const std::shared_ptr<Stream> &stream : streams_) {
		stream->dropped = true;
		stream->socket.socket().close(ignored);
		stream->wake.cancel();
	}
}

std::size_t
HttpServer::Streams() const noexcept {
	return streams_.size();
}

void
HttpServer::PublishState() {
	if (streams_.empty())
		return;
	std::shared_ptr<const std::string> event = StateEvent(routes_.state.StateJson(NowUnix()));
	for (const std::shared_ptr<Stream> &stream : streams_) {
		if (stream->dropped)
			continue;
		if (stream->queue.size() >= kMaxQueued) {
			// too slow: close it rather than queue without bound; its writer ends on the closed socket
			stream->dropped = true;
			stream->queue.clear();
			boost::system::error_code ignored;
			stream->socket.socket().close(ignored);
		} else {
			stream->queue.push_back(event);
		}
		stream->wake.cancel();
	}
}

asio::awaitable<void>
HttpServer::Accept() {
	for (;;) {
		auto [error, socket] = co_await acceptor_.async_accept(kNoThrow);
		if (error == asio::error::operation_aborted || !acceptor_.is_open())
			co_return;
		if (error) {
			// EMFILE and the like: wait a little rather than spin
			MonitorLog("accept: " + error.message());
			asio::steady_timer pause(context_, std::chrono::milliseconds(100));
			co_await pause.async_wait(kNoThrow);
			continue;
		}
		if (connections_ >= kMaxConnections) {
			boost::system::error_code ignored;
			socket.close(ignored);
			continue;
		}
		++connections_;
		asio::co_spawn(context_, Serve(std::move(socket)), [this](std::exception_ptr failure) {
			--connections_;
			if (!failure)
				return;
			try {
				std::rethrow_exception(failure);
			} catch (const std::exception &e) {
				MonitorLog(std::string("connection ended on an error: ") + e.what());
			}
		});
	}
}

asio::awaitable<void>
HttpServer::Serve(tcp::socket socket) {
	boost::system::error_code endpoint_error;
	tcp::endpoint remote = socket.remote_endpoint(endpoint_error);
	std::string address = endpoint_error ? std::string("unknown") : remote.address().to_string();
	beast::tcp_stream stream(std::move(socket));
	beast::flat_buffer buffer;
	for (;;) {
		http::request_parser<http::string_body> parser;
		parser.header_limit(kMaxRequestBytes);
		parser.body_limit(kMaxRequestBytes);
		stream.expires_after(kIoTimeout);
		auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, kNoThrow);
		if (read_error == http::error::end_of_stream || read_error == asio::error::eof ||
			read_error == beast::error::timeout || read_error == asio::error::connection_reset)
			co_return;
		if (read_error) {
			// a malformed or oversized request: say so and close
			Response response(read_error == http::error::body_limit || read_error == http::error::header_limit
								  ? http::status::payload_too_large
								  : http::status::bad_request,
							  11);
			response.set(http::field::content_type, "text/plain; charset=utf-8");
			response.body() = "bad request\n";
			response.keep_alive(false);
			response.prepare_payload();
			stream.expires_after(kIoTimeout);
			co_await http::async_write(stream, response, kNoThrow);
			co_return;
		}
		Request request = parser.release();
		RouteResult result = Route(routes_, request, address, std::chrono::steady_clock::now(), NowUnix());
		if (result.open_event_stream) {
			auto events = std::make_shared<Stream>(std::move(stream));
			co_await StreamEvents(events);
			co_return;
		}
		stream.expires_after(kIoTimeout);
		auto [write_error, written] = co_await http::async_write(stream, result.response, kNoThrow);
		if (write_error || !result.response.keep_alive())
			break;
	}
	boost::system::error_code ignored;
	stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void>
HttpServer::StreamEvents(std::shared_ptr<Stream> stream) {
	streams_.insert(stream);
	stream->queue.push_back(StateEvent(routes_.state.StateJson(NowUnix())));
	stream->socket.expires_after(kIoTimeout);
	auto [header_error, header_bytes] =
		co_await asio::async_write(stream->socket, asio::buffer(kEventStreamHeader), kNoThrow);
	bool open = !header_error;
	static const std::string keepalive = ": keepalive\n\n";
	while (open && !stream->dropped) {
		while (open && !stream->queue.empty()) {
			std::shared_ptr<const std::string> event = stream->queue.front();
			stream->queue.pop_front();
			stream->socket.expires_after(kIoTimeout);
			auto [error, bytes] = co_await asio::async_write(stream->socket, asio::buffer(*event), kNoThrow);
			open = !error;
		}
		if (!open || stream->dropped)
			break;
		stream->wake.expires_after(kKeepalive);
		auto [wait_error] = co_await stream->wake.async_wait(kNoThrow);
		if (!wait_error && stream->queue.empty() && !stream->dropped) {
			stream->socket.expires_after(kIoTimeout);
			auto [error, bytes] = co_await asio::async_write(stream->socket, asio::buffer(keepalive), kNoThrow);
			open = !error;
		}
	}
	streams_.erase(stream);
	boost::system::error_code ignored;
	stream->socket.socket().close(ignored);
}

} // namespace mosta::monitor
