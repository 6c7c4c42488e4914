/*
 * dcs_client_test.cpp
 *     Unit tests for EtcdClient's choice of endpoint, against fake gateways in the test (each an Asio acceptor on
 *     loopback answering canned HTTP): an endpoint answering "no leader" (503) or staying silent is skipped for
 *     the next, the one that answered is tried first afterwards, etcd's refusal (lease not found) is a DcsError
 *     at once, every endpoint failing is a DcsUnavailable naming each, one kept connection serves sequential
 *     calls, and overlapping calls both get their answer. The same client against a real etcd:
 *     test/integration/dcs_client.sh.
 */
#include "dcs/etcd_client.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "dcs/etcd_wire.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace dcs = mosta::sidecar::dcs;
using asio::ip::tcp;

// A canned answer: HTTP status and body; nullopt: say nothing (a silent member).
using Reply = std::optional<std::pair<unsigned, std::string>>;

// FakeGateway listens on a free loopback port and answers each request with handler(path, body).
class FakeGateway {
  public:
	FakeGateway(asio::io_context &context, std::function<Reply(const std::string &, const std::string &)> handler)
		: acceptor_(context, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), handler_(std::move(handler)) {
		asio::co_spawn(context, Accept(), asio::detached);
	}

	std::string
	HostPort() const {
		return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
	}

	int requests = 0;
	int connections = 0;

  private:
	asio::awaitable<void>
	Accept() {
		for (;;) {
			auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
			if (error)
				co_return;
			++connections;
			asio::co_spawn(acceptor_.get_executor(), Serve(std::move(socket)), asio::detached);
		}
	}

	asio::awaitable<void>
	Serve(tcp::socket socket) {
		boost::beast::flat_buffer buffer;
		for (;;) {
			http::request<http::string_body> request;
			auto [error, read] =
				co_await http::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
			if (error)
				co_return;
			++requests;
			Reply reply = handler_(std::string(request.target()), request.body());
			if (!reply) {
				// silent: hold the connection until the client gives up on it
				char byte;
				co_await socket.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
				co_return;
			}
			http::response<http::string_body> response{static_cast<http::status>(reply->first), 11};
			response.set(http::field::content_type, "application/json");
			response.keep_alive(true);
			response.body() = reply->second;
			response.prepare_payload();
			co_await http::async_write(socket, response, asio::as_tuple(asio::use_awaitable));
		}
	}

	tcp::acceptor acceptor_;
	std::function<Reply(const std::string &, const std::string &)> handler_;
};

const std::string kRangeAnswer = R"({"header":{"revision":"5"},"kvs":[{"key":")" + dcs::wire::Base64Encode("/m/k") +
								 R"(","value":")" + dcs::wire::Base64Encode("v") +
								 R"(","create_revision":"5","mod_revision":"5","version":"1"}],"count":"1"})";
const Reply kNoLeader{{503, R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})"}};

Reply
Answers(const std::string &, const std::string &) {
	return Reply{{200, kRangeAnswer}};
}

dcs::DcsUrl
UrlOf(const std::vector<const FakeGateway *> &gateways) {
	std::string text = "etcd://";
	for (std::size_t i = 0; i < gateways.size(); ++i)
		text += (i > 0 ? "," : "") + gateways[i]->HostPort();
	return dcs::ParseDcsUrl(text + "/m");
}

// RunToEnd runs work on context to its end and returns its result (rethrowing its error).
template <typename T>
T
RunToEnd(asio::io_context &context, asio::awaitable<T> work) {
	std::optional<T> result;
	std::exception_ptr error;
	asio::co_spawn(context, std::move(work), [&](std::exception_ptr e, T value) {
		error = e;
		if (!e)
			result.emplace(std::move(value));
		context.stop();
	});
	context.restart();
	context.run();
	if (error)
		std::rethrow_exception(error);
	return std::move(*result);
}

