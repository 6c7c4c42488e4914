/*
 * auth.cpp
 *     Tokens, sessions and the login rate limit (see auth.hpp).
 */
#include "auth.hpp"

#include <cctype>
#include <cerrno>
#include <system_error>
#include <vector>

#include <sys/random.h>

namespace mosta::monitor {

bool
ConstantTimeEquals(std::string_view a, std::string_view b) noexcept {
	// every byte of the longer text is read whatever the contents; only the lengths show in the time
	std::size_t length = a.size() > b.size() ? a.size() : b.size();
	unsigned char difference = a.size() == b.size() ? 0 : 1;
	for (std::size_t i = 0; i < length; ++i) {
		unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
		unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
		difference |= static_cast<unsigned char>(x ^ y);
	}
	// a volatile read keeps the compiler from turning the loop into an early exit
	volatile unsigned char result = difference;
	return result == 0;
}

std::string
RandomHex(std::size_t bytes) {
	std::vector<unsigned char> buffer(bytes);
	std::size_t filled = 0;
	while (filled < bytes) {
		ssize_t got = getrandom(buffer.data() + filled, bytes - filled, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			throw std::system_error(errno, std::generic_category(), "getrandom");
		}
		filled += static_cast<std::size_t>(got);
	}
	static constexpr char kHex[] = "0123456789abcdef";
	std::string out;
	out.reserve(bytes * 2);
	for (unsigned char byte : buffer) {
		out.push_back(kHex[byte >> 4]);
		out.push_back(kHex[byte & 0xF]);
	}
	return out;
}

std::string
Sessions::Create(SteadyTime now) {
	std::erase_if(sessions_, [&](const auto &entry) { return now - entry.second >= kSessionLifetime; });
	while (sessions_.size() >= kMaxSessions) {
		auto oldest = sessions_.begin();
		for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
			if (it->second < oldest->second)
				oldest = it;
		sessions_.erase(oldest);
	}
	std::string id = RandomHex(32);
	sessions_[id] = now;
	return id;
}

bool
Sessions::Valid(std::string_view id, SteadyTime now) {
	if (id.size() != 64)
		return false;
	// the map's ordered lookup would compare ids byte by byte and stop early; check each entry in full instead
	for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
		if (ConstantTimeEquals(it->first, id)) {
			if (now - it->second < kSessionLifetime)
				return true;
			sessions_.erase(it);
			return false;
		}
	return false;
}

void
Sessions::Remove(std::string_view id) {
	auto found = sessions_.find(id);
	if (found != sessions_.end())
		sessions_.erase(found);
}

void
LoginLimiter::Prune(std::deque<SteadyTime> &failures, SteadyTime now) {
	while (!failures.empty() && now - failures.front() >= kWindow)
		failures.pop_front();
}

bool
LoginLimiter::Allowed(const std::string &address, SteadyTime now) {
	return RetryAfter(address, now) == 0;
}

long long
LoginLimiter::RetryAfter(const std::string &address, SteadyTime now) {
	auto found = failures_.find(address);
	if (found == failures_.end())
		return 0;
	Prune(found->second, now);
	if (found->second.size() < kMaxFailures)
		return 0;
	auto wait = std::chrono::ceil<std::chrono::seconds>(found->second.front() + kWindow - now);
	return wait.count() > 0 ? wait.count() : 1;
}

void
LoginLimiter::Fail(const std::string &address, SteadyTime now) {
	if (failures_.size() >= kMaxAddresses && !failures_.count(address)) {
		// drop the addresses whose failures are all old, then, if still full, the one with the oldest last failure
		std::erase_if(failures_, [&](const auto &entry) { return now - entry.second.back() >= kWindow; });
		if (failures_.size() >= kMaxAddresses) {
			auto stalest = failures_.begin();
			for (auto it = failures_.begin(); it != failures_.end(); ++it)
				if (it->second.back() < stalest->second.back())
					stalest = it;
			failures_.erase(stalest);
		}
	}
	std::deque<SteadyTime> &failures = failures_[address];
	Prune(failures, now);
	failures.push_back(now);
	// more than kMaxFailures are never needed to decide
	while (failures.size() > kMaxFailures)
		failures.pop_front();
}

std::optional<std::string_view>
CookieValue(std::string_view header, std::string_view name) {
	while (!header.empty()) {
		std::size_t end = header.find(';');
		std::string_view pair = header.substr(0, end);
		while (!pair.empty() && pair.front() == ' ')
			pair.remove_prefix(1);
		std::size_t eq = pair.find('=');
		if (eq != std::string_view::npos && pair.substr(0, eq) == name)
			return pair.substr(eq + 1);
		if (end == std::string_view::npos)
			break;
		header.remove_prefix(end + 1);
	}
	return std::nullopt;
}

std::optional<std::string_view>
BearerToken(std::string_view header) {
	constexpr std::string_view kScheme = "Bearer ";
	if (header.size() <= kScheme.size())
		return std::nullopt;
	// the scheme is case-insensitive (RFC 9110)
	for (std::size_t i = 0; i < kScheme.size(); ++i)
		if (std::tolower(static_cast<unsigned char>(header[i])) != std::tolower(static_cast<unsigned char>(kScheme[i])))
			return std::nullopt;
	std::string_view token = header.substr(kScheme.size());
	while (!token.empty() && token.front() == ' ')
		token.remove_prefix(1);
	while (!token.empty() && token.back() == ' ')
		token.remove_suffix(1);
	return token;
}

} // namespace mosta::monitor
