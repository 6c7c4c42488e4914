/*
 * dcs_wire_test.cpp
 *     Unit tests for etcd_wire: base64 both ways (RFC 4648's vectors, every byte), the prefix's range_end, the
 *     request bodies byte for byte, and the gateway's answers as etcd 3.4.23 wrote them (fields at their default
 *     omitted, int64 as strings, the two error shapes), plus which errors send the client to the next member.
 */
#include "dcs/etcd_wire.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

namespace dcs = mosta::sidecar::dcs;
namespace wire = mosta::sidecar::dcs::wire;

TEST(DcsWire, Base64Rfc4648Vectors) {
	const std::pair<std::string, std::string> vectors[] = {{"", ""},
														   {"f", "Zg=="},
														   {"fo", "Zm8="},
														   {"foo", "Zm9v"},
														   {"foob", "Zm9vYg=="},
														   {"fooba", "Zm9vYmE="},
														   {"foobar", "Zm9vYmFy"}};
	for (const auto &[plain, encoded] : vectors) {
		EXPECT_EQ(wire::Base64Encode(plain), encoded);
		EXPECT_EQ(wire::Base64Decode(encoded), plain);
	}
	EXPECT_EQ(wire::Base64Decode("Zm8"), "fo"); // padding is optional
}

TEST(DcsWire, Base64EveryByteRoundTrips) {
	std::string bytes;
	for (int i = 0; i < 256; ++i)
		bytes += static_cast<char>(i);
	std::string encoded = wire::Base64Encode(bytes);
	EXPECT_EQ(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
			  std::string::npos);
	EXPECT_EQ(wire::Base64Decode(encoded), bytes);
}

TEST(DcsWire, Base64RefusesWhatIsNotBase64) {
	EXPECT_THROW(wire::Base64Decode("Zm9v!"), dcs::DcsError);
	EXPECT_THROW(wire::Base64Decode("Zm9vY"), dcs::DcsError); // one character cannot hold a byte
}

TEST(DcsWire, PrefixEndIncrementsTheLastByte) {
	EXPECT_EQ(wire::PrefixEnd("/mosta/"), "/mosta0");
	EXPECT_EQ(wire::PrefixEnd("a\xff"), "b");
	EXPECT_EQ(wire::PrefixEnd("\xff\xff"), std::string(1, '\0'));
	EXPECT_EQ(wire::PrefixEnd(""), std::string(1, '\0'));
}

TEST(DcsWire, RequestBodies) {
	EXPECT_EQ(wire::RangeRequest("/mosta/"), R"({"key":"L21vc3RhLw=="})");
	EXPECT_EQ(wire::RangeRequest("/mosta/", wire::PrefixEnd("/mosta/")),
			  R"({"key":"L21vc3RhLw==","range_end":"L21vc3RhMA=="})");
	EXPECT_EQ(wire::PutRequest("k", "v", 0), R"({"key":"aw==","value":"dg=="})");
	EXPECT_EQ(wire::PutRequest("k", "", 7587883213213), R"({"key":"aw==","value":"","lease":"7587883213213"})");
	EXPECT_EQ(wire::DeleteRangeRequest("k"), R"({"key":"aw=="})");
	EXPECT_EQ(wire::LeaseGrantRequest(10), R"({"TTL":"10"})");
	EXPECT_EQ(wire::LeaseIdRequest(2916822183042214678), R"({"ID":"2916822183042214678"})");
}

TEST(DcsWire, TxnBodies) {
	std::vector<dcs::Compare> compares{
		{"k", dcs::Compare::Target::CreateRevision, {}, 0},
		{"k", dcs::Compare::Target::Value, "n1", 0},
		{"k", dcs::Compare::Target::ModRevision, {}, 12},
		{"k", dcs::Compare::Target::Lease, {}, 34},
	};
	std::vector<dcs::Operation> success{{dcs::Operation::Kind::Put, "k", "v", 34}};
	std::vector<dcs::Operation> failure{{dcs::Operation::Kind::Delete, "k", {}, 0}};
	EXPECT_EQ(wire::TxnRequest(compares, success, failure),
			  R"({"compare":[)"
			  R"({"key":"aw==","result":"EQUAL","target":"CREATE","create_revision":"0"},)"
			  R"({"key":"aw==","result":"EQUAL","target":"VALUE","value":"bjE="},)"
			  R"({"key":"aw==","result":"EQUAL","target":"MOD","mod_revision":"12"},)"
			  R"({"key":"aw==","result":"EQUAL","target":"LEASE","lease":"34"}],)"
			  R"("success":[{"request_put":{"key":"aw==","value":"dg==","lease":"34"}}],)"
			  R"("failure":[{"request_delete_range":{"key":"aw=="}}]})");
	EXPECT_EQ(wire::TxnRequest({}, {}, {}), R"({"compare":[],"success":[],"failure":[]})");
}

