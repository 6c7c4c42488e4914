/*
 * sync_standby.hpp
 *     --synchronous on|strict: the leader names one synchronous standby (synchronous_standby_names =
 *     'FIRST 1 ("name")') and publishes it in the sync key, under one invariant: the standby the sync key names is
 *     always one PostgreSQL really waits for. So the key is cleared (null) before the setting changes, and names
 *     the new standby only once pg_stat_replication shows it `sync` under a setting already in force at the start
 *     of the poll. The choice and the protocol are pure (PlanSync, unit-tested in
 *     test/cpp/sidecar/ha_dcs_sync_test.cpp); the leader's loop carries the plan out (dcs_agent.cpp). C++ regime.
 */
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "ha/dcs_keys.hpp"
#include "pg/connection.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// One row of the leader's pg_stat_replication.
struct ReplicationRow {
	std::string name; // application_name
	std::string state;
	std::string sync_state;
	Lsn flush_lsn = kInvalidLsn;
};

// SyncStandbyNames returns the setting naming standby ("FIRST 1 (\"n2\")"); none: '' in mode on, '*' in strict
// (every write waits for a standby that is not there).
std::string SyncStandbyNames(const std::string &mode, const std::optional<std::string> &standby);

// ChooseSyncStandby returns the standby to make synchronous: the current one while it streams, else the streaming
// eligible one with the highest flush LSN (then by name); none when no eligible standby streams.
std::optional<std::string> ChooseSyncStandby(const std::optional<std::string> &current,
											 const std::vector<ReplicationRow> &rows,
											 const std::vector<std::string> &eligible);

// What the leader does about synchronous replication this poll, in this order.
struct SyncPlan {
	std::optional<std::string> desired;	  // the standby it wants synchronous
	bool clear_key = false;				  // write the sync key with null first (before the setting changes)
	std::optional<std::string> set_names; // ALTER SYSTEM SET synchronous_standby_names to this, pg_reload_conf()
	bool name_key = false;				  // write the sync key naming desired (the setting is in force, it is sync)
	std::string reason;					  // for the log ("" when nothing changes)
};

// PlanSync plans one poll: mode on|strict; names: the setting now in force; key: the sync key's standby (nullopt:
// null or absent); rows: pg_stat_replication; eligible: the project's postgres standbys.
SyncPlan PlanSync(const std::string &mode, const std::string &names, const std::optional<std::string> &key,
				  const std::vector<ReplicationRow> &rows, const std::vector<std::string> &eligible);

// What the leader reads at each poll: its WAL position and synchronous_standby_names, and pg_stat_replication (as
// ReplicationRow for PlanSync, as the status key's rows).
struct LeaderReplication {
	std::string wal_lsn;
	std::string synchronous_names;
	std::vector<ReplicationRow> rows;
	std::map<std::string, DcsStandbyRow> standbys; // by application_name
};

// ReadLeaderReplication reads it on conn (the primary); throws PgError.
boost::asio::awaitable<LeaderReplication> ReadLeaderReplication(PgConnection &conn);

} // namespace mosta::sidecar::ha
