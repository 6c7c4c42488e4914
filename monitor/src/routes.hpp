/*
 * routes.hpp
 *     What each request gets (docs/monitor.md "Endpoints"): authentication (bearer token or session cookie),
 *     login and logout, the pages, /api/state, /metrics and the health checks. No socket here: the server
 *     (http_server.hpp) reads a request, calls Route, and writes the answer, or opens an event stream when Route
 *     says so. Route never throws: an exception becomes a 500, logged without the request's headers.
 */
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "auth.hpp"
#include "options.hpp"
#include "state.hpp"

namespace mosta::monitor {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// kContentSecurityPolicy is the dashboard's and login page's Content-Security-Policy.
inline constexpr const char *kContentSecurityPolicy =
	"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
	"connect-src 'self'; frame-ancestors 'none'";

// What the routes share: options, state, sessions, the login limiter and the round-robin counter of /route.
struct RouteContext {
	const Options &options;
	MonitorState &state;
	Sessions sessions;
	LoginLimiter limiter;
	std::uint64_t round_robin = 0;
	std::mt19937_64 random{std::random_device{}()};
};

// What Route decided.
struct RouteResult {
	Response response;
	bool open_event_stream = false; // /events, authenticated: the server streams instead of writing response
};

// Route answers request from the client at remote_address at the given times.
RouteResult Route(RouteContext &context, const Request &request, const std::string &remote_address,
				  SteadyTime steady_now, double now) noexcept;

// LoginPage returns the login page with message (plain text, escaped here) where the page holds the marker
// "<!-- mosta:message -->" (else right after <body>); no message: the page as embedded.
std::string LoginPage(const std::string &message);

} // namespace mosta::monitor
