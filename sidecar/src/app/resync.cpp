/*
 * resync.cpp
 *     ResyncInSnapshot (see resync.hpp).
 */
#include "app/resync.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "app/initial_copy.hpp"
#include "app/log.hpp"
#include "app/resync_plan.hpp"
#include "app/rule_copy.hpp"
#include "app/target_path.hpp"
#include "app/verify_mongo.hpp"
#include "app/verify_read.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar {

namespace {

namespace asio = boost::asio;

// kResyncApplyRows is how many documents one FETCH (and one decoded message) of the re-sync carries.
constexpr int kResyncApplyRows = 10'000;

// TargetUnreadable is a failure to open or read the target for the comparison: the target is then copied whole.
class TargetUnreadable : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// TargetReader reads one table of the target as verify does.
using TargetReader = std::function<VerifyTargetRows(const SourceTable &)>;

// OpenReader opens the target read-only next to its sink (SQLite: a second, read-only connection to the file, in
// WAL mode; MongoDB: a client of its own); throws TargetUnreadable.
TargetReader
OpenReader(const Config &config, const ReplicaInfo &replica) {
	if (replica.dialect == "mongodb") {
		try {
			auto mongo = std::make_shared<MongoVerifyTarget>(replica.uri, replica.project);
			return [mongo](const SourceTable &source) {
				try {
					return mongo->Read(source.schema, source.table, MongoColumns(source), source.key);
				} catch (const MongoVerifyError &error) {
					throw TargetUnreadable(error.what());
				}
			};
		} catch (const MongoVerifyError &error) {
			throw TargetUnreadable(error.what());
		}
	}
	std::string path;
	try {
		path = ResolveTargetPath(config.data_dir, replica);
	} catch (const TargetPathError &error) {
		throw TargetUnreadable(error.what());
	}
	sqlite3 *raw = nullptr;
	int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
	auto db = std::make_shared<SqliteHandle>(raw);
	if (rc != SQLITE_OK)
		throw TargetUnreadable("cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
	return [db](const SourceTable &source) {
		try {
			return ReadSqliteTarget(db->get(), source);
		} catch (const std::exception &error) {
			throw TargetUnreadable(error.what());
		}
	};
}

// OnSink runs work on the channel's worker; false (the channel failed) when it threw.
asio::awaitable<bool>
OnSink(TargetChannel &channel, const std::function<void(Sink &)> &work) {
	if (channel.Failed())
		co_return false;
	try {
		co_await channel.Run(work);
	} catch (...) {
		channel.Fail(std::current_exception());
		co_return false;
	}
	co_return true;
}

// ApplyDocuments decodes documents ('\n'-separated) once and applies them to the channel's sink.
asio::awaitable<bool>
ApplyDocuments(TargetChannel &channel, const std::string &documents, DecoderOptions options) {
	if (documents.empty())
		co_return !channel.Failed();
	ChangeDecoder decoder(options);
	std::shared_ptr<const DecodedMessage> decoded = decoder.Decode(documents);
	co_return co_await OnSink(channel, [&](Sink &sink) {
		for (const Change &change : decoded->changes)
			sink.Apply(change);
	});
}

// QualifiedName returns "schema"."table".
std::string
QualifiedName(const SourceTable &source) {
	return QuoteIdentifier(source.schema) + "." + QuoteIdentifier(source.table);
}

// SourceBucketSums returns the source's count and checksum of each non-empty range of source's table.
asio::awaitable<BucketSums>
SourceBucketSums(PgConnection &sql, const SourceTable &source, int buckets) {
	const std::string sums_sql = "SELECT b.bucket, count(*), mosta.canonical_checksum(r.*) FROM " +
								 QualifiedName(source) + " t CROSS JOIN LATERAL (SELECT " +
								 SourceKeyExpression(source, "t") + " AS k) k CROSS JOIN LATERAL (SELECT " +
								 SourceColumnsList(source, "t") + ") r CROSS JOIN LATERAL (SELECT " +
								 KeyBucketSql("k", buckets) + " AS bucket) b GROUP BY b.bucket";
	PgResultHandle result = co_await sql.Exec("checksumming the key ranges of " + source.table, sums_sql);
	BucketSums sums;
	for (int row = 0; row < PQntuples(result.get()); ++row)
		sums[std::stoi(PQgetvalue(result.get(), row, 0))] = {std::stoll(PQgetvalue(result.get(), row, 1)),
															 PQgetvalue(result.get(), row, 2)};
	co_return sums;
}

// SourceRowHashes returns the source's key text -> row hash of the rows in the ranges differing.
asio::awaitable<std::map<std::string, std::string>>
SourceRowHashes(PgConnection &sql, const SourceTable &source, int buckets, const std::set<int> &differing) {
	std::string list;
	for (int bucket : differing)
		list += (list.empty() ? "" : ",") + std::to_string(bucket);
	const std::string hashes_sql = "SELECT k.k, mosta.canonical_row_hash(r.*) FROM " + QualifiedName(source) +
								   " t CROSS JOIN LATERAL (SELECT " + SourceKeyExpression(source, "t") +
								   " AS k) k CROSS JOIN LATERAL (SELECT " + SourceColumnsList(source, "t") +
								   ") r WHERE " + KeyBucketSql("k", buckets) + " = ANY ('{" + list + "}'::int[])";
	PgResultHandle result =
		co_await sql.Exec("hashing the rows of the differing ranges of " + source.table, hashes_sql);
	std::map<std::string, std::string> hashes;
	for (int row = 0; row < PQntuples(result.get()); ++row)
		hashes.emplace(PQgetvalue(result.get(), row, 0), PQgetvalue(result.get(), row, 1));
	co_return hashes;
}

// DocumentsSql returns the SELECT of table's insert documents (as the copy reads them), with filter (SQL over the
// document's "new" object n) when not empty, and with_types each document's "types" object's text second.
std::string
DocumentsSql(PgConnection &sql, const std::string &table, const std::string &filter, bool with_types = false) {
	std::string documents = std::string(with_types ? "SELECT s.d, (s.d::json -> 'types')::text" : "SELECT s.d") +
							" FROM (SELECT d, d::json -> 'new' AS n FROM mosta.snapshot_documents(" +
							SqlLiteral(sql, table) +
							"::regclass, include_types => true, partition_root => true, format_version => " +
							std::to_string(kCopyFormatVersion) + ") d) s";
	return filter.empty() ? documents : documents + " WHERE " + filter;
}

// DocumentKeyExpression returns the SQL of the canonical key text of a document's "new" object s.n: each key value
// as ->> reads it (a JSON string's content, a number's text: the canonical text), escaped as the key text is.
std::string
DocumentKeyExpression(PgConnection &sql, const SourceTable &source) {
	std::string key_expr;
	for (const std::string &name : source.key)
		key_expr += std::string(key_expr.empty() ? "" : " || ',' || ") + "coalesce(replace(replace(s.n ->> " +
					SqlLiteral(sql, name) + R"(, E'\\', E'\\\\'), ',', E'\\,'), E'\\N'))";
	return key_expr;
}

// TypesOf returns the "types" object's text of table's documents ("" when the table is empty on the source).
asio::awaitable<std::string>
TypesOf(PgConnection &sql, const std::string &table) {
	PgResultHandle result =
		co_await sql.Exec("reading the column types of " + table,
						  "SELECT (x.d::json -> 'types')::text FROM (" + DocumentsSql(sql, table, "") + " LIMIT 1) x");
	if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0))
		co_return std::string();
	co_return std::string(PQgetvalue(result.get(), 0, 0));
}

