/*
 * options.cpp
 *     Command-line parsing of mosta-monitor (see options.hpp).
 */
#include "options.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

#include "app/config.hpp"
#include "mosta/common/conninfo.hpp"

namespace mosta::monitor {

std::chrono::milliseconds
ParseMonitorDuration(const std::string &what, const std::string &text) {
	std::string normal = text;
	if (normal.size() > 3 && normal.compare(normal.size() - 3, 3, "min") == 0)
		normal.erase(normal.size() - 2);
	try {
		return sidecar::ParseDuration(what, normal);
	} catch (const sidecar::ConfigError &e) {
		throw OptionsError(e.what());
	}
}

bool
IsLoopback(const std::string &address) {
	if (address == "localhost")
		return true;
	boost::system::error_code error;
	boost::asio::ip::address parsed = boost::asio::ip::make_address(address, error);
	return !error && parsed.is_loopback();
}

namespace {

// ReadTokenFile returns the first line of path (the token), without its line end; the file's content never goes
// into a message.
std::string
ReadTokenFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw OptionsError("cannot read --token-file " + path);
	std::string token;
	std::getline(in, token);
	if (!token.empty() && token.back() == '\r')
		token.pop_back();
	if (token.empty())
		throw OptionsError("--token-file " + path + " holds no token (its first line is empty)");
	return token;
}

// Port reads a --port value: 0 to 65535.
unsigned short
Port(const std::string &text) {
	if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos ||
		std::stoi(text) > 65535)
		throw OptionsError("invalid value \"" + text + "\" for --port: expected a port number (0 to 65535)");
	return static_cast<unsigned short>(std::stoi(text));
}

// Bind reads a --bind value: an IP address literal or "localhost".
std::string
Bind(const std::string &text) {
	boost::system::error_code error;
	if (text != "localhost")
		boost::asio::ip::make_address(text, error);
	if (text.empty() || error)
		throw OptionsError("invalid value \"" + text + "\" for --bind: expected an IP address such as 127.0.0.1");
	return text;
}

// One flag: whether it takes a value and what it sets.
struct Flag {
	const char *name;
	bool takes_value;
	void (*apply)(Options &options, const std::string &value);
};

// kFlags is every flag of the command line (HelpText documents them).
constexpr Flag kFlags[] = {
	{"--help", false, [](Options &o, const std::string &) { o.help = true; }},
	{"-h", false, [](Options &o, const std::string &) { o.help = true; }},
	{"--version", false, [](Options &o, const std::string &) { o.version = true; }},
	{"--no-inotify", false, [](Options &o, const std::string &) { o.inotify = false; }},
	{"--tree", true,
	 [](Options &o, const std::string &v) {
		 if (v.empty() || v.back() == '/')
			 throw OptionsError("invalid value \"" + v + "\" for --tree: expected a file path");
		 o.tree_path = v;
	 }},
	{"--source", true,
	 [](Options &o, const std::string &v) {
		 if (v.empty())
			 throw OptionsError("invalid value \"\" for --source: expected a connection string or URI");
		 if (std::optional<UriProblem> problem = CheckUri(Dialect::Postgres, v))
			 throw OptionsError("invalid value for --source: " + problem->message + " (" + problem->hint + ")");
		 o.source = v;
	 }},
	{"--bind", true, [](Options &o, const std::string &v) { o.bind = Bind(v); }},
	{"--port", true, [](Options &o, const std::string &v) { o.port = Port(v); }},
	{"--token", true,
	 [](Options &o, const std::string &v) {
		 if (v.empty())
			 throw OptionsError("--token is empty");
		 o.token = v;
	 }},
	{"--token-file", true, [](Options &o, const std::string &v) { o.token = ReadTokenFile(v); }},
	{"--poll-interval", true,
	 [](Options &o, const std::string &v) { o.poll_interval = ParseMonitorDuration("--poll-interval", v); }},
	{"--stale-after", true,
	 [](Options &o, const std::string &v) { o.stale_after = ParseMonitorDuration("--stale-after", v); }},
};

// FindFlag returns the flag named name, or null.
const Flag *
FindFlag(const std::string &name) {
	for (const Flag &flag : kFlags)
		if (name == flag.name)
			return &flag;
	return nullptr;
}

} // namespace

Options
ParseOptions(const std::vector<std::string> &args, const char *token_env) {
	Options options;
	std::set<std::string> given;
	for (std::size_t i = 0; i < args.size(); ++i) {
		std::string arg = args[i];
		std::optional<std::string> inline_value;
		if (std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
			inline_value = arg.substr(eq + 1);
			arg = arg.substr(0, eq);
		}
		const Flag *flag = FindFlag(arg);
		// only the flag's name is echoed: a mistyped "--tokn=SECRET" must not print the secret
		if (flag == nullptr)
			throw OptionsError("unknown flag \"" + MaskCredentialsInText(arg) + "\" (see --help)");
		if (!given.insert(flag->name).second)
			throw OptionsError(std::string(flag->name) + " is given twice");
		std::string value;
		if (flag->takes_value) {
			if (inline_value)
				value = *inline_value;
			else if (i + 1 < args.size())
				value = args[++i];
			else
				throw OptionsError(std::string(flag->name) + " needs a value");
		} else if (inline_value) {
			throw OptionsError(std::string(flag->name) + " takes no value");
		}
		flag->apply(options, value);
	}
	if (options.help || options.version)
		return options;
	if (given.count("--token") && given.count("--token-file"))
		throw OptionsError("--token and --token-file exclude each other");
	if (options.token.empty() && token_env != nullptr && *token_env != '\0')
		options.token = token_env;
	if (options.tree_path.empty() == options.source.empty())
		throw OptionsError("give exactly one of --tree FILE and --source DSN (see --help)");
	if (options.token.empty() && !IsLoopback(options.bind))
		throw OptionsError("--bind " + options.bind +
						   " is not a loopback address: give a token (--token, --token-file or MOSTA_MONITOR_TOKEN) "
						   "to serve it beyond this machine");
	return options;
}

std::string
HelpText() {
	return R"(mosta-monitor: the dashboard, Prometheus metrics and health checks of a mostajs topology

Usage: mosta-monitor --tree FILE | --source DSN [options]

Source (exactly one):
  --tree FILE            the topology file mosta-sidecar --tree writes (re-read on change: inotify, and polling)
  --source DSN           read SELECT jsonb_pretty(mosta_topology()) from this PostgreSQL database instead

Options:
  --bind ADDRESS         the address to listen on (default 127.0.0.1); a non-loopback one needs a token
  --port N               the port (default 14499; 0 picks a free one, printed at start)
  --token SECRET         the token every request but /login needs (Authorization: Bearer, or the login cookie)
  --token-file FILE      the token is the first line of FILE (keeps it out of the process list)
  --poll-interval DUR    re-read the file or the catalog this often (default 1s)
  --stale-after DUR      a topology generated longer ago than this is stale (default 30s)
  --no-inotify           watch the --tree file by polling only (file systems whose changes inotify misses)
  --version              print the version and exit
  -h, --help             print this help and exit

Durations: 500ms, 5s, 2m (or 2min), 1h, or a bare number of seconds.

Environment:
  MOSTA_MONITOR_TOKEN    the token, when neither --token nor --token-file is given

Without a token, on a loopback address, every request is allowed.
Exit status: 0 clean stop (SIGINT, SIGTERM), 1 runtime failure, 2 bad options.
)";
}

} // namespace mosta::monitor
