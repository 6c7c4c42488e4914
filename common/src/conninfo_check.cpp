/*
 * conninfo_check.cpp
 *     CheckUri: decide whether a target URI is acceptable for its dialect, and say why not in PostgreSQL style.
 *
 * Regime: plain C++17, no PostgreSQL server header; libpq's client API (PQconninfoParse) is the authority on
 * PostgreSQL connection strings. Nothing throws except std::bad_alloc.
 * PostgreSQL versions assumed: libpq 15 to 17 (the message formats in libpq_formats).
 *
 * Invariant: a message never reveals more than MaskCredentials(uri) does. Every fragment of the input that a
 * message echoes (from libpq or from our own checks) goes through Target::Shown, which shows it only if its
 * masked form is already visible in the masked URI; otherwise it shows "***".
 */
#include "mosta/common/conninfo.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include <libpq-fe.h> // PQconninfoParse, PQconninfoFree, PQfreemem

#include "uri_text.hpp"

namespace mosta {

namespace {

using detail::HasAuthority;
using detail::IsAlnum;
using detail::IsBlank;
using detail::mask;
using detail::PercentDecode;
using detail::SchemeLength;

using Reason = std::optional<std::string>; // why a URI is rejected, or nullopt

constexpr size_t max_matched_message = 4096;
constexpr unsigned max_port = 65535;
constexpr std::string_view postgres_hint =
	"Use a URI such as \"postgresql://user@host:5432/dbname?sslmode=require\" or key=value pairs such as "
	"\"host=localhost port=5432 dbname=app user=app\".";
constexpr std::string_view mongodb_hint =
	"Use \"mongodb://[user[:password]@]host[:port][,host[:port]...][/[database][?options]]\" or "
	"\"mongodb+srv://[user[:password]@]host.example.com[/[database][?options]]\", with reserved characters in the "
	"user name and password percent-encoded.";
constexpr std::string_view sqlite_hint = "Use a file path such as \"data/app.db\", \":memory:\", a SQLite URI such as "
										 "\"file:app.db?mode=ro\", or \"sqlite:///absolute/path/app.db\".";
constexpr std::string_view sqldump_hint =
	"Use a file path such as \"/var/backups/app.sql\" or a URI such as \"file:///var/backups/app.sql\".";
constexpr std::string_view jsonl_hint = "Use a file or directory path such as \"/var/export/app.jsonl\" or "
										"\"/var/export/\", or a URI such as \"file:///var/export/app.jsonl\".";
// libpq 15-17 messages from PQconninfoParse; each %s or %c echoes input and is re-checked before it is shown.
constexpr std::array<std::string_view, 12> libpq_formats = {
	"missing \"=\" after \"%s\" in connection info string",
	"unterminated quoted string in connection info string",
	"invalid connection option \"%s\"",
	"invalid URI propagated to internal parser routine: \"%s\"",
	"end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"%s\"",
	"IPv6 host address may not be empty in URI: \"%s\"",
	"unexpected character \"%c\" at position %d in URI (expected \":\" or \"/\"): \"%s\"",
	"extra key/value separator \"=\" in URI query parameter: \"%s\"",
	"missing key/value separator \"=\" in URI query parameter: \"%s\"",
	"invalid URI query parameter: \"%s\"",
	"invalid percent-encoded token: \"%s\"",
	"forbidden value %00 in percent-encoded value: \"%s\"",
};

// Target is the URI being checked and its masked form, which is all a message may reveal.
struct Target {
	std::string_view uri;
	std::string masked;