// ResyncTable brings one keyed table of the target to the source's content; false when the sink failed.
asio::awaitable<bool>
ResyncTable(PgConnection &sql, const std::string &table, const SourceTable &source, const VerifyTargetRows &target,
			TargetChannel &channel, DecoderOptions options, ResyncReport &report) {
	PgResultHandle estimate = co_await sql.Exec(
		"estimating the rows of " + table,
		"SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = " + SqlLiteral(sql, table) + "::regclass");
	long long estimated = PQntuples(estimate.get()) > 0 ? std::stoll(PQgetvalue(estimate.get(), 0, 0)) : 0;
	int buckets = ResyncBucketCount(std::max(estimated, target.rows));
	BucketSums source_sums = co_await SourceBucketSums(sql, source, buckets);
	BucketSums target_sums = TargetBucketSums(target.hashes, buckets);
	std::set<int> differing = DifferingBuckets(source_sums, target_sums);
	for (const auto &[bucket, sum] : source_sums)
		report.source_rows += sum.rows;
	report.ranges_compared += buckets;
	report.ranges_differing += static_cast<long long>(differing.size());
	if (differing.empty())
		co_return true;
	std::map<std::string, std::string> source_hashes = co_await SourceRowHashes(sql, source, buckets, differing);
	report.rows_compared += static_cast<long long>(source_hashes.size());
	KeyDiff diff = DiffKeys(source_hashes, target.hashes, differing, buckets);
	report.rows_missing += diff.missing;
	report.rows_extra += diff.extra;
	report.rows_different += diff.different;
	// the source's rows to write are fetched before the deletes go out: the first batch gives the documents' "types"
	// that the delete documents carry (no pass of the table for them)
	const std::string context = "reading the differing rows of " + table;
	const std::string fetch_sql = "FETCH " + std::to_string(kResyncApplyRows) + " FROM mosta_resync";
	PgResultHandle batch;
	int count = 0;
	if (!diff.write.empty()) {
		std::string keys;
		for (const std::string &key : diff.write)
			keys += (keys.empty() ? "" : ", ") + SqlLiteral(sql, key);
		co_await sql.Exec(context,
						  "DECLARE mosta_resync NO SCROLL CURSOR FOR " +
							  DocumentsSql(sql, table,
										   DocumentKeyExpression(sql, source) + " = ANY (ARRAY[" + keys + "]::text[])",
										   true));
		batch = co_await sql.Exec(context, fetch_sql);
		count = PQntuples(batch.get());
	}
	if (!diff.remove.empty()) {
		std::string types;
		if (count > 0 && !PQgetisnull(batch.get(), 0, 1))
			types = PQgetvalue(batch.get(), 0, 1);
		else
			types = co_await TypesOf(sql, table);
		if (types.empty()) {
			// the source's table is empty: every row the target holds is extra
			const std::vector<std::string> just_table{table};
			std::string truncate = co_await TruncateDocument(sql, just_table);
			if (!co_await ApplyDocuments(channel, truncate, options))
				co_return false;
		} else {
			std::vector<std::string> key_types;
			for (const std::string &name : source.key)
				for (const SourceColumn &column : source.columns)
					if (column.name == name)
						key_types.push_back(column.type_name);
			std::string documents;
			std::size_t deleted = 0;
			for (const std::string &key : diff.remove) {
				documents += DeleteDocument(source.schema, source.table, source.key, key_types, key, types) + "\n";
				if (++deleted % kResyncApplyRows == 0) {
					if (!co_await ApplyDocuments(channel, documents, options))
						co_return false;
					documents.clear();
				}
			}
			if (!co_await ApplyDocuments(channel, documents, options))
				co_return false;
		}
		report.rows_deleted += static_cast<long long>(diff.remove.size());
	}
	if (diff.write.empty())
		co_return true;
	for (;;) {
		std::string documents;
		for (int row = 0; row < count; ++row) {
			documents.append(PQgetvalue(batch.get(), row, 0),
							 static_cast<std::size_t>(PQgetlength(batch.get(), row, 0)));
			documents.push_back('\n');
		}
		if (!co_await ApplyDocuments(channel, documents, options))
			co_return false;
		report.rows_recopied += count;
		if (count < kResyncApplyRows)
			break;
		batch = co_await sql.Exec(context, fetch_sql);
		count = PQntuples(batch.get());
	}
	const std::string close_sql = "CLOSE mosta_resync";
	co_await sql.Exec(context, close_sql);
	co_return true;
}

