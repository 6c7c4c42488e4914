// http_server_test.cpp: the routes without a socket (monitor/src/routes.hpp), and the server's event streams over
// loopback: a client that does not read is dropped once it is kMaxQueued events behind (http_server.hpp).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "http_server.hpp"
#include "routes.hpp"
#include "topology_fixture.hpp"

namespace mosta::monitor {
namespace {

using namespace std::chrono_literals;

Options
WithToken() {
	Options options;
	options.tree_path = "/run/tree.json";
	options.token = "s3cret";
	return options;
}

Request
Get(const std::string &target, const std::string &authorization = "") {
	Request request(http::verb::get, target, 11);
	if (!authorization.empty())
		request.set(http::field::authorization, authorization);
	return request;
}

TEST(MonitorRoutes, Authentication) {
	Options options = WithToken();
	MonitorState state(StateSettings{});
	RouteContext context{options, state, {}, {}};
	SteadyTime now{};
	EXPECT_EQ(Route(context, Get("/api/state"), "a", now, 0).response.result(), http::status::unauthorized);
	EXPECT_EQ(Route(context, Get("/api/state", "Bearer nope"), "a", now, 0).response.result(),
			  http::status::unauthorized);
	EXPECT_EQ(Route(context, Get("/api/state", "Bearer s3cret"), "a", now, 0).response.result(), http::status::ok);
	RouteResult root = Route(context, Get("/"), "a", now, 0);
	EXPECT_EQ(root.response.result(), http::status::see_other);
	EXPECT_EQ(root.response[http::field::location], "/login");
	EXPECT_TRUE(Route(context, Get("/events", "Bearer s3cret"), "a", now, 0).open_event_stream);
	EXPECT_FALSE(Route(context, Get("/events"), "a", now, 0).open_event_stream);
	EXPECT_EQ(Route(context, Get("/login"), "a", now, 0).response.result(), http::status::ok);

	Request login(http::verb::post, "/login", 11);
	login.set(http::field::content_type, "application/x-www-form-urlencoded");
	login.body() = "token=s3cret";
	RouteResult logged_in = Route(context, login, "a", now, 0);
	EXPECT_EQ(logged_in.response.result(), http::status::see_other);
	std::string cookie(logged_in.response[http::field::set_cookie]);
	EXPECT_EQ(cookie.find("s3cret"), std::string::npos);
	Request with_cookie = Get("/api/state");
	with_cookie.set(http::field::cookie, cookie.substr(0, cookie.find(';')));
	EXPECT_EQ(Route(context, with_cookie, "a", now, 0).response.result(), http::status::ok);
	// an unknown method
	Request put(http::verb::put, "/api/state", 11);
	EXPECT_EQ(Route(context, put, "a", now, 0).response.result(), http::status::method_not_allowed);
}

TEST(MonitorRoutes, NoTokenOnLoopbackAllowsAll) {
	Options options;
	options.tree_path = "/run/tree.json";
	MonitorState state(StateSettings{});
	state.OnText(test::TreeV1(0, 100, true), test::kT0);
	RouteContext context{options, state, {}, {}};
	RouteResult page = Route(context, Get("/"), "a", SteadyTime{}, test::kT0);
	EXPECT_EQ(page.response.result(), http::status::ok);
	EXPECT_EQ(page.response["Content-Security-Policy"], kContentSecurityPolicy);
	EXPECT_EQ(Route(context, Get("/replica?project=app&replica=local&lag=50ms"), "a", SteadyTime{}, test::kT0)
				  .response.result(),
			  http::status::service_unavailable);
	EXPECT_EQ(Route(context, Get("/replica?project=app&replica=local&lag=1s"), "a", SteadyTime{}, test::kT0)
				  .response.result(),
			  http::status::ok);
	EXPECT_EQ(Route(context, Get("/replica?project=app&replica=local&lag=soon"), "a", SteadyTime{}, test::kT0)
				  .response.result(),
			  http::status::bad_request);
	EXPECT_EQ(Route(context, Get("/nothing-here"), "a", SteadyTime{}, test::kT0).response.result(),
			  http::status::not_found);
}

TEST(MonitorHttpServer, SlowEventClientIsDropped) {
	boost::asio::io_context context(1);
	Options options;
	options.tree_path = "/run/tree.json";
	options.port = 0;
	MonitorState state(StateSettings{});
	// a state of about 1 MB per event, so that the socket buffers fill after a few
	state.OnText(test::TreeV1(0, 100, true, 1, 1, "least-lag", std::string(1 << 20, 'x')), test::kT0);
	HttpServer server(context, options, state);
	boost::asio::ip::tcp::endpoint endpoint = server.Listen();
	server.Start();

	boost::asio::ip::tcp::socket client(context);
	client.open(endpoint.protocol());
	client.set_option(boost::asio::socket_base::receive_buffer_size(4096));
	client.connect(endpoint);
	std::string request = "GET /events HTTP/1.1\r\nHost: test\r\n\r\n";
	boost::asio::write(client, boost::asio::buffer(request));
	auto deadline = std::chrono::steady_clock::now() + 30s;
	while (server.Streams() == 0 && std::chrono::steady_clock::now() < deadline)
		context.run_for(10ms);
	ASSERT_EQ(server.Streams(), 1u);
	// the client reads nothing: each published state queues, until the stream is dropped
	std::size_t published = 0;
	for (; published < 4 * HttpServer::kMaxQueued && server.Streams() != 0; ++published) {
		server.PublishState();
		context.run_for(10ms);
	}
	EXPECT_EQ(server.Streams(), 0u);
	// dropped for being behind, not before: the queue filled first
	EXPECT_GT(published, HttpServer::kMaxQueued);
	server.Stop();
}

} // namespace
} // namespace mosta::monitor