TEST(DcsClient, SkipsAMemberWithoutLeaderAndRemembersTheOneThatAnswered) {
	asio::io_context context;
	FakeGateway no_leader(context, [](const std::string &, const std::string &) { return kNoLeader; });
	FakeGateway healthy(context, Answers);
	dcs::EtcdClient client(context.get_executor(), UrlOf({&no_leader, &healthy}), std::chrono::milliseconds(2'000));
	std::optional<dcs::KeyValue> kv = RunToEnd(context, client.Get("/m/k"));
	ASSERT_TRUE(kv);
	EXPECT_EQ(kv->value, "v");
	EXPECT_EQ(client.Endpoint(), healthy.HostPort());
	RunToEnd(context, client.Get("/m/k"));
	EXPECT_EQ(no_leader.requests, 1); // the second call went to the member that answered
	EXPECT_EQ(healthy.requests, 2);
	EXPECT_EQ(healthy.connections, 1); // over the kept connection
}

TEST(DcsClient, EtcdsRefusalIsADcsErrorAtOnce) {
	asio::io_context context;
	FakeGateway refuses(context, [](const std::string &path, const std::string &) {
		EXPECT_EQ(path, "/v3/kv/put");
		return Reply{{404, R"({"error":"etcdserver: requested lease not found",)"
						   R"("message":"etcdserver: requested lease not found","code":5})"}};
	});
	FakeGateway other(context, Answers);
	dcs::EtcdClient client(context.get_executor(), UrlOf({&refuses, &other}));
	try {
		RunToEnd(context, [&]() -> asio::awaitable<int> {
			co_await client.Put("/m/k", "v", 42);
			co_return 0;
		}());
		FAIL() << "no DcsError";
	} catch (const dcs::DcsError &error) {
		EXPECT_NE(std::string(error.what()).find("requested lease not found"), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("/m/k"), std::string::npos) << error.what();
	}
	EXPECT_EQ(other.requests, 0);
}

TEST(DcsClient, KeepAliveOfAGoneLeaseIsNotAlive) {
	asio::io_context context;
	FakeGateway gateway(context, [](const std::string &path, const std::string &) {
		EXPECT_EQ(path, "/v3/lease/keepalive");
		return Reply{{200, R"({"result":{"header":{"revision":"4"},"ID":"29"}})"}};
	});
	dcs::EtcdClient client(context.get_executor(), UrlOf({&gateway}));
	EXPECT_FALSE(RunToEnd(context, client.KeepAlive(29)).alive);
}

TEST(DcsClient, EveryMemberFailingIsDcsUnavailableNamingEach) {
	asio::io_context context;
	FakeGateway silent(context, [](const std::string &, const std::string &) { return Reply{}; });
	FakeGateway no_leader(context, [](const std::string &, const std::string &) { return kNoLeader; });
	dcs::DcsUrl url = UrlOf({&silent, &no_leader});
	url.endpoints.push_back(dcs::DcsEndpoint{"127.0.0.1", "1"}); // nothing listens on port 1
	dcs::EtcdClient client(context.get_executor(), url, std::chrono::milliseconds(200));
	try {
		RunToEnd(context, client.Get("/m/k"));
		FAIL() << "no DcsUnavailable";
	} catch (const dcs::DcsUnavailable &error) {
		std::string text = error.what();
		EXPECT_NE(text.find(silent.HostPort() + ": no answer within 200 ms"), std::string::npos) << text;
		EXPECT_NE(text.find(no_leader.HostPort() + ": etcdserver: no leader"), std::string::npos) << text;
		EXPECT_NE(text.find("127.0.0.1:1: cannot connect"), std::string::npos) << text;
	}
	EXPECT_EQ(client.Endpoint(), "");
}

TEST(DcsClient, OverlappingCallsBothAnswered) {
	asio::io_context context;
	FakeGateway gateway(context, Answers);
	dcs::EtcdClient client(context.get_executor(), UrlOf({&gateway}));
	int answered = 0;
	for (int i = 0; i < 2; ++i)
		asio::co_spawn(context, client.Get("/m/k"), [&](std::exception_ptr error, std::optional<dcs::KeyValue> kv) {
			EXPECT_FALSE(error);
			EXPECT_TRUE(kv);
			if (++answered == 2)
				context.stop();
		});
	context.run();
	EXPECT_EQ(answered, 2);
	EXPECT_EQ(gateway.requests, 2);
	EXPECT_EQ(gateway.connections, 2); // the second call found the kept connection in use
}

} // namespace