// ResyncTables compares and repairs every table of the rule inside the open sink transaction; false when the sink
// failed. Throws TargetUnreadable.
asio::awaitable<bool>
ResyncTables(PgConnection &sql, const RulePlan &plan, const TargetReader &read, TargetChannel &channel, bool for_mongo,
			 DecoderOptions options, ResyncReport &report) {
	std::vector<std::string> tables = co_await CopiedTables(sql, plan);
	for (const std::string &table : tables) {
		++report.tables;
		std::optional<SourceTable> source = co_await ReadSource(sql, table, for_mongo, false);
		if (!source)
			continue;
		if (source->key.empty() || source->columns.empty()) {
			// nothing to compare row by row: emptied, then copied whole
			const std::vector<std::string> just_table{table};
			std::string truncate = co_await TruncateDocument(sql, just_table);
			if (!co_await ApplyDocuments(channel, truncate, options))
				co_return false;
			std::vector<CopyTarget> targets{CopyTarget{&channel, false}};
			report.rows_recopied += co_await CopyTable(sql, table, targets, options);
			++report.tables_copied_whole;
			if (channel.Failed())
				co_return false;
			continue;
		}
		// the table's shape first, as the copy does: the target holds the table as the source has it now
		std::string shape = co_await ShapeDocument(sql, table);
		if (!co_await ApplyDocuments(channel, shape, options))
			co_return false;
		VerifyTargetRows target;
		std::exception_ptr unreadable;
		// the target is read on the channel's worker: the io thread keeps serving the other rules meanwhile
		co_await channel.Run([&](Sink &) {
			try {
				target = read(*source);
			} catch (...) {
				unreadable = std::current_exception();
			}
		});
		if (unreadable)
			std::rethrow_exception(unreadable);
		if (!co_await ResyncTable(sql, table, *source, target, channel, options, report))
			co_return false;
	}
	co_return true;
}

} // namespace

