/*
 * watchdog.cpp
 *     The Linux watchdog device (see watchdog.hpp).
 */
#include "ha/watchdog.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <unistd.h>

namespace mosta::sidecar::ha {

Watchdog::~Watchdog() {
	Disarm();
}

std::string
Watchdog::Open() {
	fd_ = open(device_.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd_ < 0)
		return "cannot open the watchdog " + device_ + ": " + std::strerror(errno);
	int seconds = static_cast<int>(std::max<long long>(1, timeout_.count() / 1000));
	if (ioctl(fd_, WDIOC_SETTIMEOUT, &seconds) != 0) {
		const std::string error = std::strerror(errno);
		Disarm();
		return "cannot set the timeout of the watchdog " + device_ + ": " + error;
	}
	return {};
}

void
Watchdog::Configure(const std::string &device, std::chrono::milliseconds timeout) {
	device_ = device;
	timeout_ = timeout;
	const std::string error = Open();
	if (!error.empty()) {
		device_.clear();
		throw std::runtime_error(error + " (--watchdog: the agent's user must be able to write it; softdog: "
										 "modprobe softdog)");
	}
	Disarm();
}

std::string
Watchdog::Keepalive() {
	if (device_.empty())
		return {};
	if (fd_ < 0) {
		std::string error = Open();
		if (!error.empty())
			return error;
	}
	if (ioctl(fd_, WDIOC_KEEPALIVE, nullptr) != 0)
		return "cannot pet the watchdog " + device_ + ": " + std::strerror(errno);
	return {};
}

void
Watchdog::Disarm() {
	if (fd_ < 0)
		return;
	[[maybe_unused]] ssize_t written = write(fd_, "V", 1);
	close(fd_);
	fd_ = -1;
}

} // namespace mosta::sidecar::ha
