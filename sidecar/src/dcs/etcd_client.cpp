/*
 * etcd_client.cpp
 *     EtcdClient over etcd's JSON gateway (see etcd_client.hpp): one persistent HTTP/1.1 connection per endpoint,
 *     each request bounded by request_timeout on that endpoint (Beast's stream deadline: connect, write and read
 *     all stop at it), the endpoints tried in turn from the one that answered last. The JSON is etcd_wire's.
 *
 *     A write whose answer was lost (a timeout, a member dying after applying it) is sent again to the next
 *     endpoint: a Put or Delete is idempotent; a Create or compare-and-swap may then find its own earlier write and
 *     answer false, which callers handle by reading the key (the agent's CompareAndPut on value == self).
 */
#include "dcs/etcd_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "dcs/etcd_wire.hpp"
#include "util/with_timeout.hpp"

namespace mosta::sidecar::dcs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kGrpcNotFound = 5;

// TransportError is an endpoint that could not be reached or did not answer (its text names the step).
class TransportError : public std::runtime_error {
  public:
	TransportError(const std::string &step, const boost::system::error_code &error)
		: std::runtime_error(step + ": " + error.message()), timeout(error == beast::error::timeout) {}
	bool timeout;
};

// One endpoint and its connection (none until first used, none again after an error).
struct EndpointState {
	DcsEndpoint endpoint;
	std::string host_port; // "host:port", as Endpoint() and the errors name it
	std::optional<beast::tcp_stream> stream;
	bool busy = false; // a call is using stream (calls of two coroutines may overlap)
};

// Busy marks an endpoint's kept connection in use for one exchange.
class Busy {
  public:
	explicit Busy(EndpointState &state) : state_(state) {
		state_.busy = true;
	}
	~Busy() {
		state_.busy = false;
	}
	Busy(const Busy &) = delete;
	Busy &operator=(const Busy &) = delete;

  private:
	EndpointState &state_;
};

struct HttpReply {
	unsigned status = 0;
	std::string body;
};

// An answer from etcd that is not "ask another member": a result, or etcd's refusal.
struct Answer {
	std::string body;
	std::optional<wire::ErrorReply> error;
	std::string endpoint;
};

std::string
HostPort(const DcsEndpoint &endpoint) {
	bool v6 = endpoint.host.find(':') != std::string::npos;
	return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + endpoint.port;
}

asio::awaitable<void>
Connect(EndpointState &state, Clock::time_point deadline) {
	auto executor = co_await asio::this_coro::executor;
	beast::tcp_stream stream(executor);
	stream.expires_at(deadline);
	boost::system::error_code parse_error;
	asio::ip::address address = asio::ip::make_address(state.endpoint.host, parse_error);
	boost::system::error_code error;
	if (!parse_error) {
		asio::ip::tcp::endpoint target(address, static_cast<unsigned short>(std::stoi(state.endpoint.port)));
		std::tie(error) = co_await stream.async_connect(target, asio::as_tuple(asio::use_awaitable));
	} else {
		// a host name: the resolver is not bounded by the deadline (getaddrinfo runs on Asio's own thread)
		asio::ip::tcp::resolver resolver(executor);
		auto [resolve_error, results] = co_await resolver.async_resolve(state.endpoint.host, state.endpoint.port,
																		asio::as_tuple(asio::use_awaitable));
		if (resolve_error)
			throw TransportError("cannot resolve " + state.endpoint.host, resolve_error);
		std::tie(error, std::ignore) = co_await stream.async_connect(results, asio::as_tuple(asio::use_awaitable));
	}
	if (error)
		throw TransportError("cannot connect", error);
	state.stream.emplace(std::move(stream));
}

// Exchange posts body to path on state's endpoint before deadline. A kept connection the server closed while
// idle fails at once (write error, or end of stream before any answer): the request is then sent again once on
// a new connection.
asio::awaitable<HttpReply>
Exchange(EndpointState &state, const std::string &path, const std::string &body, Clock::time_point deadline) {
	for (int attempt = 0;; ++attempt) {
		bool reused = state.stream.has_value();
		if (!reused)
			co_await Connect(state, deadline);
		http::request<http::string_body> request{http::verb::post, path, 11};
		request.set(http::field::host, state.host_port);
		request.set(http::field::content_type, "application/json");
		request.keep_alive(true);
		request.body() = body;
		request.prepare_payload();
		state.stream->expires_at(deadline);
		auto [write_error, written] =
			co_await http::async_write(*state.stream, request, asio::as_tuple(asio::use_awaitable));
		boost::system::error_code error = write_error;
		beast::flat_buffer buffer;
		http::response<http::string_body> response;
		if (!error)
			std::tie(error, std::ignore) =
				co_await http::async_read(*state.stream, buffer, response, asio::as_tuple(asio::use_awaitable));
		if (error) {
			state.stream.reset();
			bool stale = reused && attempt == 0 && error != beast::error::timeout &&
						 (write_error || error == http::error::end_of_stream || error == asio::error::connection_reset);
			if (stale)
				continue;
			throw TransportError(write_error ? "cannot send" : "no answer", error);
		}
		if (!response.keep_alive())
			state.stream.reset();
		co_return HttpReply{response.result_int(), std::move(response.body())};
	}
}

