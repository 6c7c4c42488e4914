/*
 * config.cpp
 *     Command-line parsing of mosta-sidecar (see config.hpp).
 */
#include "app/config.hpp"

#include <cctype>
#include <cstdint>
#include <optional>
#include <filesystem>
#include <system_error>

#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"

namespace mosta::sidecar {

namespace {

// kMaxDurationMs bounds every duration (one day), so that sums of deadlines cannot overflow.
constexpr std::int64_t kMaxDurationMs = 24LL * 3600 * 1000;

} // namespace

std::chrono::milliseconds
ParseDuration(const std::string &flag, const std::string &text) {
	std::size_t digits = 0;
	while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
		++digits;
	std::string unit = text.substr(digits);
	std::int64_t scale = 0;
	if (unit == "ms")
		scale = 1;
	else if (unit.empty() || unit == "s")
		scale = 1000;
	else if (unit == "m")
		scale = 60'000;
	else if (unit == "h")
		scale = 3'600'000;
	const std::string range = ": must be between 1ms and 24h";
	if (digits == 0 || scale == 0)
		throw ConfigError("invalid value \"" + text + "\" for " + flag +
						  ": expected a duration such as 500ms, 5s, 2m or 1h (between 1ms and 24h)");
	// more digits than a day has milliseconds: out of range, whatever the unit
	if (digits > 9)
		throw ConfigError("invalid value \"" + text + "\" for " + flag + range);
	std::int64_t value = std::stoll(text.substr(0, digits)) * scale;
	if (value <= 0 || value > kMaxDurationMs)
		throw ConfigError("invalid value \"" + text + "\" for " + flag + range);
	return std::chrono::milliseconds(value);
}

long long
ParseSize(const std::string &flag, const std::string &text) {
	std::size_t digits = 0;
	while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
		++digits;
	std::string unit = text.substr(digits);
	int shift = -1;
	if (unit.empty() || unit == "B")
		shift = 0;
	else if (unit == "kB")
		shift = 10;
	else if (unit == "MB")
		shift = 20;
	else if (unit == "GB")
		shift = 30;
	else if (unit == "TB")
		shift = 40;
	if (digits == 0 || digits > 12 || shift < 0)
		throw ConfigError("invalid value \"" + text + "\" for " + flag +
						  ": expected a size such as 512MB, 1GB or a number of bytes");
	long long value = std::stoll(text.substr(0, digits));
	if (value <= 0 || value > (1LL << (62 - shift)))
		throw ConfigError("invalid value \"" + text + "\" for " + flag + ": must be between 1 byte and 4 EB");
	return value << shift;
}

namespace {

// CheckSource refuses a --source (or MOSTA_SOURCE_URI) that libpq cannot parse, naming where it came from.
void
CheckSource(const std::string &origin, const std::string &source) {
	if (source.empty())
		throw ConfigError("invalid value \"\" for " + origin + ": expected a connection string or URI");
	if (std::optional<UriProblem> problem = CheckUri(Dialect::Postgres, source))
		throw ConfigError("invalid value for " + origin + ": " + problem->message + " (" + problem->hint + ")");
}

// DataDirectory makes a --data-dir (or MOSTA_DATA_DIR) absolute and lexically normal, and checks that it exists.
std::string
DataDirectory(const std::string &origin, const std::string &text) {
	if (text.empty())
		throw ConfigError("invalid value \"\" for " + origin + ": expected a directory");
	std::error_code error;
	std::filesystem::path path = std::filesystem::absolute(text, error).lexically_normal();
	if (error || !std::filesystem::is_directory(path, error))
		throw ConfigError("invalid value \"" + text + "\" for " + origin + ": no such directory");
	std::string normal = path.string();
	if (normal.size() > 1 && normal.back() == '/')
		normal.pop_back();
	return normal;
}

} // namespace

Config
ParseConfig(const std::vector<std::string> &args, const char *source_env, const char *data_dir_env) {
	Config config;
	bool source_given = false;
	bool data_dir_given = false;
	std::size_t first = 0;
	if (!args.empty() && args[0] == "verify") {
		config.verify = true;
		first = 1;
	}
	for (std::size_t i = first; i < args.size(); ++i) {
		std::string arg = args[i];
		std::string value;
		bool has_inline = false;
		if (arg.rfind("--", 0) == 0) {
			std::size_t eq = arg.find('=');
			if (eq != std::string::npos) {
				value = arg.substr(eq + 1);
				arg = arg.substr(0, eq);
				has_inline = true;
			}
		}
		auto take_value = [&]() -> std::string {
			if (has_inline)
				return value;
			if (i + 1 >= args.size())
				throw ConfigError("missing value for " + arg);
			return args[++i];
		};
		auto no_value = [&]() {
			if (has_inline)
				throw ConfigError("flag " + arg + " takes no value (got \"" + value + "\")");
		};
		if (config.verify && !arg.empty() && arg[0] != '-') {
			if (!config.verify_rule.empty())
				throw ConfigError("verify takes one rule (got \"" + config.verify_rule + "\" and \"" + arg + "\")");
			config.verify_rule = arg;
		} else if (config.verify && arg != "--source" && arg != "--data-dir" && arg != "--help" && arg != "-h") {
			throw ConfigError("flag " + MaskCredentialsInText(arg) + " does not apply to verify (see --help)");
		} else if (arg == "--help" || arg == "-h") {
			no_value();
			config.help = true;
		} else if (arg == "--version") {
			no_value();
			config.version = true;
		} else if (arg == "--once") {
			no_value();
			config.once = true;
		} else if (arg == "--source") {
			config.source = take_value();
			CheckSource("--source", config.source);
			source_given = true;
		} else if (arg == "--data-dir") {
			config.data_dir = DataDirectory("--data-dir", take_value());
			data_dir_given = true;
		} else if (arg == "--status-interval") {
			config.status_interval = ParseDuration("--status-interval", take_value());
		} else if (arg == "--poll-interval") {
			config.poll_interval = ParseDuration("--poll-interval", take_value());
		} else if (arg == "--heartbeat-interval") {
			std::string text = take_value();
			// 0 means off, as the help says
			config.heartbeat_interval = text == "off" || text == "0" ? std::chrono::milliseconds(0)
																	 : ParseDuration("--heartbeat-interval", text);
		} else if (arg == "--retained-wal-warning") {
			std::string text = take_value();
			config.retained_wal_warning = text == "off" ? 0 : ParseSize("--retained-wal-warning", text);
		} else if (arg == "--tree") {
			config.tree_path = take_value();
			std::filesystem::path parent = std::filesystem::path(config.tree_path).parent_path();
			std::error_code error;
			if (config.tree_path.empty() || config.tree_path.back() == '/')
				throw ConfigError("invalid value \"" + config.tree_path + "\" for --tree: expected a file path");
			if (!parent.empty() && !std::filesystem::is_directory(parent, error))
				throw ConfigError("invalid value \"" + config.tree_path + "\" for --tree: directory " +
								  parent.string() + " does not exist");
		} else if (arg == "--ttl-batch") {
			std::string text = take_value();
			bool digits =
				!text.empty() && text.size() <= 7 && text.find_first_not_of("0123456789") == std::string::npos;
			if (!digits)
				throw ConfigError("invalid value \"" + text + "\" for --ttl-batch: expected a number of rows (0: off)");
			config.ttl_batch = std::stoi(text);
		} else {
			throw ConfigError("unknown flag \"" + MaskCredentialsInText(args[i]) + "\" (see --help)");
		}
	}
	if (config.verify && config.verify_rule.empty() && !config.help)
		throw ConfigError("verify needs a rule: mosta-sidecar verify RULE [--source DSN]");
	if (!source_given && source_env != nullptr && *source_env != '\0') {
		config.source = source_env;
		CheckSource("MOSTA_SOURCE_URI", config.source);
	}
	if (!data_dir_given && data_dir_env != nullptr && *data_dir_env != '\0')
		config.data_dir = DataDirectory("MOSTA_DATA_DIR", data_dir_env);
	return config;
}

std::string
HelpText() {
	return R"(Usage: mosta-sidecar [OPTION]...
       mosta-sidecar verify RULE [--source DSN] [--data-dir DIR]
Runs the replication rules declared in the mosta catalog (mosta_add_rule): initial copy under the slot's
exported snapshot, then change streaming into the rules' SQLite, SQL dump, JSON archive and MongoDB targets.

Options:
  --source DSN             the source database (libpq connection string or postgresql:// URI); default:
                           MOSTA_SOURCE_URI, else the libpq PG* variables (PGHOST, PGPORT, PGUSER, ...)
  --data-dir DIR           the directory every file target (sqlite, sqldump, jsonl) lives under: relative
                           paths resolve there, paths leading out of it are refused (default: MOSTA_DATA_DIR,
                           else /var/lib/mosta)
  --once                   process everything committed before start, flush, confirm, then exit 0
  --status-interval DUR    how often status is written to mosta.rule_stats, mosta.target_status and
                           mosta.replica_status (and the --tree file), and the catalog re-read
                           (default 5s); DUR is 500ms, 5s, 2m, 1h or a number of seconds,
                           from 1ms to 24h
  --poll-interval DUR      a stream without data for this long is idle: the sinks are flushed (default 1s)
  --heartbeat-interval DUR write a heartbeat (mosta_heartbeat()) into the WAL this often, so that slots
                           advance on a quiet database while other databases write WAL (default 60s; off or 0: never)
  --retained-wal-warning SIZE
                           warn (log and status) when a slot makes PostgreSQL retain more WAL than SIZE
                           (default 1GB; 512MB, 64kB, bytes; off)
  --tree FILE              write the topology (mosta_topology(), credentials masked) to FILE at every status
                           interval, replaced atomically: the replicator-tree.json a monitor reads
  --ttl-batch N            delete expired rows of the mosta_add_ttl tables at every status interval, N rows
                           per statement, at most 10 statements per table (default 1000; 0: off)
  --version                print the version, the protocol and catalog versions, and exit
  -h, --help               print this help and exit

verify RULE: compare each collection of RULE with its SQLite targets by the canonical checksum of
docs/verification.md (source rows, target rows, checksums; for a mismatch the first 10 differing keys).
Exit status 0 when all match, 1 on a mismatch, 2 for an unknown rule or bad usage.

Environment:
  MOSTA_SOURCE_URI         the source, when --source is not given
  MOSTA_DATA_DIR           the data directory, when --data-dir is not given
  PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ...   used for what the source does not say

The role needs REPLICATION, read access to the replicated tables and to the mosta catalog, and write access
to mosta.rule_stats, mosta.target_status, mosta.replica_status and mosta.activity (the role mosta_sidecar
has all but REPLICATION and the tables' SELECT). Signals: SIGTERM or SIGINT finish the transaction in
flight, flush, confirm and exit; SIGHUP reads the catalog at once. Exit status: 0 after a clean stop
(SIGTERM, SIGINT, or --once done), 1 on a runtime failure, 2 on bad configuration.
)";
}

std::string
VersionText() {
	return std::string("mosta-sidecar ") + kMostaVersion + "\n" + ProtocolVersionsText() + "\n";
}

} // namespace mosta::sidecar
