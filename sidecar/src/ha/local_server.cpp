/*
 * local_server.cpp
 *     pg_ctl, pg_controldata, pg_rewind and the standby files of the local data directory (see local_server.hpp).
 */
#include "ha/local_server.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mosta/common/conninfo.hpp"

namespace mosta::sidecar::ha {

namespace fs = std::filesystem;

namespace {

// kOutputTail is how much of a failed program's output goes into the error message.
constexpr std::size_t kOutputTail = 600;

// Tail returns the last kOutputTail characters of output, trimmed and masked.
std::string
Tail(const std::string &output) {
	std::string tail = output.size() > kOutputTail ? "..." + output.substr(output.size() - kOutputTail) : output;
	while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' '))
		tail.pop_back();
	return MaskCredentialsInText(tail);
}

// ReadFile returns the content of path ("" when it does not exist).
std::string
ReadFile(const fs::path &path) {
	std::ifstream in(path, std::ios::binary);
	std::ostringstream text;
	text << in.rdbuf();
	return text.str();
}

// WriteFile replaces path with content (through a temporary file renamed over it), mode 0600.
void
WriteFile(const fs::path &path, const std::string &content) {
	fs::path temporary = path;
	temporary += ".mosta-tmp";
	{
		std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
		out << content;
		out.flush();
		if (!out)
			throw ServerError("cannot write " + temporary.string());
	}
	fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write);
	fs::rename(temporary, path);
}

// Trim removes leading and trailing blanks.
std::string
Trim(const std::string &text) {
	const std::size_t first = text.find_first_not_of(" \t");
	if (first == std::string::npos)
		return {};
	return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

} // namespace