	// Shown returns fragment masked, or "***" when that is not already visible in the masked URI.
	std::string
	Shown(std::string_view fragment) const {
		std::string shown = MaskCredentials(fragment);
		return masked.find(shown) == std::string::npos ? std::string(mask) : shown;
	}
};

// Quote returns text in double quotes, with NUL bytes spelled \0 so that C callers see the whole text.
std::string
Quote(std::string_view text) {
	std::string quoted = "\"";
	for (char c : text)
		quoted += c == '\0' ? std::string("\\0") : std::string(1, c);
	return quoted + "\"";
}

// OptionsDeleter frees a PQconninfoParse result.
struct OptionsDeleter {
	void
	operator()(PQconninfoOption *options) const noexcept {
		PQconninfoFree(options);
	}
};

// ErrorDeleter frees a libpq error message.
struct ErrorDeleter {
	void
	operator()(char *message) const noexcept {
		PQfreemem(message);
	}
};

// MatchFormat tells whether text matches a printf-style format, collecting what %s, %c and %d matched.
bool
MatchFormat(std::string_view format, std::string_view text, std::vector<std::string_view> &fragments) {
	if (format.empty())
		return text.empty();
	if (format.size() < 2 || format[0] != '%' || std::string_view("scd").find(format[1]) == std::string_view::npos)
		return !text.empty() && text[0] == format[0] && MatchFormat(format.substr(1), text.substr(1), fragments);
	size_t longest = format[1] == 'c' ? std::min<size_t>(1, text.size()) : text.size();
	for (size_t length = format[1] == 's' ? 0 : 1; length <= longest; length++) {
		if (format[1] == 'd' && !(text[length - 1] >= '0' && text[length - 1] <= '9'))
			return false;
		fragments.push_back(text.substr(0, length));
		if (MatchFormat(format.substr(2), text.substr(length), fragments))
			return true;
		fragments.pop_back();
	}
	return false;
}

// LibpqReason returns libpq's parse error with every echoed fragment re-checked against the masked URI.
std::string
LibpqReason(const Target &target, std::string_view message) {
	while (!message.empty() && IsBlank(message.back()))
		message.remove_suffix(1);
	for (std::string_view format : libpq_formats) {
		std::vector<std::string_view> fragments;
		if (message.size() > max_matched_message || !MatchFormat(format, message, fragments))
			continue;
		std::string reason;
		for (size_t i = 0, next = 0; i < format.size(); i++) {
			bool placeholder = format[i] == '%' && i + 1 < format.size() && format[i + 1] != '0';
			reason += placeholder ? (format[++i] == 'd' ? std::string(fragments[next]) : target.Shown(fragments[next]))
								  : std::string(1, format[i]);
			next += placeholder ? 1 : 0;
		}
		return reason;
	}
	// An unknown message may echo anything: keep only its text before the first quote.
	std::string_view prefix = message.substr(0, message.find_first_of("\"\n"));
	while (!prefix.empty() && IsBlank(prefix.back()))
		prefix.remove_suffix(1);
	return prefix.empty() ? "libpq cannot parse it" : std::string(prefix);
}

// PortReason returns why port is not an integer from 1 to 65535, or nullopt.
Reason
PortReason(const Target &target, std::string_view port) {
	unsigned value = 0;
	for (char c : port)
		value = (c >= '0' && c <= '9' && value <= max_port) ? value * 10 + (c - '0') : max_port + 1;
	if (port.empty() || value == 0 || value > max_port)
		return "invalid port " + Quote(target.Shown(port)) + " (must be 1 to 65535)";
	return std::nullopt;
}

// FirstReason returns the first reason check gives for an entry of a comma-separated list, or nullopt.
template <typename Check>
Reason
FirstReason(std::string_view list, Check check) {
	for (size_t begin = 0; begin <= list.size();) {
		size_t comma = std::min(list.find(',', begin), list.size());
		if (Reason reason = check(list.substr(begin, comma - begin)))
			return reason;
		begin = comma + 1;
	}
	return std::nullopt;
}

// UnsupportedScheme returns the reason for a "scheme://" URI of the wrong kind.
std::string
UnsupportedScheme(const Target &target) {
	return "unsupported scheme " + Quote(target.Shown(target.uri.substr(0, SchemeLength(target.uri))));
}

// CheckPostgresPorts checks every entry of the parsed "port" option: libpq's parser takes any text and only
// connecting fails ("invalid integer value"). An empty entry is valid (libpq uses the default port).
Reason
CheckPostgresPorts(const Target &target, const PQconninfoOption *options) {
	for (const PQconninfoOption *option = options; option->keyword; option++)
		if (option->val && std::string_view(option->keyword) == "port")
			return FirstReason(option->val, [&target](std::string_view port) {
				return port.empty() ? std::nullopt : PortReason(target, port);
			});
	return std::nullopt;
}

// CheckPostgres accepts what libpq's PQconninfoParse accepts, except URIs with other schemes and invalid ports.
Reason
CheckPostgres(const Target &target) {
	std::string_view uri = target.uri;
	while (IsBlank(uri.front()))
		uri.remove_prefix(1);
	size_t scheme = SchemeLength(uri);
	if (HasAuthority(uri) && uri.substr(0, scheme) != "postgresql" && uri.substr(0, scheme) != "postgres")
		return UnsupportedScheme(Target{uri, target.masked});

	std::string conninfo(target.uri);
	char *error = nullptr;
	std::unique_ptr<PQconninfoOption, OptionsDeleter> options(PQconninfoParse(conninfo.c_str(), &error));
	std::unique_ptr<char, ErrorDeleter> error_owner(error);
	if (options)
		return CheckPostgresPorts(target, options.get());
	return error ? LibpqReason(target, error) : std::string("out of memory");
}

// CheckUserinfo checks the user[:password] part of a MongoDB URI.
Reason
CheckUserinfo(std::string_view userinfo) {
	constexpr std::string_view reserved = ":/?#[]@";
	size_t colon = userinfo.find(':');
	std::string_view user = userinfo.substr(0, colon);
	std::string_view password = colon == std::string_view::npos ? "" : userinfo.substr(colon + 1);
	if (user.empty())
		return std::string("empty user name");
	if (user.find_first_of(reserved) != std::string_view::npos || !PercentDecode(user))
		return std::string("user name must percent-encode \":\", \"/\", \"?\", \"#\", \"[\", \"]\", \"@\" and \"%\"");
	if (password.find_first_of(reserved) != std::string_view::npos || !PercentDecode(password))
		return std::string("password must percent-encode \":\", \"/\", \"?\", \"#\", \"[\", \"]\", \"@\" and \"%\"");
	return std::nullopt;
}

// CheckHost checks one "host", "host:port" or "[ipv6]:port" entry of a MongoDB host list.
Reason
CheckHost(const Target &target, std::string_view host, bool srv) {
	std::string_view name = host, port;
	bool has_port = false;
	if (!host.empty() && host[0] == '[') {
		size_t close = host.find(']');
		name = host.substr(1, close == std::string_view::npos ? close : close - 1);
		if (close == std::string_view::npos || name.empty() || name.find(':') == std::string_view::npos ||
			name.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
			return "invalid IPv6 address " +
				   Quote(target.Shown(host.substr(0, close == host.npos ? close : close + 1)));
		if (close + 1 < host.size() && host[close + 1] != ':')
			return "unexpected text after IPv6 address " + Quote(target.Shown(host));
		has_port = close + 1 < host.size();
		port = has_port ? host.substr(close + 2) : "";
	} else {
		size_t colon = host.find(':');
		if (colon != std::string_view::npos && host.find(':', colon + 1) != std::string_view::npos)
			return "IPv6 address " + Quote(target.Shown(host)) + " must be enclosed in brackets";
		name = host.substr(0, colon);
		has_port = colon != std::string_view::npos;
		port = has_port ? host.substr(colon + 1) : "";
		if (name.empty())
			return std::string(host.empty() ? "empty host in host list" : "empty host name");
		bool plain = std::all_of(name.begin(), name.end(),
								 [](char c) { return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '%'; });
		if (!plain || !PercentDecode(name))
			return "invalid host name " + Quote(target.Shown(name));
	}
	if (has_port && srv)
		return std::string("a mongodb+srv URI must not specify a port");
	return has_port ? PortReason(target, port) : std::nullopt;
}

// CheckHosts checks a comma-separated MongoDB host list.
Reason
CheckHosts(const Target &target, std::string_view hosts, bool srv) {
	if (hosts.empty())
		return std::string("no host");
	if (srv && hosts.find(',') != std::string_view::npos)
		return std::string("a mongodb+srv URI must name exactly one host");
	if (Reason reason = FirstReason(hosts, [&](std::string_view host) { return CheckHost(target, host, srv); }))
		return reason;
	if (srv && std::count(hosts.begin(), hosts.end(), '.') < 2)
		return "mongodb+srv host " + Quote(target.Shown(hosts)) + " must have at least three parts";
	return std::nullopt;
}

// CheckMongodb checks scheme, userinfo, host list, database and options of a MongoDB connection string.
Reason
CheckMongodb(const Target &target) {
	std::string_view uri = target.uri;
	bool srv = uri.substr(0, 14) == "mongodb+srv://";
	if (!srv && uri.substr(0, 10) != "mongodb://")
		return HasAuthority(uri) ? UnsupportedScheme(target)
								 : std::string("missing \"mongodb://\" or \"mongodb+srv://\" prefix");
	std::string_view rest = uri.substr(srv ? 14 : 10);
	size_t slash = rest.find('/');
	std::string_view authority = rest.substr(0, slash), hosts = authority;
	size_t at = authority.rfind('@');
	if (at != std::string_view::npos) {
		if (Reason reason = CheckUserinfo(authority.substr(0, at)))
			return reason;
		hosts = authority.substr(at + 1);
	}
	if (hosts.find_first_of("?#") != std::string_view::npos)
		return std::string("a \"/\" is required between the host list and the options");
	if (Reason reason = CheckHosts(target, hosts, srv))
		return reason;
	if (slash == std::string_view::npos)
		return std::nullopt;
	std::string_view path = rest.substr(slash + 1);
	std::string_view database = path.substr(0, path.find('?'));
	if (database.find_first_of("/\\. \"$#") != std::string_view::npos || !PercentDecode(database))
		return "invalid database name " + Quote(target.Shown(database));
	if (database.size() == path.size())
		return std::nullopt;
	std::string_view options = path.substr(database.size() + 1);
	for (size_t begin = 0; begin < options.size();) {
		size_t end = std::min(options.find('&', begin), options.find(';', begin));
		std::string_view option = options.substr(begin, end - begin);
		if (option.find('=') == std::string_view::npos || option[0] == '=')
			return "invalid option " + Quote(target.Shown(option)) + " (options are key=value pairs)";
		begin = end == std::string_view::npos ? options.size() : end + 1;
	}
	return std::nullopt;
}

// CheckFileUri checks a "file:" URI (host empty or localhost, a path, valid escapes) and returns its path.
Reason
CheckFileUri(const Target &target, bool allow_query, std::string &path) {
	std::string_view rest = target.uri.substr(std::string_view("file:").size());
	if (rest.substr(0, 2) == "//") {
		rest.remove_prefix(2);
		size_t slash = rest.find('/');
		std::string_view host = rest.substr(0, slash);
		if (!host.empty() && host != "localhost")
			return "file URI host " + Quote(target.Shown(host)) + " is not supported";
		rest.remove_prefix(host.size());
	}
	size_t query = rest.find_first_of("?#");
	if (query != std::string_view::npos && !allow_query)
		return std::string("file URI must not have a query or fragment");
	std::optional<std::string> decoded = PercentDecode(rest.substr(0, query));
	if (!decoded)
		return std::string("file URI has an invalid percent-encoding");
	if (decoded->empty())
		return std::string("file URI has no path");
	path = *decoded;
	return std::nullopt;
}

// CheckSqlite accepts a path, ":memory:", a SQLite "file:" URI or "sqlite://" followed by a path.
Reason
CheckSqlite(const Target &target) {
	std::string_view uri = target.uri;
	std::string path(uri);
	if (uri == ":memory:")
		return std::nullopt;
	if (uri.substr(0, 5) == "file:") {
		if (Reason reason = CheckFileUri(target, true, path))
			return reason;
	} else if (uri.substr(0, 9) == "sqlite://") {
		path = uri.substr(9);
		if (path.empty())
			return std::string("no path after \"sqlite://\"");
	} else if (HasAuthority(uri))
		return UnsupportedScheme(target);
	if (path.back() == '/')
		return std::string("path ends with \"/\" but a SQLite database is a file");
	return std::nullopt;
}

// CheckFiles accepts a path or a "file://" URI; a trailing '/' (a directory) only when directory_ok.
Reason
CheckFiles(const Target &target, bool directory_ok) {
	std::string_view uri = target.uri;
	std::string path(uri);
	if (uri.substr(0, 7) == "file://") {
		if (Reason reason = CheckFileUri(target, false, path))
			return reason;
	} else if (uri.substr(0, 5) == "file:")
		return std::string("file URI must start with \"file://\"");
	else if (HasAuthority(uri))
		return UnsupportedScheme(target);
	if (!directory_ok && path.back() == '/')
		return std::string("path ends with \"/\" but a SQL dump is a file");
	return std::nullopt;
}

// CheckDialect runs the check for dialect.
Reason
CheckDialect(Dialect dialect, const Target &target) {
	switch (dialect) {
	case Dialect::Postgres:
		return CheckPostgres(target);
	case Dialect::Mongodb:
		return CheckMongodb(target);
	case Dialect::Sqlite:
		return CheckSqlite(target);
	case Dialect::SqlDump:
		return CheckFiles(target, false);
	case Dialect::Jsonl:
		return CheckFiles(target, true);
	}
	return std::string("unknown dialect");
}

} // namespace

// CheckUri returns nullopt when uri is acceptable for dialect, otherwise what is wrong.
std::optional<UriProblem>
CheckUri(Dialect dialect, std::string_view uri) {
	Target target{uri, MaskCredentials(uri)};
	Reason reason;
	if (std::all_of(uri.begin(), uri.end(), IsBlank))
		reason = "empty";
	else if (uri.find('\0') != std::string_view::npos)
		reason = "contains a NUL byte";
	else
		reason = CheckDialect(dialect, target);
	if (!reason)
		return std::nullopt;

	constexpr std::array<std::string_view, 5> hints = {postgres_hint, sqlite_hint, mongodb_hint, sqldump_hint,
													   jsonl_hint};
	std::string_view noun = dialect == Dialect::Postgres  ? "connection string"
							: dialect == Dialect::Mongodb ? "URI"
														  : "location";
	std::string message = "invalid " + std::string(DialectName(dialect)) + " " + std::string(noun) + " " +
						  Quote(target.masked) + ": " + *reason;
	return UriProblem{std::move(message), std::string(hints[static_cast<size_t>(dialect)])};
}

} // namespace mosta
