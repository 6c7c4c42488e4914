/*
 * auth.hpp
 *     Authentication of mosta-monitor: the token (compared in constant time), login sessions (random 32-byte ids
 *     in an HttpOnly cookie; the cookie never holds the token) and the failed-login rate limit (5 per address per
 *     60 s). Times are steady-clock points passed in by the caller, so tests drive the clock.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mosta::monitor {

using SteadyTime = std::chrono::steady_clock::time_point;

// kSessionCookie is the session cookie's name.
inline constexpr std::string_view kSessionCookie = "mosta_monitor_session";

// ConstantTimeEquals compares a and b in a time that depends only on their lengths, never on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) noexcept;

// RandomHex returns bytes random bytes (getrandom) as lowercase hex; throws std::system_error when the kernel
// gives none.
std::string RandomHex(std::size_t bytes);

// Sessions: the ids of logged-in browsers, each valid for kSessionLifetime from its login.
class Sessions {
  public:
	static constexpr std::chrono::hours kSessionLifetime{12};
	static constexpr std::size_t kMaxSessions = 1000; // the oldest goes when a new login would pass this

	// Create returns a new session id (64 hex digits).
	std::string Create(SteadyTime now);

	// Valid tells whether id is a live session (its lookup compares in constant time per entry).
	bool Valid(std::string_view id, SteadyTime now);

	// Remove forgets id.
	void Remove(std::string_view id);

	std::size_t
	Size() const noexcept {
		return sessions_.size();
	}

  private:
	std::map<std::string, SteadyTime, std::less<>> sessions_; // id -> created
};

// LoginLimiter: more than kMaxFailures failed logins from one address within kWindow → refused until the
// oldest of them is kWindow old.
class LoginLimiter {
  public:
	static constexpr std::size_t kMaxFailures = 5;
	static constexpr std::chrono::seconds kWindow{60};
	static constexpr std::size_t kMaxAddresses = 10000; // addresses kept; the stalest go first

	// Allowed tells whether address may try a login at now.
	bool Allowed(const std::string &address, SteadyTime now);

	// RetryAfter returns the seconds until address may try again (0 when it may).
	long long RetryAfter(const std::string &address, SteadyTime now);

	// Fail records a failed login from address at now.
	void Fail(const std::string &address, SteadyTime now);

  private:
	// Prune drops the failures of address older than kWindow.
	void Prune(std::deque<SteadyTime> &failures, SteadyTime now);

	std::map<std::string, std::deque<SteadyTime>> failures_;
};

// CookieValue returns the value of cookie name in a Cookie header, or nullopt.
std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name);

// BearerToken returns the token of an "Authorization: Bearer TOKEN" header value, or nullopt.
std::optional<std::string_view> BearerToken(std::string_view header);

} // namespace mosta::monitor
