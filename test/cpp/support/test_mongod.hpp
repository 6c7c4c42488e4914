/*
 * test_mongod.hpp
 *     Starting and stopping mosta-test-mongod (test/support/mongod) from a GoogleTest suite: on a free port,
 *     reading its "listening on 127.0.0.1:PORT" line with a deadline. Header only: mongod_tests and copy_tests
 *     include it.
 */
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace mosta::test {

// StartTestMongod starts binary on a free port; returns "mongodb://127.0.0.1:PORT" and sets *pid, or returns ""
// with the server's first output line (or nothing) in *error when it did not start within 20 s.
inline std::string
StartTestMongod(const char *binary, pid_t *pid, std::string *error) {
	int out[2];
	if (pipe(out) != 0) {
		*error = "pipe failed";
		return "";
	}
	*pid = fork();
	if (*pid < 0) {
		*error = "fork failed";
		return "";
	}
	if (*pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		execl(binary, binary, "--port", "0", static_cast<char *>(nullptr));
		_exit(127);
	}
	close(out[1]);
	std::string line;
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
	while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
		pollfd fd{out[0], POLLIN, 0};
		if (poll(&fd, 1, 200) <= 0)
			continue;
		char buffer[256];
		ssize_t n = read(out[0], buffer, sizeof buffer);
		if (n <= 0)
			break;
		line.append(buffer, static_cast<size_t>(n));
	}
	close(out[0]);
	std::size_t colon = line.rfind(':');
	if (line.find("listening on") == std::string::npos || colon == std::string::npos) {
		*error = "mosta-test-mongod did not start: " + line;
		return "";
	}
	return "mongodb://127.0.0.1:" + line.substr(colon + 1, line.find('\n') - colon - 1);
}

// TestMongoUri returns MOSTA_TEST_MONGO_URI when it is set (a real server the tests use as it is; *pid stays as it
// was), else the URI of a mosta-test-mongod started from binary (StartTestMongod; "" and *error on failure).
inline std::string
TestMongoUri(const char *binary, pid_t *pid, std::string *error) {
	if (const char *uri = std::getenv("MOSTA_TEST_MONGO_URI"); uri != nullptr && *uri != '\0')
		return uri;
	return StartTestMongod(binary, pid, error);
}

// StopTestMongod sends SIGTERM to pid and returns its wait status.
inline int
StopTestMongod(pid_t pid) {
	kill(pid, SIGTERM);
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

} // namespace mosta::test
