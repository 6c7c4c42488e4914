// ttl_test.cpp: the TTL pass's statement (app/ttl.hpp) and the --ttl-batch flag (app/config.hpp).
#include <gtest/gtest.h>

#include "app/config.hpp"
#include "app/ttl.hpp"

namespace sc = mosta::sidecar;

TEST(TtlTest, ExpireStatementNamesTheTableByOid) {
	EXPECT_EQ(sc::TtlExpireSql(16384, 1000), "SELECT mosta_ttl_expire(16384::oid::regclass, 1000)");
	EXPECT_EQ(sc::TtlExpireSql(4294967295U, 1), "SELECT mosta_ttl_expire(4294967295::oid::regclass, 1)");
}

TEST(TtlTest, BatchFlag) {
	EXPECT_EQ(sc::ParseConfig({}, nullptr).ttl_batch, 1000);
	EXPECT_EQ(sc::ParseConfig({"--ttl-batch", "7"}, nullptr).ttl_batch, 7);
	EXPECT_EQ(sc::ParseConfig({"--ttl-batch=0"}, nullptr).ttl_batch, 0);
	for (const char *bad : {"", "-1", "1e3", "12345678", "ten"})
		EXPECT_THROW(sc::ParseConfig({"--ttl-batch", bad}, nullptr), sc::ConfigError) << bad;
}
