// topology_fixture.hpp: topology texts for the monitor's unit tests.
#pragma once

#include <cstdint>
#include <string>

namespace mosta::monitor::test {

// kT0 is 2026-12-07T07:00:00Z in Unix seconds.
inline constexpr double kT0 = 1796626800;

// TreeV1 returns a version 1 topology generated at kT0 + offset seconds: project "app" with master "primary"
// (postgres), slaves "local" (sqlite, lag local_lag ms, tolerance 2000) and "remote" (postgres, lag 50 ms
// within tolerance when remote_up) and "dump" (sqldump, never eligible); rule "r1" with the counters given.
inline std::string
TreeV1(int offset, long long local_lag, bool remote_up, long long changes = 10, long long transactions = 2,
	   const std::string &routing = "least-lag", const std::string &error = "") {
	int seconds = offset % 60, minutes = offset / 60;
	char at[64];
	std::snprintf(at, sizeof at, "2026-12-07T07:%02d:%02d.000+00:00", minutes, seconds);
	bool local_within = local_lag <= 2000;
	std::string text = std::string("{\"version\":1,\"generatedAt\":\"") + at + "\",\"projects\":{\"app\":{";
	text += "\"readRouting\":\"" + routing + "\",\"replicas\":[";
	text += "{\"name\":\"primary\",\"role\":\"master\",\"dialect\":\"postgres\",\"lagTolerance\":5000,"
			"\"status\":{\"status\":\"unknown\",\"lagMs\":null,\"lagBytes\":null,\"withinTolerance\":false}},";
	text += "{\"name\":\"local\",\"role\":\"slave\",\"dialect\":\"sqlite\",\"lagTolerance\":2000,\"status\":{"
			"\"status\":\"up\",\"lagMs\":" +
			std::to_string(local_lag) + ",\"lagBytes\":" + std::to_string(local_lag * 10) +
			",\"withinTolerance\":" + (local_within ? "true" : "false") + ",\"lastError\":\"" + error + "\"}},";
	text += std::string("{\"name\":\"remote\",\"role\":\"slave\",\"dialect\":\"postgres\",\"lagTolerance\":5000,"
						"\"status\":{\"status\":\"") +
			(remote_up ? "up" : "down") +
			"\",\"lagMs\":50,\"lagBytes\":null,\"withinTolerance\":" + (remote_up ? "true" : "false") + "}},";
	text += "{\"name\":\"dump\",\"role\":\"slave\",\"dialect\":\"sqldump\",\"lagTolerance\":5000,"
			"\"status\":{\"status\":\"up\",\"lagMs\":0,\"withinTolerance\":true}}";
	text += "]}},\"rules\":[{\"name\":\"r1\",\"mode\":\"cdc\",\"stats\":{\"status\":\"streaming\",\"snapshotRows\":100,"
			"\"changesApplied\":" +
			std::to_string(changes) + ",\"transactions\":" + std::to_string(transactions) +
			",\"lastAppliedAt\":\"2026-12-07T07:00:00+00:00\"},\"targets\":[{\"project\":\"app\",\"replica\":"
			"\"local\",\"slot\":\"mosta_r1\",\"status\":\"streaming\",\"retainedBytes\":4096,\"resnapshots\":1}]}]}";
	return text;
}

} // namespace mosta::monitor::test
