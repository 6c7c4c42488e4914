/*
 * dcs_keys.cpp
 *     The agents' key values as JSON (see dcs_keys.hpp).
 */
#include "ha/dcs_keys.hpp"

#include <chrono>

#include "mosta/common/canonical_row.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar::ha {

namespace {

std::string
Number(const std::optional<long long> &value) {
	return value ? std::to_string(*value) : std::string("null");
}

std::string
Timeline(const std::optional<std::uint32_t> &value) {
	return value ? std::to_string(*value) : std::string("null");
}

std::string
Text(ondemand::value value) {
	if (value.is_null())
		return {};
	return std::string(std::string_view(value.get_string()));
}

std::optional<long long>
OptionalNumber(ondemand::value value) {
	if (value.is_null())
		return std::nullopt;
	return static_cast<long long>(std::int64_t(value.get_int64()));
}

std::optional<std::uint32_t>
OptionalTimeline(ondemand::value value) {
	std::optional<long long> number = OptionalNumber(value);
	if (!number || *number < 0)
		return std::nullopt;
	return static_cast<std::uint32_t>(*number);
}

// ForEachField calls each(key, value) for the fields of the JSON object text; false when text is not one.
template <typename Each>
bool
ForEachField(const std::string &text, Each each) {
	try {
		JsonParse parse(text);
		ondemand::object object = parse.Document().get_object();
		for (auto field : object) {
			std::string key(std::string_view(field.unescaped_key()));
			each(key, field.value());
		}
		parse.ExpectEnd();
		return true;
	} catch (const simdjson::simdjson_error &) {
		return false;
	}
}

DcsStandbyRow
ParseStandbyRow(ondemand::value value) {
	DcsStandbyRow row;
	ondemand::object object = value.get_object();
	for (auto field : object) {
		std::string key(std::string_view(field.unescaped_key()));
		ondemand::value v = field.value();
		if (key == "state")
			row.state = Text(v);
		else if (key == "sync_state")
			row.sync_state = Text(v);
		else if (key == "flush_lsn")
			row.flush_lsn = Text(v);
		else if (key == "replay_lsn")
			row.replay_lsn = Text(v);
		else if (key == "lag_ms")
			row.lag_ms = OptionalNumber(v);
		else if (key == "lag_bytes")
			row.lag_bytes = OptionalNumber(v);
	}
	return row;
}

} // namespace

std::string
FormatMember(const DcsMember &member) {
	return "{\"node\":" + JsonQuote(member.node) + ",\"role\":" + JsonQuote(member.role) +
		   ",\"timeline\":" + Timeline(member.timeline) +
		   ",\"lsn\":" + (member.lsn.empty() ? std::string("null") : JsonQuote(member.lsn)) +
		   ",\"agent\":" + JsonQuote(member.agent) + ",\"time_ms\":" + std::to_string(member.time_ms) + "}";
}

std::string
FormatStatus(const DcsStatus &status) {
	std::string json = "{\"leader\":" + JsonQuote(status.leader) + ",\"timeline\":" + Timeline(status.timeline) +
					   ",\"wal_lsn\":" + (status.wal_lsn.empty() ? std::string("null") : JsonQuote(status.wal_lsn)) +
					   ",\"time_ms\":" + std::to_string(status.time_ms) + ",\"standbys\":{";
	bool first = true;
	for (const auto &[name, row] : status.standbys) {
		json += (first ? "" : ",") + JsonQuote(name) + ":{\"state\":" + JsonQuote(row.state) +
				",\"sync_state\":" + JsonQuote(row.sync_state) + ",\"flush_lsn\":" + JsonQuote(row.flush_lsn) +
				",\"replay_lsn\":" + JsonQuote(row.replay_lsn) + ",\"lag_ms\":" + Number(row.lag_ms) +
				",\"lag_bytes\":" + Number(row.lag_bytes) + "}";
		first = false;
	}
	return json + "}}";
}

std::string
FormatSync(const DcsSync &sync) {
	return "{\"leader\":" + JsonQuote(sync.leader) +
		   ",\"sync_standby\":" + (sync.sync_standby ? JsonQuote(*sync.sync_standby) : std::string("null")) +
		   ",\"mode\":" + JsonQuote(sync.mode) + "}";
}

DcsMember
ParseMember(const std::string &text) {
	DcsMember member;
	member.present = ForEachField(text, [&](const std::string &key, ondemand::value value) {
		if (key == "node")
			member.node = Text(value);
		else if (key == "role")
			member.role = Text(value);
		else if (key == "timeline")
			member.timeline = OptionalTimeline(value);
		else if (key == "lsn")
			member.lsn = Text(value);
		else if (key == "agent")
			member.agent = Text(value);
		else if (key == "time_ms")
			member.time_ms = OptionalNumber(value).value_or(0);
	});
	if (!member.present)
		member = DcsMember();
	return member;
}

DcsStatus
ParseStatus(const std::string &text) {
	DcsStatus status;
	status.present = ForEachField(text, [&](const std::string &key, ondemand::value value) {
		if (key == "leader")
			status.leader = Text(value);
		else if (key == "timeline")
			status.timeline = OptionalTimeline(value);
		else if (key == "wal_lsn")
			status.wal_lsn = Text(value);
		else if (key == "time_ms")
			status.time_ms = OptionalNumber(value).value_or(0);
		else if (key == "standbys") {
			ondemand::object object = value.get_object();
			for (auto field : object) {
				std::string name(std::string_view(field.unescaped_key()));
				status.standbys[name] = ParseStandbyRow(field.value());
			}
		}
	});
	if (!status.present)
		status = DcsStatus();
	return status;
}

DcsSync
ParseSync(const std::string &text) {
	DcsSync sync;
	sync.present = ForEachField(text, [&](const std::string &key, ondemand::value value) {
		if (key == "leader")
			sync.leader = Text(value);
		else if (key == "sync_standby") {
			if (value.is_null())
				sync.sync_standby.reset();
			else
				sync.sync_standby = Text(value);
		} else if (key == "mode")
			sync.mode = Text(value);
	});
	if (!sync.present)
		sync = DcsSync();
	return sync;
}

std::string
FormatSwitchover(const DcsSwitchover &switchover) {
	return "{\"from\":" + JsonQuote(switchover.from) + ",\"to\":" + JsonQuote(switchover.to) +
		   ",\"request\":" + std::to_string(switchover.request) + ",\"checkpoint_lsn\":" +
		   (switchover.checkpoint_lsn.empty() ? std::string("null") : JsonQuote(switchover.checkpoint_lsn)) +
		   ",\"stopped_ms\":" + std::to_string(switchover.stopped_ms) + "}";
}

DcsSwitchover
ParseSwitchover(const std::string &text) {
	DcsSwitchover switchover;
	switchover.present = ForEachField(text, [&](const std::string &key, ondemand::value value) {
		if (key == "from")
			switchover.from = Text(value);
		else if (key == "to")
			switchover.to = Text(value);
		else if (key == "request")
			switchover.request = OptionalNumber(value).value_or(0);
		else if (key == "checkpoint_lsn")
			switchover.checkpoint_lsn = Text(value);
		else if (key == "stopped_ms")
			switchover.stopped_ms = OptionalNumber(value).value_or(0);
	});
	if (!switchover.present || switchover.to.empty())
		switchover = DcsSwitchover();
	return switchover;
}

long long
UnixMillis() {
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
		.count();
}

} // namespace mosta::sidecar::ha
