/*
 * run_pipeline_test.cpp
 *     The copy pipeline (run/copy_run) with fake sources and destinations: every table read once and handed to
 *     every destination (one converted batch per form), the life cycle Begin → tables → Finish → Commit, --jobs
 *     tables at once, and any failure (a write, a read, a commit, a stop) aborting every destination.
 */
#include <gtest/gtest.h>

#include "mosta/common/canonical_row.hpp"
#include "run/copy_run.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

using testing::FakeDestination;
using testing::FakeSource;
using testing::Journal;
using testing::MakeTable;
using testing::Row;

// ReferenceChecksum computes a table's checksum the slow way (EncodeCanonicalRow).
std::string
ReferenceChecksum(const TableDef &table, const std::vector<Row> &rows) {
	ChecksumState state;
	std::vector<std::size_t> copied = table.CopiedColumns();
	for (const Row &row : rows) {
		std::vector<CanonicalColumn> columns;
		for (std::size_t i = 0; i < copied.size(); ++i)
			columns.push_back({table.columns[copied[i]].name, row[i]});
		std::string encoded = EncodeCanonicalRow(columns);
		state.Add(CanonicalRowHash(encoded.data(), encoded.size()));
	}
	return state.Text();
}

// Zoo fills source with four tables: 2500 rows, an empty one, NULLs, and one without columns.
void
Zoo(FakeSource &source) {
	source.schema.tables = {MakeTable("app", "users", {"id", "name"}, 2500), MakeTable("app", "empty", {"id"}, 0),
							MakeTable("zoo", "nulls", {"b", "a"}, 3), MakeTable("zoo", "nocols", {}, 2)};
	std::vector<Row> users;
	for (int i = 0; i < 2500; ++i)
		users.push_back({std::to_string(i), "user " + std::to_string(i)});
	source.rows["app.users"] = users;
	source.rows["app.empty"] = {};
	source.rows["zoo.nulls"] = {{std::nullopt, "x"}, {"", std::nullopt}, {"é", "\n"}};
	source.rows["zoo.nocols"] = {{}, {}};
}

CopySettings
Settings(int jobs = 1, bool writer_threads = true) {
	CopySettings settings;
	settings.batch_size = 1000;
	settings.jobs = jobs;
	settings.writer_threads = writer_threads;
	return settings;
}

void
ExpectFanOut(int jobs, bool writer_threads) {
	FakeSource source;
	Zoo(source);
	FakeDestination sqlite(ValueForm::Canonical, "", "sqlite");
	FakeDestination json(ValueForm::Canonical, "", "json");
	FakeDestination dump(ValueForm::PgText, "", "sql-dump");
	Journal journal;
	for (FakeDestination *d : {&sqlite, &json, &dump})
		d->journal = &journal;
	CopyResult result = CopyDatabase(source, source.schema, {&sqlite, &json, &dump}, Settings(jobs, writer_threads));

	ASSERT_EQ(result.tables.size(), 4U);
	EXPECT_EQ(result.rows, 2500U + 0 + 3 + 2);
	for (std::size_t i = 0; i < source.schema.tables.size(); ++i) {
		const TableDef &table = source.schema.tables[i];
		const std::vector<Row> &rows = source.rows[table.QualifiedName()];
		EXPECT_EQ(result.tables[i].name, table.name);
		EXPECT_EQ(result.tables[i].rows, rows.size()) << table.name;
		EXPECT_EQ(result.tables[i].checksum, ReferenceChecksum(table, rows)) << table.name;
		for (FakeDestination *d : {&sqlite, &json, &dump}) {
			if (!table.columns.empty()) { // a table without columns has no fields to record
				EXPECT_EQ(d->written[table.QualifiedName()], rows) << d->kind << " " << table.name;
			}
			EXPECT_TRUE(d->Called("open " + table.QualifiedName())) << d->kind;
			EXPECT_TRUE(d->Called("close " + table.QualifiedName() + " " + std::to_string(rows.size()))) << d->kind;
		}
	}
	// one converted batch per form: the two canonical destinations saw the very same batches
	EXPECT_EQ(sqlite.batches_seen, json.batches_seen);
	EXPECT_EQ(sqlite.forms_seen, std::set<ValueForm>{ValueForm::Canonical});
	EXPECT_EQ(dump.forms_seen, std::set<ValueForm>{ValueForm::PgText});
	// Begin first, every Finish before any Commit, no Abort
	for (FakeDestination *d : {&sqlite, &json, &dump}) {
		EXPECT_EQ(d->calls.front(), "begin");
		EXPECT_EQ(d->calls.back(), "commit");
		EXPECT_FALSE(d->Called("abort"));
		for (FakeDestination *e : {&sqlite, &json, &dump})
			EXPECT_LT(journal.Index(d->kind + " finish"), journal.Index(e->kind + " commit"));
	}
}

TEST(RunPipeline, FanOutToEveryDestination) {
	ExpectFanOut(1, true);
}

TEST(RunPipeline, FanOutWithoutWriterThreads) {
	ExpectFanOut(1, false);
}

TEST(RunPipeline, FanOutWithJobs) {
	ExpectFanOut(3, true);
}

