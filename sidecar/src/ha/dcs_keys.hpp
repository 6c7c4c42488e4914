/*
 * dcs_keys.hpp
 *     The values of the node agents' keys in etcd (docs/ha.md, "Keys"): a member key per node, and the leader's
 *     status key (its pg_stat_replication: the last observation of the lag gate) and sync key (the standby
 *     PostgreSQL really waits for). Written as compact JSON, read with simdjson; a value that cannot be read is
 *     treated as absent (present false), never as a standby that passes the gate. C++ regime.
 */
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace mosta::sidecar::ha {

// P/projects/J/members/NODE
struct DcsMember {
	bool present = false;
	std::string node;
	std::string role; // primary, standby, stopped, fenced
	std::optional<std::uint32_t> timeline;
	std::string lsn; // "0/.." ("" unknown)
	std::string agent;
	long long time_ms = 0;
};

// One standby in the status key (a pg_stat_replication row of the leader).
struct DcsStandbyRow {
	std::string state;		// streaming, catchup, ...
	std::string sync_state; // async, potential, sync, quorum
	std::string flush_lsn;
	std::string replay_lsn;
	std::optional<long long> lag_ms;
	std::optional<long long> lag_bytes;
};

// P/projects/J/status
struct DcsStatus {
	bool present = false;
	std::string leader;
	std::optional<std::uint32_t> timeline;
	std::string wal_lsn;
	long long time_ms = 0;
	std::map<std::string, DcsStandbyRow> standbys; // by application_name
};

// P/projects/J/sync
struct DcsSync {
	bool present = false;
	std::string leader;
	std::optional<std::string> sync_standby; // nullopt: none is guaranteed to hold every acknowledged commit
	std::string mode;						 // on, strict
};

// P/projects/J/switchover: a planned switchover under way (docs/ha.md), written by the leader in a Txn guarded by
// leader == self; checkpoint_lsn is set only once the target has replayed the leader's shutdown checkpoint, just
// before the leader deletes its key.
struct DcsSwitchover {
	bool present = false;
	std::string from;
	std::string to;
	long long request = 0;
	std::string checkpoint_lsn; // "" not verified yet
	long long stopped_ms = 0;	// unix ms when the leader stopped taking writes (0 not yet)
};

std::string FormatMember(const DcsMember &member);
std::string FormatSwitchover(const DcsSwitchover &switchover);
DcsSwitchover ParseSwitchover(const std::string &text);
std::string FormatStatus(const DcsStatus &status);
std::string FormatSync(const DcsSync &sync);

// Parse*: present false when text is not a JSON object of the expected shape.
DcsMember ParseMember(const std::string &text);
DcsStatus ParseStatus(const std::string &text);
DcsSync ParseSync(const std::string &text);

// UnixMillis returns the wall clock in ms since 1970 (the keys' time_ms, for people and dcs-status only: no
// decision reads it).
long long UnixMillis();

} // namespace mosta::sidecar::ha