bool
ResyncComparable(const std::string &dialect) noexcept {
	return dialect == "sqlite" || dialect == "mongodb";
}

asio::awaitable<ResyncReport>
ResyncInSnapshot(PgConnection &sql, const Config &config, const RulePlan &plan, const std::string &snapshot_name,
				 Lsn consistent_point, TargetChannel &channel, const ReplicaInfo &replica, DecoderOptions options) {
	auto started = std::chrono::steady_clock::now();
	ResyncReport report;
	TargetReader read;
	try {
		read = OpenReader(config, replica);
	} catch (const TargetUnreadable &error) {
		report.unavailable = error.what();
		co_return report;
	}
	const std::string begin_sql =
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + SqlLiteral(sql, snapshot_name);
	co_await sql.Exec("starting the re-sync", begin_sql);
	const std::string rollback_sql = "ROLLBACK";
	// the consistent point becomes the target's checkpoint even when it held a later position (Sink::Rewind)
	if (!co_await OnSink(channel, [&](Sink &sink) {
			sink.Rewind();
			sink.BeginTransaction(consistent_point);
		})) {
		co_await sql.Exec("ending the re-sync", rollback_sql);
		co_return report;
	}
	bool applied = false;
	try {
		applied = co_await ResyncTables(sql, plan, read, channel, replica.dialect == "mongodb", options, report);
	} catch (const TargetUnreadable &error) {
		report.unavailable = error.what();
	}
	if (!report.unavailable.empty()) {
		co_await channel.Rollback();
		co_await sql.Exec("ending the re-sync", rollback_sql);
		co_return report;
	}
	if (applied)
		applied =
			co_await OnSink(channel, [&](Sink &sink) { sink.CommitTransaction(consistent_point, consistent_point); });
	if (applied)
		co_await channel.Flush();
	const std::string commit_sql = "COMMIT";
	co_await sql.Exec("ending the re-sync", commit_sql);
	report.done = applied && !channel.Failed();
	report.milliseconds =
		std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
	co_return report;
}

std::string
ResyncDetailJson(const std::string &project, const std::string &replica, const std::string &dialect,
				 const std::string &slot, Lsn consistent_point, const ResyncReport &report) {
	auto field = [](const char *name, long long value) {
		return ",\"" + std::string(name) + "\":" + std::to_string(value);
	};
	std::string message = "re-synced by key-range checksums: " + std::to_string(report.ranges_differing) + " of " +
						  std::to_string(report.ranges_compared) + " range(s) differed, " +
						  std::to_string(report.rows_deleted) + " row(s) deleted and " +
						  std::to_string(report.rows_recopied) + " re-copied of " + std::to_string(report.source_rows) +
						  " on the source";
	return "{\"project\":" + JsonQuote(project) + ",\"replica\":" + JsonQuote(replica) +
		   ",\"dialect\":" + JsonQuote(dialect) + ",\"slot\":" + JsonQuote(slot) +
		   ",\"consistent_point\":" + JsonQuote(FormatLsn(consistent_point)) + field("tables", report.tables) +
		   field("tables_copied_whole", report.tables_copied_whole) + field("source_rows", report.source_rows) +
		   field("ranges_compared", report.ranges_compared) + field("ranges_differing", report.ranges_differing) +
		   field("rows_compared", report.rows_compared) + field("rows_missing", report.rows_missing) +
		   field("rows_extra", report.rows_extra) + field("rows_different", report.rows_different) +
		   field("rows_deleted", report.rows_deleted) + field("rows_recopied", report.rows_recopied) +
		   field("ms", report.milliseconds) + ",\"message\":" + JsonQuote(message) + "}";
}

} // namespace mosta::sidecar