TEST(DcsWire, RangeAnswers) {
	// etcd 3.4.23: a key with an empty value and no lease has neither field
	const std::string body =
		R"({"header":{"cluster_id":"6433615610043138975","member_id":"5820016624360433786","revision":"5",)"
		R"("raft_term":"2"},"kvs":[{"key":"L21vc3RhL3Byb2plY3RzL3AxL2xlYWRlcg==","create_revision":"5",)"
		R"("mod_revision":"6","version":"2","value":"bjE=","lease":"2916822183042214678"},)"
		R"({"key":"aw==","create_revision":"7","mod_revision":"7","version":"1"}],"count":"2"})";
	std::vector<dcs::KeyValue> kvs = wire::ParseRange(body);
	ASSERT_EQ(kvs.size(), 2U);
	EXPECT_EQ(kvs[0].key, "/mosta/projects/p1/leader");
	EXPECT_EQ(kvs[0].value, "n1");
	EXPECT_EQ(kvs[0].create_revision, 5);
	EXPECT_EQ(kvs[0].mod_revision, 6);
	EXPECT_EQ(kvs[0].version, 2);
	EXPECT_EQ(kvs[0].lease, 2916822183042214678);
	EXPECT_EQ(kvs[1].key, "k");
	EXPECT_EQ(kvs[1].value, "");
	EXPECT_EQ(kvs[1].lease, 0);
	EXPECT_TRUE(wire::ParseRange(R"({"header":{"revision":"2"}})").empty());
}

TEST(DcsWire, MalformedAnswersAreDcsErrors) {
	EXPECT_THROW(wire::ParseRange("not json"), dcs::DcsError);
	EXPECT_THROW(wire::ParseRange(R"({"kvs":[{"key":"aw==","version":"12x"}]})"), dcs::DcsError);
	EXPECT_THROW(wire::ParseRange(R"({"kvs":[{"key":"a!"}]})"), dcs::DcsError);
	EXPECT_THROW(wire::ParseLeaseGrant(R"({"header":{}})"), dcs::DcsError);
	EXPECT_THROW(wire::ParseKeepAlive(R"({"header":{}})"), dcs::DcsError);
}

TEST(DcsWire, TxnAnswers) {
	EXPECT_TRUE(wire::ParseTxn(R"({"header":{"revision":"3"},"succeeded":true,)"
							   R"("responses":[{"response_put":{"header":{"revision":"3"}}}]})"));
	// false is omitted
	EXPECT_FALSE(wire::ParseTxn(R"({"header":{"revision":"7"},"responses":[{"response_put":{}}]})"));
}

TEST(DcsWire, LeaseAnswers) {
	EXPECT_EQ(wire::ParseLeaseGrant(R"({"header":{"revision":"1"},"ID":"2916822183042214662","TTL":"2"})"),
			  std::make_pair(std::int64_t{2916822183042214662}, std::int64_t{2}));
	dcs::LeaseState alive = wire::ParseKeepAlive(R"({"result":{"header":{"revision":"4"},"ID":"29","TTL":"5"}})");
	EXPECT_TRUE(alive.alive);
	EXPECT_EQ(alive.ttl_seconds, 5);
	// an expired or revoked lease: etcd answers without TTL
	EXPECT_FALSE(wire::ParseKeepAlive(R"({"result":{"header":{"revision":"4"},"ID":"29"}})").alive);
	EXPECT_FALSE(wire::ParseKeepAlive(R"({"result":{"ID":"29","TTL":"0"}})").alive);
	EXPECT_EQ(wire::ParseTimeToLive(R"({"header":{},"ID":"29","TTL":"4","grantedTTL":"5"})"), 4);
	EXPECT_EQ(wire::ParseTimeToLive(R"({"header":{},"ID":"1","TTL":"-1"})"), std::nullopt);
}

TEST(DcsWire, ErrorShapes) {
	auto unary = wire::ParseError(R"({"error":"etcdserver: requested lease not found",)"
								  R"("message":"etcdserver: requested lease not found","code":5})");
	ASSERT_TRUE(unary);
	EXPECT_EQ(unary->code, 5);
	EXPECT_EQ(unary->message, "etcdserver: requested lease not found");
	auto streaming = wire::ParseError(R"({"error":{"grpc_code":14,"http_code":503,)"
									  R"("message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
	ASSERT_TRUE(streaming);
	EXPECT_EQ(streaming->code, 14);
	EXPECT_EQ(streaming->message, "etcdserver: no leader");
	EXPECT_EQ(wire::ParseError(R"({"result":{"ID":"1"}})"), std::nullopt);
	EXPECT_THROW(wire::ParseError("<html>"), dcs::DcsError);
}

TEST(DcsWire, WhichErrorsAskAnotherMember) {
	using Reply = std::optional<wire::ErrorReply>;
	EXPECT_TRUE(wire::Retryable(503, Reply{}));
	EXPECT_TRUE(wire::Retryable(500, Reply{wire::ErrorReply{2, "context deadline exceeded"}}));
	EXPECT_TRUE(wire::Retryable(200, Reply{wire::ErrorReply{14, "etcdserver: request timed out"}}));
	EXPECT_TRUE(wire::Retryable(400, Reply{wire::ErrorReply{4, "deadline"}}));
	EXPECT_TRUE(wire::Retryable(400, Reply{wire::ErrorReply{0, "etcdserver: no leader"}}));
	EXPECT_FALSE(wire::Retryable(404, Reply{wire::ErrorReply{5, "etcdserver: requested lease not found"}}));
	EXPECT_FALSE(wire::Retryable(400, Reply{wire::ErrorReply{3, "illegal base64 data at input byte 0"}}));
	EXPECT_FALSE(wire::Retryable(200, Reply{}));
}

} // namespace
