/*
 * cmd_backfill.cpp
 *     mosta-migrate backfill MAPPING --source URI --target CONNINFO [--batch N] [--collections A,B] [--again]
 *     (docs/migration.md, "Backfill"): the state schema, the change-stream start position (recorded BEFORE the
 *     first document is read, so that the catch-up replays every write made meanwhile; --again without --collections
 *     records a new one, replacing a position the oplog may have lost), each collection parents
 *     first (backfill.hpp), the documents held back retried, the counters seeded, then a summary on stdout.
 *     SIGINT/SIGTERM stop after the batch being applied commits; a rerun resumes.
 */
#include <cstdio>

#include "backfill.hpp"
#include "commands.hpp"
#include "state.hpp"
#include "stream_start.hpp"
#include "verify_select.hpp"

namespace mosta::migrate {

namespace {

// kShownKeys is how many keys the summary shows per kind of problem.
constexpr int kShownKeys = 5;

// PrintProblems prints the count of problems of kind and their first keys.
void
PrintProblems(sidecar::PgSession &session, const mapping::Mapping &mapping, const char *kind) {
	std::string limit = std::to_string(kShownKeys);
	sidecar::PgResultHandle result = session.Query(
		"SELECT count(*) OVER (), collection, legacy_id, field, coalesce(parent_collection || ' ' || parent_legacy_id,"
		" message) FROM mosta_migration.problems WHERE mapping = $1 AND kind = $2 ORDER BY collection, legacy_id,"
		" field LIMIT $3",
		{mapping.name.c_str(), kind, limit.c_str()}, "reading the problems");
	int rows = PQntuples(result.get());
	if (rows == 0)
		return;
	std::printf("%s documents: %s (first: mosta-migrate status lists them, mosta_migration.problems holds all)\n", kind,
				PQgetvalue(result.get(), 0, 0));
	for (int i = 0; i < rows; ++i)
		std::printf("  %s %s %s: %s\n", PQgetvalue(result.get(), i, 1), PQgetvalue(result.get(), i, 2),
					PQgetvalue(result.get(), i, 3), PQgetvalue(result.get(), i, 4));
}

void
PrintRun(const CollectionRun &run) {
	if (run.skipped) {
		std::printf("%s: done before (--again reads it again)\n", run.collection.c_str());
		return;
	}
	std::printf(
		"%s: %s, read %lld, applied %lld, unchanged %lld, missing parent %lld, rejected %lld (seconds: "
		"reading MongoDB %.1f, mapping %.1f, writing PostgreSQL %.1f, waiting for MongoDB and the mapping %.1f)\n",
		run.collection.c_str(), run.finished ? "done" : "stopped", static_cast<long long>(run.read),
		static_cast<long long>(run.counts.applied), static_cast<long long>(run.counts.unchanged),
		static_cast<long long>(run.counts.missing_parent), static_cast<long long>(run.counts.rejected),
		run.read_seconds, run.map_seconds, run.write_seconds, run.wait_seconds);
}

} // namespace

int
RunBackfill(CommandLine &line) {
	std::string file = line.Positional(0, "MAPPING");
	std::string source_uri = line.Required("source");
	std::string target = line.Required("target");
	BackfillOptions options;
	options.batch = line.Number("batch", 5000, 1, 1000000);
	options.again = line.Flag("again");
	std::optional<std::string> names = line.Option("collections");
	line.Finish();
	if (line.PositionalCount() > 1)
		throw UsageError("backfill takes one MAPPING file");

	mapping::Mapping mapping = mapping::LoadMapping(file);
	std::vector<const mapping::CollectionMap *> selected = SelectCollections(mapping, names);
	sidecar::PgSession session(target);
	session.Exec("SET application_name = 'mosta-migrate backfill'", "naming the session");
	EnsureState(session);
	// one backfill per mapping at a time (two would read and write the same batches and count them twice)
	sidecar::PgResultHandle alone =
		session.Query("SELECT pg_try_advisory_lock(hashtext('mosta-migrate backfill ' || $1))", {mapping.name.c_str()},
					  "locking the mapping's backfill");
	if (PQgetvalue(alone.get(), 0, 0)[0] != 't')
		throw std::runtime_error("another backfill of mapping \"" + mapping.name + "\" is running on " +
								 session.Described() +
								 " (pg_stat_activity shows it: application_name 'mosta-migrate backfill')");
	MongoSource source(source_uri, mapping.source_database);
	if (options.again && !names) {
		// every collection is read again: a new start replaces a stored one the oplog may no longer hold
		// (ChangeStreamHistoryLost); the catch-up replays from here
		RestartStreamStart(session, mapping, source);
		std::printf("change stream: new start position recorded (--again reads every collection; follow replays "
					"from here)\n");
	} else {
		EnsureStreamStart(session, mapping, source);
		if (options.again)
			std::printf("change stream: start position kept (--collections reads only some collections again; after a "
						"lost history run --again without --collections)\n");
	}

	Applier applier(session, mapping);
	applier.RememberWritten(); // nothing deletes the parents during a backfill: a parent written is not looked up
	Progress progress;
	ApplyCounts total;
	bool stopped = false;
	for (const mapping::CollectionMap *collection : selected) {
		CollectionRun run = BackfillCollection(session, applier, source, mapping, *collection, options, progress);
		if (run.finished && !run.skipped) {
			// documents held back for a later document of their own collection (a self-reference): now, before
			// the child collections read them as missing parents
			ApplyCounts own = RetryMissingParents(session, applier, source, mapping, {collection}, options.batch);
			run.counts.applied += own.applied;
			run.counts.unchanged += own.unchanged;
			run.counts.missing_parent -= own.applied + own.unchanged + own.rejected;
			run.counts.rejected += own.rejected;
		}
		PrintRun(run);
		total += run.counts;
		if (!run.finished) {
			stopped = true;
			break;
		}
	}
	if (stopped) {
		std::printf("stopped by a signal after a committed batch: run the same command again to resume\n");
		return 1;
	}
	ApplyCounts retried =
		RetryMissingParents(session, applier, source, mapping, mapping::LoadOrder(mapping), options.batch);
	if (retried.applied + retried.unchanged + retried.missing_parent + retried.rejected > 0)
		std::printf("documents held back, read again: applied %lld, unchanged %lld, still missing a parent %lld, "
					"rejected %lld\n",
					static_cast<long long>(retried.applied), static_cast<long long>(retried.unchanged),
					static_cast<long long>(retried.missing_parent), static_cast<long long>(retried.rejected));
	std::int64_t seeded = SeedCounters(session, mapping);
	if (seeded < 0)
		std::fprintf(stderr, "mosta-migrate backfill: WARNING: counters not seeded: this database lacks "
							 "mosta_seed_counter (ALTER EXTENSION mostajs UPDATE, then run backfill again)\n");
	else if (!mapping.counters.empty())
		std::printf("counters: %lld keys seeded\n", static_cast<long long>(seeded));
	total += retried;
	std::printf("total: applied %lld, unchanged %lld\n", static_cast<long long>(total.applied),
				static_cast<long long>(total.unchanged));
	PrintProblems(session, mapping, "missing_parent");
	PrintProblems(session, mapping, "rejected");
	return 0;
}

} // namespace mosta::migrate