int
RunProgram(const std::string &path, const std::vector<std::string> &args, std::string &output) {
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		throw ServerError("cannot run " + path + ": pipe: " + std::strerror(errno));
	std::vector<char *> argv;
	argv.push_back(const_cast<char *>(path.c_str()));
	for (const std::string &arg : args)
		argv.push_back(const_cast<char *>(arg.c_str()));
	argv.push_back(nullptr);
	const pid_t child = fork();
	if (child < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		throw ServerError("cannot run " + path + ": fork: " + std::strerror(errno));
	}
	if (child == 0) {
		// the child: only async-signal-safe calls until exec
		dup2(pipe_fds[1], STDOUT_FILENO);
		dup2(pipe_fds[1], STDERR_FILENO);
		const int null_fd = open("/dev/null", O_RDONLY);
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		setenv("LC_ALL", "C", 1);
		execv(path.c_str(), argv.data());
		const char message[] = "exec failed\n";
		(void)!write(STDERR_FILENO, message, sizeof message - 1);
		_exit(127);
	}
	close(pipe_fds[1]);
	output.clear();
	char buffer[4096];
	for (;;) {
		const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
		if (n > 0)
			output.append(buffer, static_cast<std::size_t>(n));
		else if (n == 0 || errno != EINTR)
			break;
	}
	close(pipe_fds[0]);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

ControlData
ParseControlData(const std::string &output) {
	std::map<std::string, std::string> fields;
	std::istringstream lines(output);
	for (std::string line; std::getline(lines, line);) {
		const std::size_t colon = line.find(':');
		if (colon != std::string::npos)
			fields[Trim(line.substr(0, colon))] = Trim(line.substr(colon + 1));
	}
	ControlData data;
	data.state = fields["Database cluster state"];
	data.checkpoint = ParseLsn(fields["Latest checkpoint location"]);
	if (const std::string &tli = fields["Latest checkpoint's TimeLineID"]; !tli.empty())
		data.timeline = static_cast<unsigned>(std::stoul(tli));
	data.system_identifier = fields["Database system identifier"];
	return data;
}

std::string
SetPrimaryConninfo(const std::string &auto_conf, const std::string &conninfo) {
	std::string kept;
	std::istringstream lines(auto_conf);
	for (std::string line; std::getline(lines, line);) {
		if (Trim(line).rfind("primary_conninfo", 0) == 0)
			continue;
		kept += line + "\n";
	}
	std::string quoted;
	for (char c : conninfo) {
		if (c == '\'')
			quoted += '\'';
		quoted += c;
	}
	return kept + "primary_conninfo = '" + quoted + "'\n";
}

LocalServer::LocalServer(std::string pgdata, std::string bindir, std::string log_file)
	: pgdata_(std::move(pgdata)), bindir_(std::move(bindir)), log_file_(std::move(log_file)) {
	if (bindir_.empty()) {
		const char *pg_config = std::getenv("PG_CONFIG");
		std::string path = pg_config != nullptr && *pg_config != '\0' ? pg_config : "pg_config";
		if (path.find('/') == std::string::npos) {
			// search PATH, as a shell would
			const char *search = std::getenv("PATH");
			std::istringstream dirs(search != nullptr ? search : "/usr/bin:/bin");
			for (std::string dir; std::getline(dirs, dir, ':');)
				if (access((dir + "/" + path).c_str(), X_OK) == 0) {
					path = dir + "/" + path;
					break;
				}
		}
		std::string output;
		if (RunProgram(path, {"--bindir"}, output) != 0)
			throw ServerError("cannot find PostgreSQL's programs: " + path + " --bindir failed: " + Tail(output) +
							  " (give --pg-bindir)");
		bindir_ = Trim(output.substr(0, output.find('\n')));
	}
	if (log_file_.empty())
		log_file_ = (fs::path(pgdata_) / "mosta-agent-postgres.log").string();
}

int
LocalServer::Run(const std::string &program, const std::vector<std::string> &args, std::string &output) const {
	return RunProgram((fs::path(bindir_) / program).string(), args, output);
}

bool
LocalServer::IsRunning() const {
	std::string output;
	// 0: running; 3: not running; 4: no data directory there
	const int status = Run("pg_ctl", {"status", "-D", pgdata_}, output);
	if (status == 4)
		throw ServerError("pg_ctl status: " + pgdata_ + " is not a data directory: " + Tail(output));
	return status == 0;
}

void
LocalServer::Start(std::chrono::seconds timeout) const {
	std::string output;
	if (Run("pg_ctl", {"start", "-w", "-t", std::to_string(timeout.count()), "-D", pgdata_, "-l", log_file_}, output) !=
		0)
		throw ServerError("pg_ctl start failed: " + Tail(output) + " (see " + log_file_ + ")");
}

void
LocalServer::Stop(const std::string &mode, std::chrono::seconds timeout) const {
	std::string output;
	if (Run("pg_ctl", {"stop", "-w", "-m", mode, "-t", std::to_string(timeout.count()), "-D", pgdata_}, output) != 0)
		throw ServerError("pg_ctl stop -m " + mode + " failed: " + Tail(output));
}

ControlData
LocalServer::Control() const {
	std::string output;
	if (Run("pg_controldata", {"-D", pgdata_}, output) != 0)
		throw ServerError("pg_controldata failed: " + Tail(output));
	return ParseControlData(output);
}

std::string
LocalServer::Rewind(const std::string &source_conninfo) const {
	const fs::path data(pgdata_);
	std::map<std::string, std::string> saved;
	for (const char *name : kOwnConfigFiles)
		if (fs::exists(data / name))
			saved[name] = ReadFile(data / name);
	std::string output;
	const int status = Run("pg_rewind", {"--target-pgdata=" + pgdata_, "--source-server=" + source_conninfo}, output);
	// the node's own configuration, whatever pg_rewind did
	for (const auto &[name, content] : saved)
		WriteFile(data / name, content);
	if (status != 0)
		throw ServerError("pg_rewind from " + MaskCredentials(source_conninfo) + " failed: " + Tail(output));
	return Tail(output);
}

bool
LocalServer::HasStandbySignal() const {
	return fs::exists(fs::path(pgdata_) / "standby.signal");
}

void
LocalServer::MakeStandby(const std::string &primary_conninfo) const {
	const fs::path data(pgdata_);
	if (!primary_conninfo.empty())
		WriteFile(data / "postgresql.auto.conf",
				  SetPrimaryConninfo(ReadFile(data / "postgresql.auto.conf"), primary_conninfo));
	WriteFile(data / "standby.signal", "");
}

void
LocalServer::RemoveStandbySignal() const {
	std::error_code ignored;
	fs::remove(fs::path(pgdata_) / "standby.signal", ignored);
}

} // namespace mosta::sidecar::ha
