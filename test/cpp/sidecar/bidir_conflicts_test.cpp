/*
 * bidir_conflicts_test.cpp
 *     Unit tests for the conflict document the handler hands to mosta._record_conflict (app/bidir_conflicts.hpp):
 *     every key present, null when unknown, strings escaped, the decision's spelling.
 */
#include "app/bidir_conflicts.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;

TEST(ConflictJson, HasEveryKeyWithTheValuesKnown) {
	sc::ConflictRecord record;
	record.kind = sc::ConflictKind::UpdateDiffers;
	record.incoming_side = sc::Side::Target;
	record.schema = "public";
	record.table = "t \"q\"";
	record.key_json = R"({"id":21})";
	record.local_json = R"({"id":21,"v":"src"})";
	record.incoming_json = R"({"id":21,"v":"tgt"})";
	record.local_time = "2026-12-07T10:00:00.120000+00:00";
	record.incoming_time = "2026-12-07T10:00:00.350Z";
	record.incoming_commit_lsn = 0x16B3748;
	record.change_index = 3;
	EXPECT_EQ(sc::ConflictJson(record, sc::Resolution::KeepLocal),
			  R"({"kind":"update_differs","incoming_side":"target","schema":"public","table":"t \"q\"",)"
			  R"("key":{"id":21},"local":{"id":21,"v":"src"},"incoming":{"id":21,"v":"tgt"},)"
			  R"("local_time":"2026-12-07T10:00:00.120000+00:00","incoming_time":"2026-12-07T10:00:00.350Z",)"
			  R"("incoming_lsn":"0/16B3748","change_index":3,"decision":"kept"})");
}

TEST(ConflictJson, WritesNullForWhatIsUnknown) {
	sc::ConflictRecord record;
	record.kind = sc::ConflictKind::UpdateMissing;
	record.incoming_side = sc::Side::Source;
	record.schema = "s";
	record.table = "t";
	record.key_json = R"({"id":1})";
	record.incoming_json = R"({"id":1})";
	std::string json = sc::ConflictJson(record, sc::Resolution::ApplyIncoming);
	EXPECT_NE(json.find(R"("local":null)"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("local_time":null,"incoming_time":null,"incoming_lsn":null,"change_index":0)"),
			  std::string::npos)
		<< json;
	EXPECT_NE(json.find(R"("kind":"update_missing","incoming_side":"source")"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("decision":"applied")"), std::string::npos) << json;
	EXPECT_NE(sc::ConflictJson(record, sc::Resolution::Fail).find(R"("decision":"error")"), std::string::npos);
}

} // namespace
