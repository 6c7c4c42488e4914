/*
 * mongo_bulk_writer_test.cpp
 *     Tests of MongoBulkWriter, the MongoDB sink's writer thread, with jobs that need no server (a pool's client
 *     connects only when a command is sent): order, a failure stopping the writer and rethrown by Submit and
 *     Drain, Discard forgetting it.
 */
#include "sink/mongo_sink.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using mosta::sidecar::MongoBulkWriter;
using mosta::sidecar::MongoDriver;
using mosta::sidecar::MongoPoolHandle;
using mosta::sidecar::MongoUriHandle;

// WriterTest gives each test a pool on a port nothing listens on: the jobs below never send a command.
class WriterTest : public ::testing::Test {
  protected:
	WriterTest() : uri_(mongoc_uri_new("mongodb://127.0.0.1:1/none")), pool_(mongoc_client_pool_new(uri_.get())) {}

	MongoDriver driver_;
	MongoUriHandle uri_;
	MongoPoolHandle pool_;
};

TEST_F(WriterTest, JobsRunInTheOrderSubmittedWithTheWritersClient) {
	std::vector<int> ran;
	bool had_client = true;
	{
		MongoBulkWriter writer(pool_.get(), 2);
		for (int i = 0; i < 50; i++)
			writer.Submit([&ran, &had_client, i](mongoc_client_t *client) {
				had_client = had_client && client != nullptr;
				ran.push_back(i);
			});
		writer.Drain();
		ASSERT_EQ(ran.size(), 50U);
	}
	for (int i = 0; i < 50; i++)
		EXPECT_EQ(ran[static_cast<std::size_t>(i)], i);
	EXPECT_TRUE(had_client);
}

TEST_F(WriterTest, AFailureStopsTheWriterAndIsThrownUntilDiscard) {
	MongoBulkWriter writer(pool_.get(), 8);
	std::vector<int> ran;
	writer.Submit([&ran](mongoc_client_t *) { ran.push_back(1); });
	writer.Submit([](mongoc_client_t *) { throw std::runtime_error("bulk 2 failed"); });
	writer.Submit([&ran](mongoc_client_t *) { ran.push_back(3); }); // follows the failure: never runs
	try {
		writer.Drain();
		FAIL() << "Drain did not throw the failure";
	} catch (const std::runtime_error &e) {
		EXPECT_EQ(std::string(e.what()), "bulk 2 failed");
	}
	EXPECT_THROW(writer.Submit([&ran](mongoc_client_t *) { ran.push_back(4); }), std::runtime_error);
	EXPECT_THROW(writer.Drain(), std::runtime_error);
	writer.Discard();
	writer.Submit([&ran](mongoc_client_t *) { ran.push_back(5); });
	writer.Drain();
	EXPECT_EQ(ran, (std::vector<int>{1, 5}));
}

TEST_F(WriterTest, DrainWithNothingSubmittedReturns) {
	MongoBulkWriter writer(pool_.get(), 1);
	writer.Drain();
	writer.Discard();
	writer.Drain();
}

} // namespace