std::string
Excerpt(const std::string &body) {
	constexpr std::size_t kMax = 200;
	return body.size() <= kMax ? body : body.substr(0, kMax) + "...";
}

} // namespace

struct EtcdClient::Impl {
	asio::any_io_executor executor;
	DcsUrl url;
	std::chrono::milliseconds request_timeout;
	std::vector<EndpointState> endpoints;
	std::size_t current = 0;
	bool answered = false;

	// Call posts body to path on the endpoints in turn until one answers (a result or a refusal that is not
	// "ask another member"); throws DcsUnavailable naming each endpoint's failure when none does.
	asio::awaitable<Answer> Call(const std::string &path, const std::string &body, const std::string &what);

	// Result returns answer's body, or throws DcsError with etcd's message about what.
	static std::string
	Result(Answer answer, const std::string &what) {
		if (answer.error)
			throw DcsError("etcd " + answer.endpoint + " refused " + what + ": " + answer.error->message +
						   " (gRPC code " + std::to_string(answer.error->code) + ")");
		return std::move(answer.body);
	}
};

asio::awaitable<Answer>
EtcdClient::Impl::Call(const std::string &path, const std::string &body, const std::string &what) {
	std::string failures;
	for (std::size_t i = 0; i < endpoints.size(); ++i) {
		std::size_t index = (current + i) % endpoints.size();
		EndpointState &kept = endpoints[index];
		// an overlapping call (another coroutine's, on the same strand) gets a connection of its own, not kept
		std::optional<EndpointState> spare;
		if (kept.busy)
			spare.emplace(EndpointState{kept.endpoint, kept.host_port, std::nullopt, false});
		EndpointState &state = spare ? *spare : kept;
		Busy busy(state);
		std::string failure;
		try {
			HttpReply reply = co_await Exchange(state, path, body, Clock::now() + request_timeout);
			std::optional<wire::ErrorReply> error;
			if (reply.status != 200 || reply.body.rfind("{\"error\"", 0) == 0) {
				try {
					error = wire::ParseError(reply.body);
				} catch (const DcsError &) {
					if (reply.status < 500)
						throw;
					error = wire::ErrorReply{0, "HTTP " + std::to_string(reply.status) + ": " + Excerpt(reply.body)};
				}
				if (!error)
					error = wire::ErrorReply{0, "HTTP " + std::to_string(reply.status) + ": " + Excerpt(reply.body)};
			}
			if (!wire::Retryable(reply.status, error)) {
				current = index;
				answered = true;
				co_return Answer{std::move(reply.body), std::move(error), state.host_port};
			}
			failure = error->message;
		} catch (const TransportError &e) {
			state.stream.reset();
			failure = e.timeout ? "no answer within " + DurationText(request_timeout) : std::string(e.what());
		}
		failures += (failures.empty() ? "" : "; ") + state.host_port + ": " + failure;
	}
	throw DcsUnavailable("no etcd endpoint of " + url.Text() + " answered " + what + " (" + failures + ")");
}

EtcdClient::EtcdClient(boost::asio::any_io_executor executor, DcsUrl url, std::chrono::milliseconds request_timeout)
	: impl_(std::make_unique<Impl>(Impl{std::move(executor), std::move(url), request_timeout, {}, 0, false})) {
	for (const DcsEndpoint &endpoint : impl_->url.endpoints)
		impl_->endpoints.push_back(EndpointState{endpoint, HostPort(endpoint), std::nullopt, false});
}

EtcdClient::~EtcdClient() = default;

std::string
EtcdClient::Key(const std::string &relative) const {
	return impl_->url.prefix + "/" + relative;
}

const DcsUrl &
EtcdClient::Url() const {
	return impl_->url;
}

std::string
EtcdClient::Endpoint() const {
	return impl_->answered ? impl_->endpoints[impl_->current].host_port : std::string();
}

asio::awaitable<std::pair<std::int64_t, std::int64_t>>
EtcdClient::GrantLease(std::chrono::seconds ttl) {
	std::string what = "a lease grant of " + std::to_string(ttl.count()) + " s";
	Answer answer =
		co_await impl_->Call("/v3/lease/grant", wire::LeaseGrantRequest(std::max<std::int64_t>(ttl.count(), 1)), what);
	co_return wire::ParseLeaseGrant(Impl::Result(std::move(answer), what));
}

