/*
 * routes.cpp
 *     Request routing (see routes.hpp).
 */
#include "routes.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "health.hpp"
#include "json_writer.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "web_assets.hpp"

namespace mosta::monitor {

namespace {

// Answer builds a response with the headers every answer carries.
Response
Answer(const Request &request, http::status status, std::string content_type, std::string body) {
	Response response(status, request.version());
	response.set(http::field::server, "mosta-monitor");
	response.set(http::field::content_type, content_type);
	response.set(http::field::cache_control, "no-store");
	response.set("X-Content-Type-Options", "nosniff");
	response.set("Referrer-Policy", "no-referrer");
	response.keep_alive(request.keep_alive());
	response.body() = std::move(body);
	response.prepare_payload();
	return response;
}

Response
Json(const Request &request, unsigned status, std::string body) {
	return Answer(request, static_cast<http::status>(status), "application/json", std::move(body) + "\n");
}

Response
Page(const Request &request, http::status status, std::string body) {
	Response response = Answer(request, status, "text/html; charset=utf-8", std::move(body));
	response.set("Content-Security-Policy", kContentSecurityPolicy);
	return response;
}

Response
Redirect(const Request &request, const char *location) {
	Response response = Answer(request, http::status::see_other, "text/plain; charset=utf-8", "");
	response.set(http::field::location, location);
	return response;
}

// Authenticated tells whether request carries the token (Bearer) or a live session cookie; always true without
// a token.
bool
Authenticated(RouteContext &context, const Request &request, SteadyTime steady_now) {
	if (context.options.token.empty())
		return true;
	if (auto header = request.find(http::field::authorization); header != request.end())
		if (std::optional<std::string_view> token = BearerToken(header->value()))
			if (ConstantTimeEquals(*token, context.options.token))
				return true;
	if (auto header = request.find(http::field::cookie); header != request.end())
		if (std::optional<std::string_view> id = CookieValue(header->value(), kSessionCookie))
			return context.sessions.Valid(*id, steady_now);
	return false;
}

// FormToken returns the token field of an x-www-form-urlencoded body.
std::string
FormToken(const std::string &body) {
	return QueryParameter(body, "token").value_or("");
}

Response
Login(RouteContext &context, const Request &request, const std::string &address, SteadyTime steady_now) {
	if (long long wait = context.limiter.RetryAfter(address, steady_now); wait > 0) {
		Response response = Page(request, http::status::too_many_requests,
								 LoginPage("Too many failed logins from your address: try again in a minute."));
		response.set(http::field::retry_after, std::to_string(wait));
		return response;
	}
	if (context.options.token.empty())
		return Redirect(request, "/");
	if (!ConstantTimeEquals(FormToken(request.body()), context.options.token)) {
		context.limiter.Fail(address, steady_now);
		return Page(request, http::status::unauthorized, LoginPage("Wrong token."));
	}
	std::string id = context.sessions.Create(steady_now);
	Response response = Redirect(request, "/");
	response.set(http::field::set_cookie,
				 std::string(kSessionCookie) + "=" + id + "; HttpOnly; SameSite=Strict; Path=/");
	return response;
}

Response
Logout(RouteContext &context, const Request &request) {
	if (auto header = request.find(http::field::cookie); header != request.end())
		if (std::optional<std::string_view> id = CookieValue(header->value(), kSessionCookie))
			context.sessions.Remove(*id);
	Response response = Redirect(request, "/login");
	response.set(http::field::set_cookie,
				 std::string(kSessionCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
	return response;
}

// Health answers /master, /replica and /route; query is the target's query string.
Response
Health(RouteContext &context, const Request &request, std::string_view path, std::string_view query, double now) {
	std::string project = QueryParameter(query, "project").value_or("");
	HealthAnswer answer;
	if (path == "/master") {
		answer = MasterHealth(context.state, project, QueryParameter(query, "replica").value_or(""), now);
	} else if (path == "/replica") {
		std::optional<std::chrono::milliseconds> max_lag;
		if (std::optional<std::string> lag = QueryParameter(query, "lag")) {
			try {
				max_lag = ParseMonitorDuration("lag", *lag);
			} catch (const OptionsError &e) {
				return Json(request, 400, "{\"error\":" + JsonString(e.what()) + "}");
			}
		}
		answer = ReplicaHealth(context.state, project, QueryParameter(query, "replica").value_or(""), max_lag, now);
	} else {
		answer = RouteHealth(context.state, project, context.round_robin, context.random, now);
	}
	return Json(request, answer.status, answer.body);
}

// Authorized answers the authenticated paths.
RouteResult
Authorized(RouteContext &context, const Request &request, std::string_view path, std::string_view query, double now) {
	if (path == "/") {
		const WebAsset *page = FindWebAsset("/dashboard.html");
		return {Page(request, http::status::ok, page ? std::string(page->body) : "dashboard missing"), false};
	}
	if (path == "/api/state")
		return {Json(request, 200, context.state.StateJson(now)), false};
	if (path == "/events")
		return {Answer(request, http::status::ok, "text/event-stream", ""), true};
	if (path == "/metrics")
		return {Answer(request, http::status::ok, kMetricsContentType, RenderMetrics(context.state, now)), false};
	if (path == "/master" || path == "/replica" || path == "/route")
		return {Health(context, request, path, query, now), false};
	if (const WebAsset *asset = FindWebAsset(path)) {
		Response response =
			Answer(request, http::status::ok, std::string(asset->content_type), std::string(asset->body));
		response.set("Content-Security-Policy", kContentSecurityPolicy);
		return {std::move(response), false};
	}
	return {Json(request, 404, "{\"error\":\"not found\"}"), false};
}

RouteResult
RouteImpl(RouteContext &context, const Request &request, const std::string &address, SteadyTime steady_now,
		  double now) {
	std::string_view target = request.target();
	std::size_t question = target.find('?');
	std::string_view path = target.substr(0, question);
	std::string_view query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
	bool get = request.method() == http::verb::get;
	bool post = request.method() == http::verb::post;
	if (path == "/login" && get)
		return {Page(request, http::status::ok, LoginPage("")), false};
	if (path == "/login" && post)
		return {Login(context, request, address, steady_now), false};
	if (path == "/favicon.ico" && get) {
		if (const WebAsset *icon = FindWebAsset(path))
			return {Answer(request, http::status::ok, std::string(icon->content_type), std::string(icon->body)), false};
		return {Answer(request, http::status::no_content, "image/x-icon", ""), false};
	}
	if (path == "/logout" && post)
		return {Logout(context, request), false};
	if (!get) {
		Response response = Json(request, 405, "{\"error\":\"method not allowed\"}");
		response.set(http::field::allow, path == "/login" ? "GET, POST" : path == "/logout" ? "POST" : "GET");
		return {std::move(response), false};
	}
	if (!Authenticated(context, request, steady_now)) {
		if (path == "/")
			return {Redirect(request, "/login"), false};
		Response response = Json(request, 401,
								 "{\"error\":\"authentication required: Authorization: Bearer TOKEN, "
								 "or log in at /login\"}");
		response.set(http::field::www_authenticate, "Bearer realm=\"mosta-monitor\"");
		return {std::move(response), false};
	}
	return Authorized(context, request, path, query, now);
}

// LogInternalError logs that answering target failed; the path only: no header, query string or body reaches
// the log.
void
LogInternalError(std::string_view target, const char *what) noexcept {
	try {
		MonitorLog("internal error answering " + std::string(target.substr(0, target.find('?'))) + ": " + what);
	} catch (...) {
		MonitorLog("internal error (and no memory to say more)");
	}
}

} // namespace

std::string
LoginPage(const std::string &message) {
	const WebAsset *page = FindWebAsset("/login.html");
	std::string html = page ? std::string(page->body) : std::string("<!DOCTYPE html><html><body></body></html>");
	if (message.empty())
		return html;
	std::string escaped;
	for (char c : message) {
		if (c == '<')
			escaped += "&lt;";
		else if (c == '>')
			escaped += "&gt;";
		else if (c == '&')
			escaped += "&amp;";
		else
			escaped.push_back(c);
	}
	std::string paragraph = "<p class=\"error\" role=\"alert\" data-testid=\"login-error\">" + escaped + "</p>";
	constexpr std::string_view kMarker = "<!-- mosta:message -->";
	if (std::size_t at = html.find(kMarker); at != std::string::npos)
		return html.replace(at, kMarker.size(), paragraph);
	std::size_t body = html.find("<body");
	std::size_t end = body == std::string::npos ? std::string::npos : html.find('>', body);
	return end == std::string::npos ? paragraph + html : html.insert(end + 1, paragraph);
}

RouteResult
Route(RouteContext &context, const Request &request, const std::string &remote_address, SteadyTime steady_now,
	  double now) noexcept {
	try {
		return RouteImpl(context, request, remote_address, steady_now, now);
	} catch (const std::exception &e) {
		LogInternalError(request.target(), e.what());
	} catch (...) {
		LogInternalError(request.target(), "an exception of unknown type");
	}
	try {
		return {Json(request, 500, "{\"error\":\"internal error (see the monitor's log)\"}"), false};
	} catch (...) {
		return {Response(http::status::internal_server_error, 11), false};
	}
}

} // namespace mosta::monitor
