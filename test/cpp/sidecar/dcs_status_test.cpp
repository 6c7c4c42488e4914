/*
 * dcs_status_test.cpp
 *     Unit tests for DcsStatusJson: every key of the layout lands where docs/ha.md says, stored JSON is copied
 *     (compactly) and a value that is not JSON is quoted, a leader's lease TTL is null when unknown or gone, and
 *     keys outside the layout (or outside the prefix) are left out.
 */
#include "dcs/dcs_status.hpp"

#include <gtest/gtest.h>

namespace {

namespace dcs = mosta::sidecar::dcs;

dcs::KeyValue
Kv(const std::string &key, const std::string &value, std::int64_t lease = 0) {
	dcs::KeyValue kv;
	kv.key = key;
	kv.value = value;
	kv.lease = lease;
	return kv;
}

TEST(DcsStatus, EveryKeyInItsPlace) {
	std::vector<dcs::KeyValue> kvs{
		Kv("/mosta/projects/shop/leader", "n1", 11),
		Kv("/mosta/projects/shop/members/n1", R"({"node": "n1", "role": "primary", "timeline": 2})", 11),
		Kv("/mosta/projects/shop/members/n2", R"({"node":"n2","role":"standby"})", 12),
		Kv("/mosta/projects/shop/status", R"({"leader":"n1","standbys":{}})"),
		Kv("/mosta/projects/shop/sync", R"({"leader":"n1","sync_standby":"n2","mode":"on"})"),
		Kv("/mosta/projects/wiki/leader", "w1", 13),
		Kv("/mosta/rules/orders", "sc-a", 21),
		Kv("/mosta/sidecars/sc-a", R"({"name":"sc-a","pid":42})", 21),
		Kv("/mosta/unknown/thing", "x"),
		Kv("/mosta/projects/shop", "no project key"),
		Kv("/mostax/rules/r", "other prefix"),
	};
	std::map<std::int64_t, std::optional<std::int64_t>> ttls{{11, 7}, {13, std::nullopt}};
	EXPECT_EQ(dcs::DcsStatusJson("/mosta", "127.0.0.1:2379", kvs, ttls),
			  R"({"endpoint":"127.0.0.1:2379","projects":{)"
			  R"("shop":{"leader":{"node":"n1","lease":11,"ttl_remaining_s":7},)"
			  R"("members":{"n1":{"node":"n1","role":"primary","timeline":2},"n2":{"node":"n2","role":"standby"}},)"
			  R"("sync":{"leader":"n1","sync_standby":"n2","mode":"on"},"status":{"leader":"n1","standbys":{}}},)"
			  R"("wiki":{"leader":{"node":"w1","lease":13,"ttl_remaining_s":null},"members":{},"sync":null,)"
			  R"("status":null}},)"
			  R"("rules":{"orders":{"owner":"sc-a","lease":21}},"sidecars":{"sc-a":{"name":"sc-a","pid":42}}})");
}

TEST(DcsStatus, EmptyAndNotJson) {
	EXPECT_EQ(dcs::DcsStatusJson("/m", "h:1", {}, {}), R"({"endpoint":"h:1","projects":{},"rules":{},"sidecars":{}})");
	std::vector<dcs::KeyValue> kvs{Kv("/m/projects/p/members/n\"1", "not \"json")};
	EXPECT_EQ(dcs::DcsStatusJson("/m", "h:1", kvs, {}),
			  R"({"endpoint":"h:1","projects":{"p":{"leader":null,"members":{"n\"1":"not \"json"},"sync":null,)"
			  R"("status":null}},"rules":{},"sidecars":{}})");
}

} // namespace
