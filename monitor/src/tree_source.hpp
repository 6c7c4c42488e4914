/*
 * tree_source.hpp
 *     Where the topology comes from: the file mosta-sidecar --tree writes (watched with inotify on its directory
 *     through an Asio posix::stream_descriptor, and re-read every poll interval as a fallback, for file systems
 *     without inotify), or the catalog (--source: SELECT jsonb_pretty(mosta_topology()) every poll interval).
 *     Each read is handed to a callback; the callback keeps the last good topology (state.hpp).
 */
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace mosta::monitor {

// One read of the source.
struct SourceRead {
	enum class Kind { Text, Missing, Error };
	Kind kind;
	std::string text; // the topology text (Text) or why the read failed (Error)
};

using ReadCallback = std::function<void(const SourceRead &)>;

// kMaxTreeBytes bounds the file read (a topology is kilobytes).
inline constexpr std::size_t kMaxTreeBytes = 64u << 20;

// ReadTreeFile reads the file at path once.
SourceRead ReadTreeFile(const std::string &path);

// WatchTree reads path at once, then on every inotify event of its directory (unless inotify is false) and every
// poll_interval, calling deliver with each read; runs until cancelled (the io_context stops). Never throws out of
// the loop: a failed inotify setup is logged and polling carries on alone.
boost::asio::awaitable<void> WatchTree(std::string path, std::chrono::milliseconds poll_interval, bool inotify,
									   ReadCallback deliver);

// PollCatalog reads mosta_topology() from the database dsn at once and every poll_interval, reconnecting after a
// failure (delivered as an Error with the masked message).
boost::asio::awaitable<void> PollCatalog(std::string dsn, std::chrono::milliseconds poll_interval,
										 ReadCallback deliver);

} // namespace mosta::monitor
