// auth_test.cpp: tokens, sessions and the login rate limit (monitor/src/auth.hpp), the login page's message and
// the JSON escaping (json_writer.hpp).
#include <gtest/gtest.h>

#include <set>

#include "auth.hpp"
#include "json_writer.hpp"
#include "routes.hpp"

namespace mosta::monitor {
namespace {

using namespace std::chrono_literals;

TEST(MonitorAuth, ConstantTimeEquals) {
	EXPECT_TRUE(ConstantTimeEquals("s3cret", "s3cret"));
	EXPECT_TRUE(ConstantTimeEquals("", ""));
	EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3creT"));
	EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3cre"));
	EXPECT_FALSE(ConstantTimeEquals("s3cre", "s3cret"));
	EXPECT_FALSE(ConstantTimeEquals("", "x"));
	// a prefix padded with what the loop pads with (zero bytes) is still different
	EXPECT_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
}

TEST(MonitorAuth, Sessions) {
	Sessions sessions;
	SteadyTime t0{};
	std::string id = sessions.Create(t0);
	EXPECT_EQ(id.size(), 64u);
	EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
	EXPECT_TRUE(sessions.Valid(id, t0 + 1h));
	EXPECT_FALSE(sessions.Valid(id.substr(0, 63) + (id[63] == '0' ? "1" : "0"), t0));
	EXPECT_FALSE(sessions.Valid("", t0));
	std::string other = sessions.Create(t0);
	EXPECT_NE(other, id);
	sessions.Remove(id);
	EXPECT_FALSE(sessions.Valid(id, t0));
	EXPECT_TRUE(sessions.Valid(other, t0));
	// expired after its lifetime
	EXPECT_FALSE(sessions.Valid(other, t0 + Sessions::kSessionLifetime));
	std::set<std::string> ids;
	for (int i = 0; i < 100; ++i)
		ids.insert(RandomHex(32));
	EXPECT_EQ(ids.size(), 100u);
}

TEST(MonitorAuth, LoginRateLimit) {
	LoginLimiter limiter;
	SteadyTime t0{};
	for (int i = 0; i < 5; ++i) {
		EXPECT_TRUE(limiter.Allowed("10.0.0.1", t0 + i * 1s));
		limiter.Fail("10.0.0.1", t0 + i * 1s);
	}
	// the sixth try within the minute is refused, another address is not
	EXPECT_FALSE(limiter.Allowed("10.0.0.1", t0 + 10s));
	EXPECT_EQ(limiter.RetryAfter("10.0.0.1", t0 + 10s), 50);
	EXPECT_TRUE(limiter.Allowed("10.0.0.2", t0 + 10s));
	// once the first failure is a minute old, one more try
	EXPECT_TRUE(limiter.Allowed("10.0.0.1", t0 + 60s));
	limiter.Fail("10.0.0.1", t0 + 60s);
	EXPECT_FALSE(limiter.Allowed("10.0.0.1", t0 + 60s));
	EXPECT_TRUE(limiter.Allowed("10.0.0.1", t0 + 125s));
}

TEST(MonitorAuth, Headers) {
	EXPECT_EQ(BearerToken("Bearer abc"), "abc");
	EXPECT_EQ(BearerToken("bearer  abc "), "abc");
	EXPECT_FALSE(BearerToken("Basic abc"));
	EXPECT_FALSE(BearerToken("Bearer"));
	EXPECT_EQ(CookieValue("a=1; mosta_monitor_session=xyz; b=2", kSessionCookie), "xyz");
	EXPECT_FALSE(CookieValue("a=1; other_mosta_monitor_session=xyz", kSessionCookie));
}

TEST(MonitorAuth, LoginPageMessage) {
	std::string page = LoginPage("Wrong <token>.");
	EXPECT_NE(page.find("Wrong &lt;token&gt;."), std::string::npos);
	EXPECT_NE(page.find("name=\"token\""), std::string::npos);
	// no message: nothing is put in place of the marker (the page's own hidden message element stays alone)
	EXPECT_NE(LoginPage("").find("<!-- mosta:message -->"), std::string::npos);
	EXPECT_EQ(page.find("<!-- mosta:message -->"), std::string::npos);
}

TEST(MonitorJson, Escaping) {
	EXPECT_EQ(JsonString("a\"b\\c\n</script>&\x01"), "\"a\\\"b\\\\c\\n\\u003c/script\\u003e\\u0026\\u0001\"");
	EXPECT_EQ(JsonString("\xE2\x80\xA8x\xE2\x80\xA9"), "\"\\u2028x\\u2029\"");
	EXPECT_EQ(JsonString("é"), "\"é\"");
}

} // namespace
} // namespace mosta::monitor
