/*
 * tree_source.cpp
 *     The topology sources (see tree_source.hpp).
 */
#include "tree_source.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <libpq-fe.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.hpp"
#include "mosta/common/conninfo.hpp"
#include "pg/connection.hpp"

namespace mosta::monitor {

namespace asio = boost::asio;

SourceRead
ReadTreeFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in) {
		int error = errno;
		if (error == ENOENT)
			return {SourceRead::Kind::Missing, {}};
		return {SourceRead::Kind::Error, std::strerror(error)};
	}
	std::string text;
	std::array<char, 65536> buffer;
	while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
		text.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
		if (text.size() > kMaxTreeBytes)
			return {SourceRead::Kind::Error, "larger than " + std::to_string(kMaxTreeBytes >> 20) + " MiB"};
	}
	if (in.bad())
		return {SourceRead::Kind::Error, "read error"};
	return {SourceRead::Kind::Text, std::move(text)};
}

namespace {

// WatchDirectory re-reads path on each inotify event about its name in its directory; returns when inotify
// cannot be used (logged).
asio::awaitable<void>
WatchDirectory(std::string path, ReadCallback deliver) {
	std::filesystem::path file(path);
	std::string directory = file.has_parent_path() ? file.parent_path().string() : ".";
	std::string name = file.filename().string();
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		MonitorLog("inotify is not available (" + std::string(std::strerror(errno)) + "): polling only");
		co_return;
	}
	asio::posix::stream_descriptor notify(co_await asio::this_coro::executor, fd);
	// whole writes only: a rename into place or a closed file, and removals; never IN_MODIFY (a half-written
	// file)
	constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;
	if (inotify_add_watch(fd, directory.c_str(), kMask) < 0) {
		MonitorLog("cannot watch " + directory + " (" + std::string(std::strerror(errno)) + "): polling only");
		co_return;
	}
	alignas(inotify_event) std::array<char, 16384> buffer;
	for (;;) {
		co_await notify.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
		bool ours = false;
		for (;;) {
			ssize_t got = ::read(fd, buffer.data(), buffer.size());
			if (got <= 0)
				break;
			for (ssize_t at = 0; at < got;) {
				const auto *event = reinterpret_cast<const inotify_event *>(buffer.data() + at);
				if ((event->mask & IN_Q_OVERFLOW) || (event->len > 0 && name == event->name))
					ours = true;
				at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
			}
		}
		if (ours)
			deliver(ReadTreeFile(path));
	}
}

} // namespace

asio::awaitable<void>
WatchTree(std::string path, std::chrono::milliseconds poll_interval, bool inotify, ReadCallback deliver) {
	auto executor = co_await asio::this_coro::executor;
	deliver(ReadTreeFile(path));
	if (inotify)
		asio::co_spawn(executor, WatchDirectory(path, deliver), [](std::exception_ptr error) {
			if (!error)
				return;
			try {
				std::rethrow_exception(error);
			} catch (const boost::system::system_error &e) {
				if (e.code() != asio::error::operation_aborted)
					MonitorLog(std::string("file watch stopped: ") + e.what() + "; polling only");
			} catch (const std::exception &e) {
				MonitorLog(std::string("file watch stopped: ") + e.what() + "; polling only");
			}
		});
	asio::steady_timer timer(executor);
	for (;;) {
		timer.expires_after(poll_interval);
		co_await timer.async_wait(asio::use_awaitable);
		deliver(ReadTreeFile(path));
	}
}

asio::awaitable<void>
PollCatalog(std::string dsn, std::chrono::milliseconds poll_interval, ReadCallback deliver) {
	auto executor = co_await asio::this_coro::executor;
	sidecar::PgConnection conn(executor);
	asio::steady_timer timer(executor);
	const std::string sql = "SELECT jsonb_pretty(mosta_topology())";
	bool failing = false;
	for (;;) {
		SourceRead read{SourceRead::Kind::Error, {}};
		try {
			if (!conn.IsOpen())
				co_await conn.Connect(dsn, sidecar::ConnectionKind::Sql);
			sidecar::PgResultHandle result = co_await conn.Exec("reading the topology (mosta_topology())", sql);
			if (PQntuples(result.get()) != 1 || PQgetisnull(result.get(), 0, 0))
				throw std::runtime_error("mosta_topology() returned no topology");
			read = {SourceRead::Kind::Text, PQgetvalue(result.get(), 0, 0)};
			if (failing)
				MonitorLog("the catalog answers again");
			failing = false;
		} catch (const std::exception &e) {
			read.text = MaskCredentialsInText(e.what());
			conn.Close();
		}
		if (read.kind == SourceRead::Kind::Error && !failing) {
			MonitorLog("cannot read the catalog: " + read.text + "; trying again every poll interval");
			failing = true;
		}
		deliver(read);
		timer.expires_after(poll_interval);
		co_await timer.async_wait(asio::use_awaitable);
	}
}

} // namespace mosta::monitor