TEST(RunPipeline, JobsReadTablesAtOnce) {
	FakeSource source;
	for (int i = 0; i < 6; ++i) {
		source.schema.tables.push_back(MakeTable("s", "t" + std::to_string(i), {"v"}, 10));
		source.rows["s.t" + std::to_string(i)] = {{"1"}, {"2"}};
	}
	source.rendezvous = 3; // each reader waits until three are open: passes only if three tables run at once
	FakeDestination sqlite;
	CopyResult result = CopyDatabase(source, source.schema, {&sqlite}, Settings(3));
	EXPECT_EQ(source.max_readers_open.load(), 3);
	EXPECT_EQ(sqlite.max_tables_open.load(), 3);
	EXPECT_EQ(result.rows, 12U);

	FakeSource one;
	one.schema = source.schema;
	one.rows = source.rows;
	FakeDestination single;
	CopyDatabase(one, one.schema, {&single}, Settings(1));
	EXPECT_EQ(one.max_readers_open.load(), 1);
}

// ExpectAllAborted runs a copy that must fail with a message containing what, then checks every destination was
// aborted and none committed.
void
ExpectAllAborted(FakeSource &source, std::vector<FakeDestination *> destinations, const CopySettings &settings,
				 const std::string &what) {
	std::vector<Destination *> pointers(destinations.begin(), destinations.end());
	try {
		CopyDatabase(source, source.schema, pointers, settings);
		ADD_FAILURE() << "the copy succeeded";
	} catch (const std::exception &e) {
		EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
	}
	// a failed Commit comes after the destinations before it committed (a rename each: they stay, but no
	// manifest is written); any other failure leaves every destination uncommitted
	bool commit_failed = false;
	for (FakeDestination *d : destinations)
		commit_failed = commit_failed || d->fail_at == "commit";
	for (FakeDestination *d : destinations) {
		EXPECT_TRUE(d->Called("abort")) << d->kind;
		if (!commit_failed) {
			EXPECT_FALSE(d->Called("commit")) << d->kind;
		}
	}
}

TEST(RunPipeline, WriteFailureAbortsEveryDestination) {
	for (int jobs : {1, 2})
		for (bool threads : {true, false}) {
			FakeSource source;
			Zoo(source);
			FakeDestination good(ValueForm::Canonical, "", "sqlite");
			FakeDestination bad(ValueForm::PgText, "", "sql-dump");
			bad.fail_table = "app.users";
			ExpectAllAborted(source, {&good, &bad}, Settings(jobs, threads), "fake write failure in app.users");
			EXPECT_FALSE(good.Called("finish"));
		}
}

TEST(RunPipeline, ReadFailureAbortsEveryDestination) {
	FakeSource source;
	Zoo(source);
	source.fail_table = "app.users";
	FakeDestination a(ValueForm::Canonical, "", "sqlite");
	FakeDestination b(ValueForm::Canonical, "", "json");
	ExpectAllAborted(source, {&a, &b}, Settings(2), "fake read failure");
}

TEST(RunPipeline, BeginFinishCommitFailuresAbort) {
	for (const char *stage : {"begin", "finish", "commit"}) {
		FakeSource source;
		Zoo(source);
		FakeDestination a(ValueForm::Canonical, "", "sqlite");
		FakeDestination b(ValueForm::Canonical, "", "json");
		b.fail_at = stage;
		ExpectAllAborted(source, {&a, &b}, Settings(), std::string("fake ") + stage + " failure");
	}
}

TEST(RunPipeline, StopAbortsEveryDestination) {
	FakeSource source;
	Zoo(source);
	std::atomic<bool> stop{true};
	CopySettings settings = Settings(2);
	settings.stop = &stop;
	FakeDestination a(ValueForm::Canonical, "", "sqlite");
	ExpectAllAborted(source, {&a}, settings, "stopped by a signal");
	try {
		CopyDatabase(source, source.schema, {&a}, settings);
	} catch (const Stopped &) {
		SUCCEED();
	}
}

TEST(RunPipeline, PgTextSourceConvertedOncePerForm) {
	FakeSource source;
	Zoo(source);
	source.form = ValueForm::PgText;
	FakeDestination dump(ValueForm::PgText, "", "sql-dump");
	FakeDestination pg(ValueForm::PgText, "", "postgres");
	FakeDestination sqlite(ValueForm::Canonical, "", "sqlite");
	CopyResult result = CopyDatabase(source, source.schema, {&dump, &pg, &sqlite}, Settings());
	EXPECT_EQ(dump.batches_seen, pg.batches_seen);
	EXPECT_EQ(sqlite.forms_seen, std::set<ValueForm>{ValueForm::Canonical});
	EXPECT_EQ(result.tables[0].checksum, ReferenceChecksum(source.schema.tables[0], source.rows["app.users"]));
}

TEST(RunPipeline, ReadTableCountsAndHashes) {
	FakeSource source;
	Zoo(source);
	TableResult result = ReadTable(source, source.schema.tables[2], 2);
	EXPECT_EQ(result.rows, 3U);
	EXPECT_EQ(result.checksum, ReferenceChecksum(source.schema.tables[2], source.rows["zoo.nulls"]));
}

TEST(RunPipeline, RunParallelRethrowsTheFirstError) {
	std::atomic<int> done{0};
	EXPECT_THROW(RunParallel(10, 3,
							 [&](std::size_t i) {
								 if (i == 4)
									 throw CopyError("four");
								 ++done;
							 }),
				 CopyError);
	EXPECT_LE(done.load(), 9);
	std::atomic<int> all{0};
	RunParallel(7, 4, [&](std::size_t) { ++all; });
	EXPECT_EQ(all.load(), 7);
}

} // namespace
} // namespace mosta::copy
