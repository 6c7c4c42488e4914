/*
 * open_sink.cpp
 *     OpenSink (see open_sink.hpp).
 */
#include "app/open_sink.hpp"

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "app/bidir_conflicts.hpp"
#include "app/id_map_lookup.hpp"
#include "app/log.hpp"
#include "app/target_path.hpp"
#include "mosta/common/conninfo.hpp"
#include "sink/json_archive_sink.hpp"
#include "sink/mongo_sink.hpp"
#include "sink/pg_sink.hpp"
#include "sink/sql_dump_sink.hpp"
#include "sink/sqlite_capture.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_sink.hpp"
#include "util/act_fence.hpp"

namespace mosta::sidecar {

namespace {

// SqliteFilePromoted tells whether the SQLite file at path exists and holds a promotion row (docs/failover.md).
bool
SqliteFilePromoted(const std::string &path) {
	if (path == ":memory:" || !std::filesystem::exists(path))
		return false;
	SqliteHandle db = OpenSqlite(path);
	return SqliteTargetIsPromoted(db.get());
}

// kJsonArchiveFileBytes is the size at which a JSON archive starts a new file.
constexpr std::uint64_t kJsonArchiveFileBytes = 64ULL << 20;
// kSqliteGroupTransactions groups this many source transactions per SQLite commit (flushed when idle anyway).
constexpr std::size_t kSqliteGroupTransactions = 100;
// kMongoGroupTransactions: the MongoDB checkpoint is written after this many source transactions (and when idle).
constexpr std::size_t kMongoGroupTransactions = 100;
// kPgGroupTransactions: a PostgreSQL target's WAL is flushed after this many source transactions (and when idle).
constexpr std::size_t kPgGroupTransactions = 100;

// OpenFileSink opens the sqlite, sqldump or jsonl sink at path (resolved by ResolveTargetPath); a SQLite side of a
// bidirectional rule (or a promoted SQLite replica) gets on_conflict and the capture guard.
std::unique_ptr<Sink>
OpenFileSink(const ReplicaInfo &replica, const std::string &slot, const std::string &path,
			 const std::vector<std::string> &collections, const std::string &source, const RulePlan *plan) {
	if (replica.dialect == "sqlite") {
		SqliteSinkOptions options;
		options.path = path;
		options.slot = slot;
		options.group_max_transactions = kSqliteGroupTransactions;
		options.ddl_collections = collections;
		// every SQLite replica may be promoted (docs/failover.md): its column types must be known to capture it
		options.record_types = true;
		if (plan != nullptr && (plan->Bidirectional() || SqliteFilePromoted(path))) {
			options.capture_guard = true;
			options.on_conflict = MakeConflictHandler(source, plan->name, replica.name, plan->conflict_resolution);
			options.incoming_side = Side::Source;
		}
		return std::make_unique<SqliteSink>(options);
	}
	if (replica.dialect == "sqldump")
		return std::make_unique<SqlDumpSink>(path, collections);
	return std::make_unique<JsonArchiveSink>(path, kJsonArchiveFileBytes);
}

} // namespace

std::unique_ptr<Sink>
OpenSink(const ReplicaInfo &replica, const std::string &slot, const std::string &data_dir,
		 const std::vector<std::string> &collections, const std::string &source, const RulePlan *plan) {
	// --dcs: opening recovers (cuts a file's unfinished tail): never by a sidecar whose lease lapsed
	ThrowIfFenced("opening target " + replica.project + "." + replica.name);
	if (IsFileDialect(replica.dialect)) {
		std::string path = ResolveTargetPath(data_dir, replica);
		try {
			return OpenFileSink(replica, slot, path, collections, source, plan);
		} catch (const std::exception &e) {
			// a refusal of a file the sidecar did not create, a full disk, ...: name the replica
			throw std::runtime_error("replica " + replica.project + "." + replica.name + " (" + replica.dialect +
									 "): " + e.what());
		}
	}
	if (replica.dialect == "mongodb") {
		MongoSinkOptions options;
		options.uri = replica.uri;
		options.default_database = replica.project;
		options.slot = slot;
		options.group_max_transactions = kMongoGroupTransactions;
		options.ddl_collections = collections;
		options.warn = [](const std::string &text) { LogLine(text); };
		options.source = source; // a mapped mirror (uri's mosta_mapping) reads id_map and child rows there
		// uuid keys that id_map allocated for legacy ObjectIds keep their ObjectId as _id
		auto lookup = std::make_shared<IdMapLookup>(source);
		options.legacy_object_id = [lookup](const Change &change, const std::string &uuid) {
			return (*lookup)(change, uuid);
		};
		return std::make_unique<MongoSink>(options);
	}
	if (replica.dialect == "postgres") {
		PgSinkOptions options;
		options.conninfo = replica.uri;
		// the origin is ForwardOriginName(rule, project, replica) (bidir/names.hpp), which is the slot key
		options.origin = slot;
		options.group_max_transactions = kPgGroupTransactions;
		options.ddl_collections = collections;
		if (plan != nullptr && plan->Bidirectional()) {
			// a side of a bidirectional rule: changes from the source checked against the target's rows
			options.on_conflict = MakeConflictHandler(source, plan->name, replica.name, plan->conflict_resolution);
			options.incoming_side = Side::Source;
		}
		try {
			return std::make_unique<PgSink>(options);
		} catch (const std::exception &e) {
			throw std::runtime_error("replica " + replica.project + "." + replica.name +
									 " (postgres): " + MaskCredentialsInText(e.what()));
		}
	}
	throw std::invalid_argument("replica " + replica.project + "." + replica.name + ": dialect " + replica.dialect +
								" has no sink");
}

} // namespace mosta::sidecar
