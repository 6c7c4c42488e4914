/*
 * local_server.hpp
 *     The PostgreSQL server a node agent runs next to, handled through its data directory with PostgreSQL's own
 *     programs: pg_ctl (status, start, stop), pg_controldata (the shutdown checkpoint), pg_rewind (a former primary
 *     brought back to a new primary's history) and the two files that make a standby (standby.signal, and
 *     primary_conninfo in postgresql.auto.conf, which pg_basebackup -R and ALTER SYSTEM write too). C++ regime.
 *     The programs run as child processes of the agent, as the agent's OS user, which must be the server's: the
 *     calls block until they end (pg_ctl waits with -w and its own timeout); the agent's io_context serves the agent
 *     alone, and nothing else waits on it meanwhile.
 */
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// ServerError is a server program that failed: what() names the program and quotes the end of its output.
class ServerError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// What pg_controldata says about a data directory (the fields the agent reads).
struct ControlData {
	std::string state;				  // "Database cluster state": "shut down", "in production", ...
	std::optional<Lsn> checkpoint;	  // "Latest checkpoint location"
	std::optional<unsigned> timeline; // "Latest checkpoint's TimeLineID"
	std::string system_identifier;	  // "Database system identifier"
};

// ParseControlData reads pg_controldata's output (the English labels: the agent runs it with LC_ALL=C).
ControlData ParseControlData(const std::string &output);

// SetPrimaryConninfo returns the text of a postgresql.auto.conf with every primary_conninfo line replaced by one
// "primary_conninfo = '<conninfo>'" line (quotes doubled), at the end, as ALTER SYSTEM would leave it.
std::string SetPrimaryConninfo(const std::string &auto_conf, const std::string &conninfo);

// kOwnConfigFiles are the files of a data directory that belong to the node, not to its history: pg_rewind copies
// them from the source server, and the agent puts the node's own back (each node has its own port, socket
// directory, cluster_name, pg_hba.conf).
inline constexpr const char *kOwnConfigFiles[] = {"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf",
												  "pg_ident.conf"};

// The local server: its data directory, the directory of its programs and its log file.
class LocalServer {
  public:
	// LocalServer takes pgdata, bindir ("" runs `pg_config --bindir`, pg_config being $PG_CONFIG or found on PATH)
	// and log_file (pg_ctl -l; "" for pgdata/mosta-agent-postgres.log).
	LocalServer(std::string pgdata, std::string bindir, std::string log_file);

	const std::string &
	DataDir() const noexcept {
		return pgdata_;
	}

	// IsRunning tells whether a postmaster runs on the data directory (pg_ctl status).
	bool IsRunning() const;

	// Start starts the server and waits until it accepts connections (pg_ctl start -w), within timeout.
	void Start(std::chrono::seconds timeout) const;

	// Stop stops the server (pg_ctl stop -w) in mode "fast" or "immediate", within timeout.
	void Stop(const std::string &mode, std::chrono::seconds timeout) const;

	// Control runs pg_controldata.
	ControlData Control() const;

	// Rewind runs pg_rewind --source-server=source_conninfo on the stopped data directory (it finishes crash
	// recovery itself first when the server was killed) and puts the node's own kOwnConfigFiles back. Returns
	// pg_rewind's output. Throws ServerError when it fails (the configuration files are put back all the same).
	std::string Rewind(const std::string &source_conninfo) const;

	// HasStandbySignal tells whether standby.signal exists: the server starts as a standby.
	bool HasStandbySignal() const;

	// MakeStandby writes standby.signal and, when primary_conninfo is not empty, sets it in postgresql.auto.conf;
	// the server must be stopped. An empty primary_conninfo keeps the current one (a fenced start: read-only).
	void MakeStandby(const std::string &primary_conninfo) const;

	// RemoveStandbySignal removes standby.signal (the server then starts as a primary); the server must be stopped.
	void RemoveStandbySignal() const;

  private:
	// Run runs program of bindir_ with args, LC_ALL=C, and returns its exit status and output (stdout and stderr).
	int Run(const std::string &program, const std::vector<std::string> &args, std::string &output) const;

	std::string pgdata_;
	std::string bindir_;
	std::string log_file_;
};

// RunProgram runs path with args (no shell), LC_ALL=C, collecting stdout and stderr into output; returns the exit
// status (128 + N when killed by signal N). Throws ServerError when it cannot be started.
int RunProgram(const std::string &path, const std::vector<std::string> &args, std::string &output);

} // namespace mosta::sidecar::ha
