/*
 * topology.cpp
 *     Reading the topology (see topology.hpp).
 */
#include "topology.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <simdjson.h>

#include "json_writer.hpp"

namespace mosta::monitor {

namespace {

namespace dom = simdjson::dom;

// Field returns obj[key], or nullopt when obj is not an object or has no such key.
std::optional<dom::element>
Field(dom::element obj, std::string_view key) {
	dom::object object;
	if (obj.get_object().get(object) != simdjson::SUCCESS)
		return std::nullopt;
	dom::element value;
	if (object.at_key(key).get(value) != simdjson::SUCCESS)
		return std::nullopt;
	return value;
}

// String returns obj[key] when it is a string.
std::optional<std::string>
String(dom::element obj, std::string_view key) {
	std::optional<dom::element> value = Field(obj, key);
	std::string_view text;
	if (!value || value->get_string().get(text) != simdjson::SUCCESS)
		return std::nullopt;
	return std::string(text);
}

// Integer returns obj[key] when it is a number (a double is rounded).
std::optional<std::int64_t>
Integer(dom::element obj, std::string_view key) {
	std::optional<dom::element> value = Field(obj, key);
	if (!value)
		return std::nullopt;
	std::int64_t integer;
	if (value->get_int64().get(integer) == simdjson::SUCCESS)
		return integer;
	double real;
	if (value->get_double().get(real) == simdjson::SUCCESS && std::isfinite(real) && std::abs(real) < 9.2e18)
		return static_cast<std::int64_t>(std::llround(real));
	return std::nullopt;
}

// Boolean returns obj[key] when it is a boolean.
std::optional<bool>
Boolean(dom::element obj, std::string_view key) {
	std::optional<dom::element> value = Field(obj, key);
	bool flag;
	if (!value || value->get_bool().get(flag) != simdjson::SUCCESS)
		return std::nullopt;
	return flag;
}

// Array returns obj[key] when it is an array.
std::optional<dom::array>
Array(dom::element obj, std::string_view key) {
	std::optional<dom::element> value = Field(obj, key);
	dom::array array;
	if (!value || value->get_array().get(array) != simdjson::SUCCESS)
		return std::nullopt;
	return array;
}

Replica
ReadReplica(dom::element item) {
	Replica replica;
	replica.name = String(item, "name").value_or("");
	replica.role = String(item, "role").value_or("");
	replica.dialect = String(item, "dialect").value_or("");
	replica.lag_tolerance_ms = Integer(item, "lagTolerance").value_or(0);
	if (std::optional<dom::element> status = Field(item, "status")) {
		replica.status.status = String(*status, "status").value_or("unknown");
		replica.status.lag_ms = Integer(*status, "lagMs");
		replica.status.lag_bytes = Integer(*status, "lagBytes");
		replica.status.within_tolerance = Boolean(*status, "withinTolerance");
	}
	return replica;
}

Project
ReadProject(std::string_view name, dom::element value) {
	Project project;
	project.name = std::string(name);
	project.read_routing = String(value, "readRouting").value_or("least-lag");
	if (std::optional<dom::array> eligible = Array(value, "eligible")) {
		project.has_routing_fields = true;
		for (dom::element item : *eligible) {
			std::string_view text;
			if (item.get_string().get(text) == simdjson::SUCCESS)
				project.eligible.emplace_back(text);
		}
		project.reads_go_to = String(value, "readsGoTo");
	}
	if (std::optional<dom::array> replicas = Array(value, "replicas"))
		for (dom::element item : *replicas)
			project.replicas.push_back(ReadReplica(item));
	return project;
}

Rule
ReadRule(dom::element item) {
	Rule rule;
	rule.name = String(item, "name").value_or("");
	if (std::optional<dom::element> stats = Field(item, "stats")) {
		rule.status = String(*stats, "status").value_or("unknown");
		rule.snapshot_rows = Integer(*stats, "snapshotRows");
		rule.changes_applied = Integer(*stats, "changesApplied");
		rule.transactions = Integer(*stats, "transactions");
		rule.conflicts = Integer(*stats, "conflicts");
		if (std::optional<std::string> at = String(*stats, "lastAppliedAt"))
			rule.last_applied_at = ParseIsoTime(*at);
	}
	if (std::optional<dom::array> targets = Array(item, "targets"))
		for (dom::element target_item : *targets) {
			Target target;
			target.project = String(target_item, "project").value_or("");
			target.replica = String(target_item, "replica").value_or("");
			target.slot = String(target_item, "slot").value_or("");
			target.status = String(target_item, "status").value_or("");
			target.retained_bytes = Integer(target_item, "retainedBytes");
			target.resnapshots = Integer(target_item, "resnapshots");
			rule.targets.push_back(std::move(target));
		}
	return rule;
}

// Digits reads count decimal digits at text[at]; -1 when they are not there.
int
Digits(std::string_view text, std::size_t at, std::size_t count) {
	if (at + count > text.size())
		return -1;
	int value = 0;
	for (std::size_t i = at; i < at + count; ++i) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		value = value * 10 + (text[i] - '0');
	}
	return value;
}

} // namespace

