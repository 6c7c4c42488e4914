/*
 * watchdog.hpp
 *     --watchdog DEVICE: a Linux watchdog (/dev/watchdog, softdog or hardware) armed while this node is the leader,
 *     as Patroni does: the agent pets it at every poll where it leads; if the agent (or the whole host) freezes,
 *     the host is reset when the timeout (ttl - fence margin) passes, before another node can take the leader key.
 *     Giving up the leadership disarms it (the magic close 'V'). Best effort beyond the in-server write lease,
 *     which already fences a frozen agent's server; it also covers a frozen postmaster that still commits.
 */
#pragma once

#include <chrono>
#include <string>

namespace mosta::sidecar::ha {

class Watchdog {
  public:
	Watchdog() = default;
	~Watchdog();
	Watchdog(const Watchdog &) = delete;
	Watchdog &operator=(const Watchdog &) = delete;

	// Configure checks that device can be opened and takes timeout (opened, set, disarmed at once); throws
	// std::runtime_error naming the device and the error.
	void Configure(const std::string &device, std::chrono::milliseconds timeout);

	bool
	Configured() const noexcept {
		return !device_.empty();
	}

	bool
	IsOpen() const noexcept {
		return fd_ >= 0;
	}

	// Keepalive arms the watchdog (opens it) if needed, and pets it. Errors are returned as text ("" when fine).
	std::string Keepalive();

	// Disarm closes the watchdog with the magic 'V' (no reset), when armed.
	void Disarm();

  private:
	std::string Open();

	std::string device_;
	std::chrono::milliseconds timeout_{0};
	int fd_ = -1;
};

} // namespace mosta::sidecar::ha
