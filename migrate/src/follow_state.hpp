/*
 * follow_state.hpp
 *     The catch-up's row of mosta_migration.stream (state.hpp) and the lock that lets one follower run per mapping:
 *     a session-level advisory lock on (hashtext('mosta-migrate follow'), hashtext(mapping)), held by the follower
 *     for as long as its connection lives (a kill -9 releases it with the connection). cutover tells from the same
 *     lock whether a follower is running.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sink/pg_session.hpp"

namespace mosta::migrate {

struct StreamRow {
	std::string resume_token; // relaxed JSON of the token document
	std::string start_token;
	std::int64_t applied = 0;
	std::optional<std::string> last_event_at; // timestamptz texts
	std::optional<std::string> cutover_requested_at;
	std::optional<std::string> stopped_at;
};

// ReadStream returns the mapping's row, nullopt when there is none; for_update locks it (inside a transaction).
std::optional<StreamRow> ReadStream(sidecar::PgSession &session, const std::string &mapping, bool for_update = false);

// SaveStreamPosition moves the row to resume_token, adds applied events, sets last_event_at from last_wall_ms
// (ms since the epoch; 0 keeps it) and, when stop, stopped_at = now(); inside the caller's transaction.
void SaveStreamPosition(sidecar::PgSession &session, const std::string &mapping, const std::string &resume_token,
						std::int64_t applied, std::int64_t last_wall_ms, bool stop);

// RequestCutover sets cutover_requested_at (kept when already set); returns the row after it.
StreamRow RequestCutover(sidecar::PgSession &session, const std::string &mapping);

// ResetCutover clears cutover_requested_at and stopped_at.
void ResetCutover(sidecar::PgSession &session, const std::string &mapping);

// TryFollowerLock takes the mapping's follower lock for the session's lifetime (re-entrant in one session); false
// when another session holds it.
bool TryFollowerLock(sidecar::PgSession &session, const std::string &mapping);

// UnlockFollower releases the lock TryFollowerLock took (once).
void UnlockFollower(sidecar::PgSession &session, const std::string &mapping);

// NoStreamMessage is the error of a mapping without a stream row: what to run first.
std::string NoStreamMessage(const std::string &mapping);

} // namespace mosta::migrate
