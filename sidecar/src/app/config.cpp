/*
 * config.cpp
 *     Command-line parsing of mosta-sidecar (see config.hpp).
 */
#include "app/config.hpp"

#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <filesystem>
#include <system_error>

#include "dcs/dcs_timing.hpp"
#include "dcs/dcs_url.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"
#include "util/with_timeout.hpp"

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

// TreePath checks a --tree value: a file path whose directory exists.
std::string
TreePath(const std::string &text) {
	if (text.empty() || text.back() == '/')
		throw ConfigError("invalid value \"" + text + "\" for --tree: expected a file path");
	std::filesystem::path parent = std::filesystem::path(text).parent_path();
	std::error_code error;
	if (!parent.empty() && !std::filesystem::is_directory(parent, error))
		throw ConfigError("invalid value \"" + text + "\" for --tree: directory " + parent.string() +
						  " does not exist");
	return text;
}

// TtlBatch reads a --ttl-batch value: up to 7 digits.
int
TtlBatch(const std::string &text) {
	if (text.empty() || text.size() > 7 || text.find_first_not_of("0123456789") != std::string::npos)
		throw ConfigError("invalid value \"" + text + "\" for --ttl-batch: expected a number of rows (0: off)");
	return std::stoi(text);
}

// NonEmpty returns value, or throws ConfigError naming flag and what it expects when value is empty.
std::string
NonEmpty(const char *flag, const std::string &value, const char *expected) {
	if (value.empty())
		throw ConfigError(std::string("invalid value \"\" for ") + flag + ": expected " + expected);
	return value;
}

// DcsValue checks a --dcs value (dcs/dcs_url.hpp).
std::string
DcsValue(const std::string &text) {
	try {
		dcs::ParseDcsUrl(text);
	} catch (const std::invalid_argument &e) {
		throw ConfigError(std::string("invalid value for ") + e.what());
	}
	return text;
}

// DcsTtl reads --dcs-ttl: whole seconds, 2s to 1h (etcd leases count seconds).
std::chrono::milliseconds
DcsTtl(const std::string &text) {
	std::chrono::milliseconds ttl = ParseDuration("--dcs-ttl", text);
	if (ttl.count() % 1000 != 0 || ttl < std::chrono::seconds(2) || ttl > std::chrono::hours(1))
		throw ConfigError("invalid value \"" + text + "\" for --dcs-ttl: whole seconds from 2s to 1h");
	return ttl;
}

// Synchronous reads --synchronous.
std::string
Synchronous(const std::string &text) {
	if (text != "off" && text != "on" && text != "strict")
		throw ConfigError("invalid value \"" + text + "\" for --synchronous: expected off, on or strict");
	return text;
}

// The commands a flag applies to (a bit set): the daemon itself and each subcommand.
enum Command : unsigned {
	kDaemon = 1U << 0,
	kVerify = 1U << 1,
	kFailover = 1U << 2,
	kAgent = 1U << 3,
	kSwitchover = 1U << 4,
	kPromote = 1U << 5,
	kSwitchBack = 1U << 6,
	kDcsStatus = 1U << 7,
};

// One flag: whether it takes a value, which commands take it, and what it sets.
struct Flag {
	const char *name;
	bool takes_value;
	unsigned commands; // Command bits
	void (*apply)(Config &config, const std::string &value);
};

// kAll is every command: --help.
constexpr unsigned kAll = kDaemon | kVerify | kFailover | kAgent | kSwitchover | kPromote | kSwitchBack | kDcsStatus;

