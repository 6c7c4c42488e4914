/*
 * promotion.hpp
 *     The steps that change a project's PostgreSQL topology, shared by failover, switchover and the node agent:
 *     promote a standby, swap the master and slave roles in the catalog, point a standby at a new primary, and log
 *     each decision in mosta.activity. C++ regime; coroutines over PgConnection (pg/connection.hpp), as
 *     node_probe.hpp. None of them needs the old master: they run on the promoted node and on the standbys.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "ha/node_probe.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// What PromoteStandby did.
struct PromotionResult {
	std::chrono::milliseconds took{0};	   // from pg_promote() to pg_is_in_recovery() false
	std::optional<std::uint32_t> timeline; // the new timeline
	std::optional<Lsn> lsn;				   // pg_current_wal_lsn() right after the promotion
};

// PromoteStandby connects to uri (a standby), runs `SELECT pg_promote(true, wait_seconds)` and then polls until
// pg_is_in_recovery() is false, everything within wait + a few seconds. Throws std::runtime_error (masked) when
// the node is not in recovery to begin with, when pg_promote() returns false, or on a timeout; PgError otherwise.
boost::asio::awaitable<PromotionResult> PromoteStandby(const std::string &uri,
													   std::chrono::seconds wait = std::chrono::seconds(60));

// What SwapMaster changed.
struct SwapResult {
	std::string old_master; // "" when the project had no master
};

// SwapMaster runs one transaction on conn (the new primary, not in recovery): the project's current master
// becomes a slave (first: the unique index allows one master), new_master (which must be a postgres slave of the
// project) becomes the master; new_master's replica_status row goes (it was a standby's observation) and the old
// master's says `down` ("former master: must rejoin as a standby"), so that reads are never routed to it before it
// rejoins. Throws std::runtime_error, changing nothing, when new_master is not a postgres slave of project.
boost::asio::awaitable<SwapResult> SwapMaster(PgConnection &conn, const std::string &project,
											  const std::string &new_master);

// PrimaryConninfo turns conninfo (keyword/value or URI, as in mosta.replicas.uri) into the keyword/value
// primary_conninfo of a standby: the password and the keywords a WAL receiver must not take (dbname,
// replication, target_session_attrs, fallback_application_name) dropped (libpq's passfile supplies the password),
// application_name set to application_name (the standby's replica name, which synchronous_standby_names and
// standby_watch match). Throws std::runtime_error (masked) when libpq cannot parse conninfo.
std::string PrimaryConninfo(const std::string &conninfo, const std::string &application_name);

// RepointStandby connects to standby_uri (a standby) and points it at a new primary: ALTER SYSTEM SET
// primary_conninfo = PrimaryConninfo(new_primary_conninfo, application_name), then pg_reload_conf(); the WAL
// receiver restarts on the new primary (recovery_target_timeline 'latest', the default, follows its timeline).
// Within timeout. Throws std::runtime_error when the node is not in recovery, PgError or TimeoutError otherwise.
boost::asio::awaitable<void> RepointStandby(const std::string &standby_uri, const std::string &new_primary_conninfo,
											const std::string &application_name,
											std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

// LogActivity inserts one row into mosta.activity on conn (a primary): action, project, object and detail (JSON
// text, masked with MaskCredentialsInText before it is sent; should masking break the JSON, the row keeps the
// masked text as {"unparsed": "..."}). Returns the row's id.
boost::asio::awaitable<long long> LogActivity(PgConnection &conn, const std::string &action, const std::string &project,
											  const std::string &object, const std::string &detail_json);

} // namespace mosta::sidecar::ha