const Project *
Topology::FindProject(std::string_view name) const noexcept {
	for (const Project &project : projects)
		if (project.name == name)
			return &project;
	return nullptr;
}

Topology
ParseTopology(std::string_view text) {
	dom::parser parser;
	dom::element root;
	if (simdjson::error_code error = parser.parse(text.data(), text.size(), true).get(root))
		throw TopologyError(std::string("not JSON: ") + simdjson::error_message(error));
	if (root.type() != dom::element_type::OBJECT)
		throw TopologyError("not a topology: the document is not a JSON object");
	Topology topology;
	std::optional<std::int64_t> version = Integer(root, "version");
	if (!version || *version < 1)
		throw TopologyError("not a topology: no \"version\" number");
	topology.version = *version;
	topology.generated_at = String(root, "generatedAt");
	if (topology.generated_at)
		topology.generated_at_unix = ParseIsoTime(*topology.generated_at);
	topology.status_max_age_ms = Integer(root, "statusMaxAgeMs");
	if (std::optional<dom::element> projects = Field(root, "projects")) {
		dom::object object;
		if (projects->get_object().get(object) == simdjson::SUCCESS)
			for (auto field : object)
				topology.projects.push_back(ReadProject(field.key, field.value));
	}
	std::sort(topology.projects.begin(), topology.projects.end(),
			  [](const Project &a, const Project &b) { return a.name < b.name; });
	if (std::optional<dom::array> rules = Array(root, "rules"))
		for (dom::element item : *rules)
			topology.rules.push_back(ReadRule(item));
	AppendJsonElement(topology.json, root);
	return topology;
}

std::optional<double>
ParseIsoTime(std::string_view text) {
	// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM|+HH)
	int year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
	int hour = Digits(text, 11, 2), minute = Digits(text, 14, 2), second = Digits(text, 17, 2);
	if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
		minute > 59 || second < 0 || second > 60 || text[4] != '-' || text[7] != '-' ||
		(text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':')
		return std::nullopt;
	std::size_t at = 19;
	double fraction = 0;
	if (at < text.size() && text[at] == '.') {
		double scale = 0.1;
		for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10)
			fraction += (text[at] - '0') * scale;
	}
	int offset_seconds = 0;
	if (at < text.size() && text[at] == 'Z') {
		++at;
	} else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
		int sign = text[at] == '-' ? -1 : 1;
		int offset_hours = Digits(text, at + 1, 2);
		if (offset_hours < 0)
			return std::nullopt;
		at += 3;
		int offset_minutes = 0;
		if (at < text.size() && text[at] == ':') {
			offset_minutes = Digits(text, at + 1, 2);
			if (offset_minutes < 0)
				return std::nullopt;
			at += 3;
		}
		offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
	} else {
		return std::nullopt;
	}
	if (at != text.size())
		return std::nullopt;
	// days from the civil date (Howard Hinnant's algorithm), so that no time zone is involved
	int y = year - (month <= 2 ? 1 : 0);
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long long days = static_cast<long long>(era) * 146097 + doe - 719468;
	return static_cast<double>(days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds) + fraction;
}

std::string
FormatIsoTime(double unix_seconds) {
	double whole = std::floor(unix_seconds);
	auto millis = static_cast<int>(std::lround((unix_seconds - whole) * 1000));
	if (millis == 1000) {
		whole += 1;
		millis = 0;
	}
	auto seconds = static_cast<std::time_t>(whole);
	std::tm tm{};
	gmtime_r(&seconds, &tm);
	char buffer[96];
	std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
				  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
	return buffer;
}

} // namespace mosta::monitor