// kFlags is every flag of the command line (HelpText documents them).
constexpr Flag kFlags[] = {
	{"--help", false, kAll, [](Config &c, const std::string &) { c.help = true; }},
	{"-h", false, kAll, [](Config &c, const std::string &) { c.help = true; }},
	{"--version", false, kDaemon, [](Config &c, const std::string &) { c.version = true; }},
	{"--once", false, kDaemon, [](Config &c, const std::string &) { c.once = true; }},
	{"--source", true, kDaemon | kVerify | kFailover | kAgent | kSwitchover | kPromote | kSwitchBack,
	 [](Config &c, const std::string &v) {
		 CheckSource("--source", v);
		 c.source = v;
	 }},
	{"--data-dir", true, kDaemon | kVerify | kPromote | kSwitchBack,
	 [](Config &c, const std::string &v) { c.data_dir = DataDirectory("--data-dir", v); }},
	{"--status-interval", true, kDaemon,
	 [](Config &c, const std::string &v) { c.status_interval = ParseDuration("--status-interval", v); }},
	{"--poll-interval", true, kDaemon | kAgent,
	 [](Config &c, const std::string &v) { c.poll_interval = ParseDuration("--poll-interval", v); }},
	// 0 means off, as the help says
	{"--heartbeat-interval", true, kDaemon,
	 [](Config &c, const std::string &v) {
		 c.heartbeat_interval =
			 v == "off" || v == "0" ? std::chrono::milliseconds(0) : ParseDuration("--heartbeat-interval", v);
	 }},
	{"--retained-wal-warning", true, kDaemon,
	 [](Config &c, const std::string &v) {
		 c.retained_wal_warning = v == "off" ? 0 : ParseSize("--retained-wal-warning", v);
	 }},
	{"--tree", true, kDaemon | kPromote | kSwitchBack,
	 [](Config &c, const std::string &v) { c.tree_path = TreePath(v); }},
	{"--ttl-batch", true, kDaemon, [](Config &c, const std::string &v) { c.ttl_batch = TtlBatch(v); }},
	{"--to", true, kFailover,
	 [](Config &c, const std::string &v) {
		 if (v.empty())
			 throw ConfigError("invalid value \"\" for --to: expected a replica name");
		 c.failover_to = v;
	 }},
	{"--allow-data-loss", false, kFailover | kPromote,
	 [](Config &c, const std::string &) { c.allow_data_loss = true; }},
	{"--force", false, kPromote, [](Config &c, const std::string &) { c.force = true; }},
	{"--file", true, kPromote | kSwitchBack,
	 [](Config &c, const std::string &v) { c.sqlite_file = NonEmpty("--file", v, "the SQLite file's path"); }},
	{"--node", true, kAgent, [](Config &c, const std::string &v) { c.node = NonEmpty("--node", v, "a replica name"); }},
	{"--project", true, kAgent,
	 [](Config &c, const std::string &v) { c.ha_project = NonEmpty("--project", v, "a project name"); }},
	{"--pgdata", true, kAgent, [](Config &c, const std::string &v) { c.pgdata = DataDirectory("--pgdata", v); }},
	{"--pg-log", true, kAgent, [](Config &c, const std::string &v) { c.pg_log = NonEmpty("--pg-log", v, "a file"); }},
	{"--state-dir", true, kAgent,
	 [](Config &c, const std::string &v) { c.state_dir = DataDirectory("--state-dir", v); }},
	{"--pg-bindir", true, kAgent,
	 [](Config &c, const std::string &v) { c.pg_bindir = DataDirectory("--pg-bindir", v); }},
	{"--catchup-timeout", true, kAgent,
	 [](Config &c, const std::string &v) { c.catchup_timeout = ParseDuration("--catchup-timeout", v); }},
	{"--timeout", true, kSwitchover | kSwitchBack,
	 [](Config &c, const std::string &v) { c.switchover_timeout = ParseDuration("--timeout", v); }},
	{"--dcs", true, kDaemon | kAgent | kDcsStatus, [](Config &c, const std::string &v) { c.dcs = DcsValue(v); }},
	{"--dcs-ttl", true, kDaemon | kAgent, [](Config &c, const std::string &v) { c.dcs_ttl = DcsTtl(v); }},
	{"--synchronous", true, kAgent, [](Config &c, const std::string &v) { c.synchronous = Synchronous(v); }},
	{"--watchdog", true, kAgent,
	 [](Config &c, const std::string &v) { c.watchdog = NonEmpty("--watchdog", v, "a watchdog device"); }},
	{"--name", true, kDaemon,
	 [](Config &c, const std::string &v) { c.sidecar_name = NonEmpty("--name", v, "a name for this sidecar"); }},
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

Config
ParseConfig(const std::vector<std::string> &args, const char *source_env, const char *data_dir_env) {
	Config config;
	std::set<std::string> given;
	std::size_t first = 0;
	unsigned command = kDaemon;
	const char *command_name = "";
	std::vector<std::string *> positionals; // the subcommand's arguments (RULE; PROJECT; PROJECT REPLICA)
	const char *positional_names = "";
	if (!args.empty() && args[0] == "verify") {
		config.verify = true;
		command = kVerify;
		command_name = "verify";
		positionals = {&config.verify_rule};
		positional_names = "one rule";
		first = 1;
	} else if (!args.empty() && args[0] == "failover") {
		config.failover = true;
		command = kFailover;
		command_name = "failover";
		positionals = {&config.failover_project};
		positional_names = "one project";
		first = 1;
	} else if (!args.empty() && args[0] == "agent") {
		config.agent = true;
		command = kAgent;
		command_name = "agent";
		positional_names = "no argument";
		first = 1;
	} else if (!args.empty() && args[0] == "switchover") {
		config.switchover = true;
		command = kSwitchover;
		command_name = "switchover";
		positionals = {&config.ha_project, &config.switchover_replica};
		positional_names = "a project and a replica";
		first = 1;
	} else if (!args.empty() && args[0] == "promote") {
		config.promote = true;
		command = kPromote;
		command_name = "promote";
		positionals = {&config.ha_project, &config.promote_replica};
		positional_names = "a project and a replica";
		first = 1;
	} else if (!args.empty() && args[0] == "dcs-status") {
		config.dcs_status = true;
		command = kDcsStatus;
		command_name = "dcs-status";
		positional_names = "no argument";
		first = 1;
	} else if (!args.empty() && args[0] == "switch-back") {
		config.switch_back = true;
		command = kSwitchBack;
		command_name = "switch-back";
		positionals = {&config.ha_project};
		positional_names = "one project";
		first = 1;
	}
	std::size_t positional_count = 0;
	for (std::size_t i = first; i < args.size(); ++i) {
		std::string arg = args[i];
		std::optional<std::string> inline_value;
		if (std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
			inline_value = arg.substr(eq + 1);
			arg = arg.substr(0, eq);
		}
		if (command != kDaemon && !arg.empty() && arg[0] != '-') {
			if (positional_count >= positionals.size())
				throw ConfigError(std::string(command_name) + " takes " + positional_names + " (got \"" + arg +
								  "\" too)");
			*positionals[positional_count++] = arg;
			continue;
		}
		const Flag *flag = FindFlag(arg);
		if (flag == nullptr)
			throw ConfigError("unknown flag \"" + MaskCredentialsInText(args[i]) + "\" (see --help)");
		if ((flag->commands & command) == 0)
			throw ConfigError("flag " + arg +
							  (command == kDaemon ? std::string(" applies to a subcommand only")
												  : " does not apply to " + std::string(command_name)) +
							  " (see --help)");
		if (!flag->takes_value && inline_value)
			throw ConfigError("flag " + arg + " takes no value (got \"" + *inline_value + "\")");
		if (flag->takes_value && !inline_value && i + 1 >= args.size())
			throw ConfigError("missing value for " + arg);
		std::string value = !flag->takes_value ? std::string() : inline_value ? *inline_value : args[++i];
		flag->apply(config, value);
		given.insert(arg);
	}
	if (config.verify && config.verify_rule.empty() && !config.help)
		throw ConfigError("verify needs a rule: mosta-sidecar verify RULE [--source DSN] [--data-dir DIR]");
	if (config.failover && config.failover_project.empty() && !config.help)
		throw ConfigError("failover needs a project: mosta-sidecar failover PROJECT [--to REPLICA] "
						  "[--allow-data-loss] [--source DSN]");
	if (config.agent && !config.help)
		for (const char *required : {"--node", "--project", "--pgdata", "--state-dir"})
			if (given.count(required) == 0)
				throw ConfigError(
					std::string("agent needs ") + required +
					": mosta-sidecar agent --node REPLICA --project PROJECT --pgdata DIR --state-dir DIR");
	if (config.switchover && config.switchover_replica.empty() && !config.help)
		throw ConfigError("switchover needs a project and a replica: mosta-sidecar switchover PROJECT REPLICA "
						  "[--source DSN] [--timeout DUR]");
	if (config.promote && config.promote_replica.empty() && !config.help)
		throw ConfigError("promote needs a project and a replica: mosta-sidecar promote PROJECT REPLICA [--tree FILE] "
						  "[--file PATH] [--data-dir DIR] [--source DSN] [--force] [--allow-data-loss]");
	if (config.promote && config.tree_path.empty() && config.sqlite_file.empty() && !config.help)
		throw ConfigError("promote needs --tree FILE (the topology file the daemon writes: the replica's path, its "
						  "rule and its last observation) or --file PATH (the SQLite file itself)");
	if (config.dcs_status && config.dcs.empty() && !config.help)
		throw ConfigError("dcs-status needs --dcs: mosta-sidecar dcs-status --dcs etcd://host:port[,...]/prefix");
	if (config.once && !config.dcs.empty() && !config.help)
		throw ConfigError("--once does not go with --dcs: a sidecar with --dcs runs only the rules whose lease it "
						  "holds, for as long as it holds them (docs/sidecar.md, \"Several sidecars: --dcs\")");
	if (!config.dcs.empty() && (config.agent || !config.dcs_status) &&
		config.poll_interval * 4 > config.dcs_ttl - DcsFenceMargin(config.dcs_ttl))
		throw ConfigError("--poll-interval " + DurationText(config.poll_interval) + " is too long for --dcs-ttl " +
						  DurationText(config.dcs_ttl) +
						  ": a lease must be renewed at least 4 times before its holder fences itself (docs/ha.md)");
	if (config.switch_back && config.ha_project.empty() && !config.help)
		throw ConfigError("switch-back needs a project: mosta-sidecar switch-back PROJECT [--source DSN] "
						  "[--data-dir DIR] [--file PATH] [--tree FILE] [--timeout DUR]");
	if (given.count("--source") == 0 && source_env != nullptr && *source_env != '\0') {
		CheckSource("MOSTA_SOURCE_URI", source_env);
		config.source = source_env;
	}
	if (given.count("--data-dir") == 0 && data_dir_env != nullptr && *data_dir_env != '\0')
		config.data_dir = DataDirectory("MOSTA_DATA_DIR", data_dir_env);
	return config;
}

std::string
HelpText() {
	return R"(Usage: mosta-sidecar [OPTION]...
       mosta-sidecar verify RULE [--source DSN] [--data-dir DIR]
       mosta-sidecar failover PROJECT [--to REPLICA] [--allow-data-loss] [--source DSN]
       mosta-sidecar agent --node REPLICA --project PROJECT --pgdata DIR --state-dir DIR [--pg-log FILE]
                     [--pg-bindir DIR] [--source DSN] [--poll-interval DUR] [--catchup-timeout DUR]
                     [--dcs URL [--dcs-ttl DUR] [--synchronous off|on|strict] [--watchdog DEVICE]]
       mosta-sidecar dcs-status --dcs URL
       mosta-sidecar switchover PROJECT REPLICA [--source DSN] [--timeout DUR]
       mosta-sidecar promote PROJECT REPLICA [--tree FILE] [--file PATH] [--data-dir DIR] [--source DSN]
                     [--force] [--allow-data-loss]
       mosta-sidecar switch-back PROJECT [--source DSN] [--data-dir DIR] [--file PATH] [--tree FILE]
                     [--timeout DUR]
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
                           advance on a quiet database while other databases write WAL (default 60s;
                           off or 0: never)
  --retained-wal-warning SIZE
                           warn (log and status) when a slot makes PostgreSQL retain more WAL than SIZE
                           (default 1GB; 512MB, 64kB, bytes; off)
  --tree FILE              write the topology (mosta_topology(), credentials masked) to FILE at every status
                           interval, replaced atomically: the replicator-tree.json a monitor reads
  --ttl-batch N            delete expired rows of the mosta_add_ttl tables at every status interval, N rows
                           per statement, at most 10 statements per table (default 1000; 0: off)
  --dcs URL                etcd://host:port[,host:port...]/prefix: run only the rules whose lease this
                           sidecar holds in etcd, so that N sidecars can run and one applies each rule
                           (docs/ha.md); the others take a rule over when its holder's lease expires
  --dcs-ttl DUR            the leases' TTL, whole seconds (default 10s); a holder that cannot renew stops
                           its rules max(2s, TTL/5) before the lease can expire
  --name NAME              this sidecar in the rule leases (default: host:pid)
  --version                print the version, the protocol and catalog versions, and exit
  -h, --help               print this help and exit

verify RULE: compare each collection of RULE with its SQLite targets by the canonical checksum of
docs/verification.md (source rows, target rows, checksums; for a mismatch the first 10 differing keys).
Exit status 0 when all match, 1 on a mismatch, 2 for an unknown rule or bad usage.

failover PROJECT: promote a standby of PROJECT while its master is down (docs/failover.md). The topology is
read from --source, which may name several hosts (host=a,b,c port=1,2,3): any live node's copy of the
catalog serves; the master is never needed. Refused, nothing changed, when the master is up (use a
switchover), when the standby is not a reachable postgres standby of the project, or when it fails the lag
gate: with lag_tolerance_ms 0 it must have been a synchronous standby at the last observation, otherwise up
and within its tolerance.
  --to REPLICA             the standby to promote (default: the best eligible one: the most advanced WAL,
                           then synchronous before asynchronous, then by name)
  --allow-data-loss        promote even when the lag gate refuses: acknowledged commits may be lost
It promotes the standby, makes it the master in the catalog, points the other standbys at it and writes one
failover row in mosta.activity. Exit status 0 when done, 1 when refused or failed, 2 on bad usage.

agent: run next to one PostgreSQL node of a project, as the server's OS user, and own the server's
lifecycle (docs/failover.md, "Fencing" and "Rejoin"): start it only as a standby while another node is
the primary the catalog names master (pg_rewind first), hold it read-only when no other node can tell,
demote it when a newer primary appears, repoint a standby that follows the wrong node, and carry out
the switchover requests of mosta_switchover() on the master.
  --node REPLICA           this node's replica name in the catalog (the standby's application_name)
  --project PROJECT        the project
  --pgdata DIR             the server's data directory (pg_ctl -D)
  --state-dir DIR          where the agent caches the other nodes' names and URIs (no passwords), to decide
                           before its server runs; outside DIR of --pgdata (pg_rewind would remove it)
  --pg-log FILE            the server's log file for pg_ctl start (default: postgres.log in --state-dir)
  --pg-bindir DIR          pg_ctl, pg_controldata and pg_rewind (default: pg_config --bindir; PG_CONFIG)
  --source DSN             the local server (default: MOSTA_SOURCE_URI, else PG*)
  --poll-interval DUR      how often it looks at its server and the other nodes (default 1s)
  --catchup-timeout DUR    a switchover's wait for the standby to replay the master's shutdown checkpoint
                           before it gives up and starts the master again (default 30s)
  --dcs URL                etcd://host:port[,...]/prefix: automatic failover (docs/ha.md). The master's agent
                           holds the project's leader key (TTL --dcs-ttl) while its server is healthy and
                           renews the server's write lease (mostajs.write_lease); when the key expires the
                           agents of the standbys the lag gate allows race for it, the most advanced wins and
                           is promoted. An agent that cannot renew fences its server before the key can expire.
  --dcs-ttl DUR            the leader key's TTL, whole seconds (default 10s)
  --synchronous MODE       off (default): synchronous_standby_names untouched; on: the leader names the best
                           streaming standby synchronous, or none; strict: as on, but with no standby
                           streaming, writes wait ('*')
  --watchdog DEVICE        a Linux watchdog (/dev/watchdog) armed while this node is the leader: the host
                           resets if the agent stops renewing it

dcs-status --dcs URL: print what etcd holds under the prefix (leaders, members, sync keys, observations, rule
owners) as JSON; exit 1 when no endpoint answers.

switchover PROJECT REPLICA: SELECT mosta_switchover(PROJECT, REPLICA) on the master (--source), then follow
the request until the master's agent has done it, printing each step; exit status 0 when done, 1 when
refused, failed, or not done within --timeout (default 2m; "no agent ... performed it" when it stayed
pending).

promote PROJECT REPLICA: make a SQLite replica of PROJECT its write target while the PostgreSQL master is
unreachable (docs/failover.md, "Writes on a promoted SQLite replica"). Needs no database: the replica's file,
its rule and its last observation come from the topology file (--tree, the file the daemon writes), the file
from --file or the replica's path under --data-dir. Refused, nothing changed, when the master answers (unless
--force: two write targets, resolved later by the rule's conflict policy), when REPLICA is not a sqlite slave
fed by one cdc rule, or when it fails the lag gate: with lag_tolerance_ms 0 it must have been caught up (status
up, lag 0) at the last observation, otherwise up within its tolerance, and the file must hold at least what was
observed (--allow-data-loss: promote anyway). It installs the capture triggers, writes _mosta_promotion into the
file and rewrites the --tree file with REPLICA as the project's master and write target.
  --tree FILE              the topology file (read, then rewritten)
  --file PATH              the SQLite file (default: the replica's path from the topology file, under --data-dir)
  --force                  promote even when the master answers
  --allow-data-loss        promote even when the lag gate refuses

switch-back PROJECT: once PostgreSQL is back, wait (--timeout, default 2m) until the daemon has applied every
change captured in the promoted SQLite file to PostgreSQL (with the rule's conflict policy) and PostgreSQL's
own changes of the episode to the file, then remove the triggers and the promotion, write the episode's
activity rows and the --tree file: PostgreSQL is the master again. Exit status 0 when done, 1 when refused or
not drained in time (nothing removed), 2 on bad usage.

Environment:
  MOSTA_SOURCE_URI         the source, when --source is not given
  MOSTA_DATA_DIR           the data directory, when --data-dir is not given
  PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ...   used for what the source does not say

The role needs REPLICATION, read access to the replicated tables and to the mosta catalog, and write access
to mosta.rule_stats, mosta.target_status, mosta.replica_status and mosta.activity (the role mosta_sidecar
has all but REPLICATION and the tables' SELECT). Signals: SIGTERM or SIGINT finish the transaction in
flight, flush, confirm, mark the targets stopped (their replicas down: no reads routed there) and exit;
SIGHUP reads the catalog at once. Exit status: 0 after a clean stop (SIGTERM, SIGINT, or --once done),
1 on a runtime failure, 2 on bad configuration.
)";
}

std::string
VersionText() {
	return std::string("mosta-sidecar ") + kMostaVersion + "\n" + ProtocolVersionsText() + "\n";
}

} // namespace mosta::sidecar
