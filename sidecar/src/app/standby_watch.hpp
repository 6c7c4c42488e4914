/*
 * standby_watch.hpp
 *     The watch over PostgreSQL standbys (issue 13): every `postgres` replica with role slave in the catalog is
 *     checked, each status interval, to be a physical streaming standby of its project's master, and its state,
 *     lag and sync_state go to mosta.replica_status (docs/sidecar.md, "PostgreSQL standbys"). C++ regime; one
 *     non-blocking PgConnection per standby and per master, on the daemon's io_context, in a coroutine of its own,
 *     so that a failing standby never holds up the rules. The nodes are read in parallel, each within 5 s; a node
 *     that does not answer still delays the round (and so every standby's report) by up to that.
 */
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "app/config.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar {

// MasterHistory remembers the master's WAL position at past observations: (the master's clock in ms since the
// epoch, pg_current_wal_lsn()), oldest first, LSNs non-decreasing.
class MasterHistory {
  public:
	// Add records an observation; the oldest are forgotten past kMaxEntries.
	void Add(double at_ms, Lsn lsn);

	// Previous returns the LSN of the observation before the last one, if any.
	std::optional<Lsn> Previous() const;

	// CurrentAsOf returns the latest observation time at which the master's LSN was <= replay_lsn: the standby
	// held everything the master had then. Unset when no remembered observation qualifies.
	std::optional<double> CurrentAsOf(Lsn replay_lsn) const;

  private:
	static constexpr std::size_t kMaxEntries = 4096;
	std::deque<std::pair<double, Lsn>> entries_;
};

// StandbyLagMs returns the time lag of a standby that replayed up to replay_lsn while the master is at master_lsn
// (now_ms on the master's clock; replay_ts_ms the commit time of the last replayed transaction, unset if none),
// given the master's history, which already holds the current observation: 0 when the standby replayed
// everything, or everything the master had at the previous observation (the master's LSN moves by the sidecar's
// own status writes, so the standby is never at the current LSN of a busy catalog); otherwise now minus the
// latest time the standby is known to be current as of (the later of the last replayed commit and the last
// observation it has caught up with). Unset when nothing tells.
std::optional<std::int64_t> StandbyLagMs(const MasterHistory &history, Lsn master_lsn, Lsn replay_lsn, double now_ms,
										 std::optional<double> replay_ts_ms);

// WatchStandbys runs until *stop is set: each status interval it reads the catalog's postgres slaves (through a
// connection of its own to config.source), checks each against its project's master, and writes its row of
// mosta.replica_status. Errors are logged and retried at the next interval; it never throws. At the end it marks
// the standbys it reported `unknown` ("not watched: mosta-sidecar stopped"): their lag is no longer measured.
boost::asio::awaitable<void> WatchStandbys(const Config &config, const bool *stop);

} // namespace mosta::sidecar
