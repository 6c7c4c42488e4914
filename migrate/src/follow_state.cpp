/*
 * follow_state.cpp
 *     The stream row and the follower lock (follow_state.hpp).
 */
#include "follow_state.hpp"

#include <libpq-fe.h>

namespace mosta::migrate {

namespace {

constexpr const char *kColumns =
	"resume_token, start_token, applied, last_event_at::text, cutover_requested_at::text, stopped_at::text";

std::optional<std::string>
TextAt(const PGresult *result, int column) {
	if (PQgetisnull(result, 0, column))
		return std::nullopt;
	return std::string(PQgetvalue(result, 0, column));
}

StreamRow
RowOf(const PGresult *result) {
	StreamRow row;
	row.resume_token = PQgetvalue(result, 0, 0);
	row.start_token = PQgetvalue(result, 0, 1);
	row.applied = std::stoll(PQgetvalue(result, 0, 2));
	row.last_event_at = TextAt(result, 3);
	row.cutover_requested_at = TextAt(result, 4);
	row.stopped_at = TextAt(result, 5);
	return row;
}

} // namespace

std::optional<StreamRow>
ReadStream(sidecar::PgSession &session, const std::string &mapping, bool for_update) {
	std::string sql = std::string("SELECT ") + kColumns + " FROM mosta_migration.stream WHERE mapping = $1" +
					  (for_update ? " FOR UPDATE" : "");
	sidecar::PgResultHandle result = session.Query(sql, {mapping.c_str()}, "reading mosta_migration.stream");
	if (PQntuples(result.get()) == 0)
		return std::nullopt;
	return RowOf(result.get());
}

void
SaveStreamPosition(sidecar::PgSession &session, const std::string &mapping, const std::string &resume_token,
				   std::int64_t applied, std::int64_t last_wall_ms, bool stop) {
	std::string applied_text = std::to_string(applied);
	std::string wall_text = std::to_string(last_wall_ms);
	session.Query("UPDATE mosta_migration.stream SET resume_token = $2, applied = applied + $3::bigint, "
				  "last_event_at = CASE WHEN $4::bigint = 0 THEN last_event_at "
				  "ELSE to_timestamp($4::bigint / 1000.0) END, "
				  "updated_at = now(), stopped_at = CASE WHEN $5::boolean THEN now() ELSE stopped_at END "
				  "WHERE mapping = $1",
				  {mapping.c_str(), resume_token.c_str(), applied_text.c_str(), wall_text.c_str(), stop ? "t" : "f"},
				  "saving the change-stream position");
}

StreamRow
RequestCutover(sidecar::PgSession &session, const std::string &mapping) {
	sidecar::PgResultHandle result =
		session.Query(std::string("UPDATE mosta_migration.stream SET cutover_requested_at = "
								  "coalesce(cutover_requested_at, now()), updated_at = now() WHERE mapping = $1 "
								  "RETURNING ") +
						  kColumns,
					  {mapping.c_str()}, "marking the cutover");
	if (PQntuples(result.get()) == 0)
		throw std::runtime_error(NoStreamMessage(mapping));
	return RowOf(result.get());
}

void
ResetCutover(sidecar::PgSession &session, const std::string &mapping) {
	session.Query("UPDATE mosta_migration.stream SET cutover_requested_at = NULL, stopped_at = NULL, "
				  "updated_at = now() WHERE mapping = $1",
				  {mapping.c_str()}, "clearing the cutover mark");
}

bool
TryFollowerLock(sidecar::PgSession &session, const std::string &mapping) {
	sidecar::PgResultHandle result =
		session.Query("SELECT pg_try_advisory_lock(hashtext('mosta-migrate follow'), hashtext($1))", {mapping.c_str()},
					  "taking the follower lock");
	return std::string(PQgetvalue(result.get(), 0, 0)) == "t";
}

void
UnlockFollower(sidecar::PgSession &session, const std::string &mapping) {
	session.Query("SELECT pg_advisory_unlock(hashtext('mosta-migrate follow'), hashtext($1))", {mapping.c_str()},
				  "releasing the follower lock");
}

std::string
NoStreamMessage(const std::string &mapping) {
	return "mapping " + mapping +
		   " has no change-stream position (no row in mosta_migration.stream): run "
		   "`mosta-migrate backfill` first (it records where the catch-up starts before it reads anything)";
}

} // namespace mosta::migrate
