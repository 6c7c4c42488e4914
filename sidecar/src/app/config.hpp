/*
 * config.hpp
 *     The daemon's configuration: the command line (and MOSTA_SOURCE_URI), parsed without side effects so that
 *     tests can check every flag. A bad flag or value throws ConfigError, whose message names it; main exits 2.
 */
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace mosta::sidecar {

// kDefaultDataDir is the data directory when neither --data-dir nor MOSTA_DATA_DIR is given.
inline constexpr const char *kDefaultDataDir = "/var/lib/mosta";

// Everything mosta-sidecar takes from its command line and environment.
struct Config {
	std::string source;									   // libpq conninfo or URI; "" takes the PG* variables
	bool once = false;									   // process what is there, then exit
	bool help = false;									   // print HelpText() and exit 0
	std::chrono::milliseconds status_interval{5'000};	   // how often status goes to the catalog
	std::chrono::milliseconds poll_interval{1'000};		   // no XLogData for this long: the stream is idle, flush
	std::chrono::milliseconds heartbeat_interval{60'000};  // mosta_heartbeat() this often; 0: never
	long long retained_wal_warning = 1LL << 30;			   // warn when a slot retains more WAL (bytes); 0: never
	std::string tree_path;								   // --tree: the topology JSON file; "" for none
	bool verify = false;								   // the verify subcommand: compare, print, exit
	std::string verify_rule;							   // verify's RULE
	bool failover = false;								   // the failover subcommand (ha/failover.hpp)
	std::string failover_project;						   // failover's PROJECT
	std::string failover_to;							   // --to REPLICA; "" chooses the best eligible standby
	bool allow_data_loss = false;						   // --allow-data-loss: promote past the lag gate
	bool agent = false;									   // the agent subcommand (ha/node_agent.hpp)
	bool switchover = false;							   // the switchover subcommand (ha/switchover.hpp)
	std::string ha_project;								   // agent --project, switchover's PROJECT
	std::string switchover_replica;						   // switchover's REPLICA
	std::string node;									   // agent --node: this node's replica name
	std::string pgdata;									   // agent --pgdata
	std::string pg_log;									   // agent --pg-log ("" : under --state-dir)
	std::string state_dir;								   // agent --state-dir (the peer cache)
	std::string pg_bindir;								   // agent --pg-bindir ("" : pg_config --bindir)
	std::chrono::milliseconds catchup_timeout{30'000};	   // agent: a switchover's wait for the standby
	std::chrono::milliseconds switchover_timeout{120'000}; // switchover, switch-back --timeout: how long to wait
	bool promote = false;								   // promote PROJECT REPLICA (ha/sqlite_promotion.hpp)
	std::string promote_replica;						   // promote's REPLICA (a sqlite slave)
	bool switch_back = false;							   // switch-back PROJECT (ha/sqlite_promotion.hpp)
	std::string sqlite_file;							   // promote, switch-back --file: the SQLite file itself
	bool force = false;									   // promote --force: even when the master answers
	int ttl_batch = 1000; // --ttl-batch: rows per TTL delete (app/ttl.hpp); 0: no TTL pass
	bool version = false; // --version: print VersionText() and exit 0
	// --dcs etcd://host:port[,...]/prefix: leases in etcd (docs/ha.md); daemon: one sidecar applies each rule;
	// agent: a leader key per project, automatic failover, fencing. "" : no DCS (the manual HA of docs/failover.md)
	std::string dcs;
	std::chrono::milliseconds dcs_ttl{10'000}; // --dcs-ttl: the leases' TTL (whole seconds)
	std::string synchronous = "off";		   // agent --synchronous off|on|strict: synchronous_standby_names
	std::string watchdog;					   // agent --watchdog DEVICE: a Linux watchdog kept while leader
	std::string sidecar_name;				   // --name: this daemon in the rule leases ("" : host:pid)
	bool dcs_status = false;				   // the dcs-status subcommand: print the DCS's keys as JSON
	// --data-dir (MOSTA_DATA_DIR): file targets live under it (app/target_path.hpp); absolute, lexically normal
	std::string data_dir = kDefaultDataDir;
};

// ConfigError is a bad flag or value; what() names it.
class ConfigError : public std::invalid_argument {
  public:
	using std::invalid_argument::invalid_argument;
};

// ParseDuration reads "250ms", "5s", "2m" or a bare number of seconds ("5"); throws ConfigError naming flag.
std::chrono::milliseconds ParseDuration(const std::string &flag, const std::string &text);

// ParseSize reads "512MB", "1GB", "64kB" or a bare number of bytes (units are powers of 1024, as in
// postgresql.conf); throws ConfigError naming flag.
long long ParseSize(const std::string &flag, const std::string &text);

// ParseConfig reads args (without argv[0]; "verify RULE [--source DSN] [--data-dir DIR]" selects the verify
// subcommand, "failover PROJECT [--to REPLICA] [--allow-data-loss] [--source DSN]" the failover one, "promote
// PROJECT REPLICA" and "switch-back PROJECT" those of a SQLite replica's promotion), source_env
// (MOSTA_SOURCE_URI) and data_dir_env (MOSTA_DATA_DIR), each null when unset; throws ConfigError.
Config ParseConfig(const std::vector<std::string> &args, const char *source_env, const char *data_dir_env = nullptr);

// VersionText is what --version prints: the version, and the protocol and catalog versions spoken.
std::string VersionText();

// HelpText documents every flag and environment variable.
std::string HelpText();

} // namespace mosta::sidecar