asio::awaitable<LeaseState>
EtcdClient::KeepAlive(std::int64_t lease) {
	std::string what = "a keep-alive of lease " + std::to_string(lease);
	Answer answer = co_await impl_->Call("/v3/lease/keepalive", wire::LeaseIdRequest(lease), what);
	if (answer.error && answer.error->code == kGrpcNotFound)
		co_return LeaseState{};
	co_return wire::ParseKeepAlive(Impl::Result(std::move(answer), what));
}

asio::awaitable<std::optional<std::int64_t>>
EtcdClient::TimeToLive(std::int64_t lease) {
	std::string what = "the time to live of lease " + std::to_string(lease);
	Answer answer = co_await impl_->Call("/v3/lease/timetolive", wire::LeaseIdRequest(lease), what);
	if (answer.error && answer.error->code == kGrpcNotFound)
		co_return std::nullopt;
	co_return wire::ParseTimeToLive(Impl::Result(std::move(answer), what));
}

asio::awaitable<void>
EtcdClient::Revoke(std::int64_t lease) {
	std::string what = "the revocation of lease " + std::to_string(lease);
	Answer answer = co_await impl_->Call("/v3/lease/revoke", wire::LeaseIdRequest(lease), what);
	if (answer.error && answer.error->code == kGrpcNotFound)
		co_return;
	Impl::Result(std::move(answer), what);
}

asio::awaitable<std::optional<KeyValue>>
EtcdClient::Get(const std::string &key) {
	std::string what = "a read of " + key;
	Answer answer = co_await impl_->Call("/v3/kv/range", wire::RangeRequest(key), what);
	std::vector<KeyValue> kvs = wire::ParseRange(Impl::Result(std::move(answer), what));
	if (kvs.empty())
		co_return std::nullopt;
	co_return std::move(kvs.front());
}

asio::awaitable<std::vector<KeyValue>>
EtcdClient::GetPrefix(const std::string &prefix) {
	std::string what = "a read of " + prefix + "*";
	Answer answer = co_await impl_->Call("/v3/kv/range", wire::RangeRequest(prefix, wire::PrefixEnd(prefix)), what);
	co_return wire::ParseRange(Impl::Result(std::move(answer), what));
}

asio::awaitable<void>
EtcdClient::Put(const std::string &key, const std::string &value, std::int64_t lease) {
	std::string what = "a put of " + key + (lease != 0 ? " with lease " + std::to_string(lease) : std::string());
	Answer answer = co_await impl_->Call("/v3/kv/put", wire::PutRequest(key, value, lease), what);
	Impl::Result(std::move(answer), what);
}

asio::awaitable<void>
EtcdClient::Delete(const std::string &key) {
	std::string what = "a delete of " + key;
	Answer answer = co_await impl_->Call("/v3/kv/deleterange", wire::DeleteRangeRequest(key), what);
	Impl::Result(std::move(answer), what);
}

asio::awaitable<bool>
EtcdClient::Txn(const std::vector<Compare> &compares, const std::vector<Operation> &success,
				const std::vector<Operation> &failure) {
	std::string what = "a transaction on";
	for (const Compare &compare : compares)
		what += " " + compare.key;
	for (const Operation &operation : success)
		what += " " + operation.key;
	Answer answer = co_await impl_->Call("/v3/kv/txn", wire::TxnRequest(compares, success, failure), what);
	co_return wire::ParseTxn(Impl::Result(std::move(answer), what));
}

// (the vectors are locals: GCC 12 cannot build an initializer list inside a co_await expression)

asio::awaitable<bool>
EtcdClient::Create(const std::string &key, const std::string &value, std::int64_t lease) {
	std::vector<Compare> absent{Compare{key, Compare::Target::CreateRevision, {}, 0}};
	std::vector<Operation> put{Operation{Operation::Kind::Put, key, value, lease}};
	co_return co_await Txn(absent, put);
}

asio::awaitable<bool>
EtcdClient::CompareAndPut(const std::string &key, const std::string &expected, const std::string &value,
						  std::int64_t lease) {
	std::vector<Compare> holds{Compare{key, Compare::Target::Value, expected, 0}};
	std::vector<Operation> put{Operation{Operation::Kind::Put, key, value, lease}};
	co_return co_await Txn(holds, put);
}

asio::awaitable<bool>
EtcdClient::CompareAndDelete(const std::string &key, const std::string &expected) {
	std::vector<Compare> holds{Compare{key, Compare::Target::Value, expected, 0}};
	std::vector<Operation> remove{Operation{Operation::Kind::Delete, key, {}, 0}};
	co_return co_await Txn(holds, remove);
}

} // namespace mosta::sidecar::dcs
