/*
 * options.hpp
 *     mosta-monitor's command line (and MOSTA_MONITOR_TOKEN), parsed without side effects but reading
 *     --token-file, so that tests can check every flag. A bad flag or value throws OptionsError, whose message
 *     names it but never holds a token; main exits 2.
 */
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mosta::monitor {

// kDefaultPort is the port when --port is not given.
inline constexpr unsigned short kDefaultPort = 14499;

// Everything mosta-monitor takes from its command line and environment.
struct Options {
	std::string tree_path;							// --tree FILE: the topology file mosta-sidecar --tree writes
	std::string source;								// --source DSN: read mosta_topology() from the catalog
	std::string bind = "127.0.0.1";					// --bind ADDRESS
	unsigned short port = kDefaultPort;				// --port N (0: any free port, printed at start)
	std::string token;								// --token, --token-file or MOSTA_MONITOR_TOKEN; "" for none
	std::chrono::milliseconds poll_interval{1'000}; // re-read the file or catalog this often
	std::chrono::milliseconds stale_after{30'000};	// a topology older than this is stale
	bool inotify = true;							// --no-inotify: poll only
	bool help = false;
	bool version = false;
};

// OptionsError is a bad flag or value; what() names it (never the token).
class OptionsError : public std::invalid_argument {
  public:
	using std::invalid_argument::invalid_argument;
};

// ParseMonitorDuration reads "500ms", "5s", "2m", "2min", "1h" or a bare number of seconds, as the sidecar's
// ParseDuration does (it adds "min"); throws OptionsError naming what.
std::chrono::milliseconds ParseMonitorDuration(const std::string &what, const std::string &text);

// ParseOptions reads args (without argv[0]) and token_env (MOSTA_MONITOR_TOKEN, null when unset); throws
// OptionsError, also for a non-loopback --bind without a token.
Options ParseOptions(const std::vector<std::string> &args, const char *token_env);

// IsLoopback tells whether address (an IPv4 or IPv6 literal, or "localhost") is a loopback address.
bool IsLoopback(const std::string &address);

// HelpText documents every flag and environment variable.
std::string HelpText();

} // namespace mosta::monitor
