// shadow_metrics_test.cpp: the sampler's Prometheus text and its atomic file write.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "shadow_metrics.hpp"
#include "shadow_keys.hpp"
#include "command_line.hpp"

namespace mosta::migrate {
namespace {

TEST(ShadowMetrics, ExpositionTextWithEscapedLabels) {
	std::string text = MetricsText("shop", {{"payments", 10, 1, 0, 2.5}, {"a\"b\\c", 3, 0, 2, 60}});
	EXPECT_NE(text.find("# TYPE mosta_migrate_shadow_checks_total counter\n"), std::string::npos) << text;
	EXPECT_NE(text.find("mosta_migrate_shadow_checks_total{mapping=\"shop\",collection=\"payments\"} 10\n"),
			  std::string::npos)
		<< text;
	EXPECT_NE(text.find("mosta_migrate_shadow_mismatches_total{mapping=\"shop\",collection=\"payments\"} 1\n"),
			  std::string::npos);
	EXPECT_NE(text.find("mosta_migrate_shadow_errors_total{mapping=\"shop\",collection=\"a\\\"b\\\\c\"} 2\n"),
			  std::string::npos)
		<< text;
	EXPECT_NE(text.find("# TYPE mosta_migrate_shadow_clean_window_seconds gauge\n"), std::string::npos);
	EXPECT_NE(text.find("mosta_migrate_shadow_clean_window_seconds{mapping=\"shop\",collection=\"payments\"} 2.500\n"),
			  std::string::npos);
}

TEST(ShadowMetrics, WritesByRename) {
	char dir[] = "/tmp/shadow_metricsXXXXXX";
	ASSERT_NE(mkdtemp(dir), nullptr);
	std::string path = std::string(dir) + "/m.prom";
	WriteFileAtomically(path, "one\n");
	WriteFileAtomically(path, "two\n");
	std::ifstream in(path);
	std::stringstream content;
	content << in.rdbuf();
	EXPECT_EQ(content.str(), "two\n");
	EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
	EXPECT_THROW(WriteFileAtomically(std::string(dir) + "/missing/m.prom", "x"), std::runtime_error);
	std::remove(path.c_str());
	rmdir(dir);
}

TEST(ShadowKeys, CollectionColonLegacyId) {
	auto keys = ParseShadowKeys("payments:65a1f0c2e4b0a1b2c3d4e5f6,users:u-1");
	ASSERT_EQ(keys.size(), 2u);
	EXPECT_EQ(keys[0].first, "payments");
	EXPECT_EQ(keys[1].second, "u-1");
	EXPECT_THROW(ParseShadowKeys("payments"), UsageError);
	EXPECT_THROW(ParseShadowKeys(":x"), UsageError);
	EXPECT_THROW(ParseShadowKeys(""), UsageError);
}

} // namespace
} // namespace mosta::migrate
