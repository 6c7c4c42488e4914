// mapping_order_test.cpp: LoadOrder puts parents before children (references, polymorphic references, child
// elements' references), allows self-references, keeps file order among ties, and names a cycle.
#include <gtest/gtest.h>

#include <string>

#include "mapping/mapping.hpp"
#include "mapping_example.hpp"

namespace mosta::mapping {
namespace {

std::string
Names(const std::vector<const CollectionMap *> &order) {
	std::string out;
	for (const CollectionMap *c : order)
		out += (out.empty() ? "" : " ") + c->collection;
	return out;
}

// A collection text with references to the named collections (one field per reference).
std::string
Collection(const std::string &name, std::initializer_list<const char *> references) {
	std::string fields;
	int n = 0;
	for (const char *ref : references) {
		fields += (fields.empty() ? "" : ",") + std::string("{\"path\": \"r") + std::to_string(n) +
				  "\", \"column\": \"r" + std::to_string(n) + "\", \"references\": \"" + ref + "\"}";
		++n;
	}
	return "{\"collection\": \"" + name + "\", \"fields\": [" + fields + "]}";
}

TEST(MappingOrder, ParentsFirst) {
	Mapping m = ParseMapping(test::kExampleMapping, "shop.json");
	// payments references users, purchase_requests (polymorphic) and offers (its child table's elements)
	EXPECT_EQ(Names(LoadOrder(m)), "users purchase_requests offers payments");
}

TEST(MappingOrder, TiesInFileOrderAndSelfReferences) {
	Mapping m =
		ParseMapping("{\"name\": \"t\", \"collections\": [" + Collection("c", {"b", "c"}) + "," + Collection("a", {}) +
						 "," + Collection("b", {"a"}) + "," + Collection("d", {"d"}) + "]}",
					 "m.json");
	EXPECT_EQ(Names(LoadOrder(m)), "a b c d");
}

TEST(MappingOrder, CyclesAreNamed) {
	Mapping m =
		ParseMapping("{\"name\": \"t\", \"collections\": [" + Collection("a", {}) + ",\n" +
						 Collection("payments", {"a", "offers"}) + "," + Collection("offers", {"payments"}) + "]}",
					 "m.json");
	try {
		LoadOrder(m);
		FAIL() << "no cycle found";
	} catch (const MappingError &e) {
		std::string what = e.what();
		EXPECT_EQ(what.rfind("m.json:2:1: the references form a cycle: payments → offers → payments;", 0), 0u) << what;
	}
}

TEST(MappingOrder, ALongerCycleIsShownWhole) {
	Mapping m = ParseMapping("{\"name\": \"t\", \"collections\": [" + Collection("x", {"z"}) + "," +
								 Collection("y", {"x"}) + "," + Collection("z", {"y"}) + "]}",
							 "m.json");
	EXPECT_THROW(
		{
			try {
				LoadOrder(m);
			} catch (const MappingError &e) {
				EXPECT_NE(std::string(e.what()).find("x → z → y → x"), std::string::npos) << e.what();
				throw;
			}
		},
		MappingError);
}

} // namespace
} // namespace mosta::mapping
