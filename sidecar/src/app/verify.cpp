/*
 * verify.cpp
 *     The verify subcommand (see verify.hpp and docs/sidecar.md, "verify").
 *     The source and SQLite readers are app/verify_read.hpp's (shared with the re-sync, app/resync.hpp).
 */
#include "app/verify.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>

#include "app/catalog.hpp"
#include "app/target_path.hpp"
#include "app/verify_diff.hpp"
#include "app/verify_mongo.hpp"
#include "app/verify_pg.hpp"
#include "app/verify_read.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"
#include "mosta/common/pg_types.hpp"
#include "pg/connection.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"
#include "util/run_to_exit.hpp"

namespace mosta::sidecar {

namespace {

namespace asio = boost::asio;

// What verify computed for one collection on a target.
using TargetTable = VerifyTargetRows;

// TargetReader computes a collection's rows on a target, keeping the canonical values of the rows whose key is in
// the set (empty: none).
using TargetReader = std::function<TargetTable(const SourceTable &, const std::set<std::string> &)>;

// SourceValues returns the canonical values of source's columns for the rows whose key text is in keys, by key text
// (the key expression is mosta.row_hashes'), read in the comparison's snapshot.
asio::awaitable<std::map<std::string, std::vector<std::optional<std::string>>>>
SourceValues(PgConnection &conn, const std::string &collection, const SourceTable &source,
			 const std::set<std::string> &keys) {
	std::string key_expr = SourceKeyExpression(source, "t"), select, wanted;
	for (const SourceColumn &column : source.columns)
		select += ", mosta.canonical_text(t." + QuoteIdentifier(column.name) + ")";
	for (const std::string &key : keys)
		wanted += (wanted.empty() ? "" : ", ") + SqlLiteral(conn, key);
	PgResultHandle result = co_await conn.Exec(
		"reading the differing rows of " + collection,
		"SELECT * FROM (SELECT " + key_expr + " AS key" + select + " FROM " + QuoteIdentifier(source.schema) + "." +
			QuoteIdentifier(source.table) + " t) x WHERE x.key = ANY (ARRAY[" + wanted + "]::text[])");
	std::map<std::string, std::vector<std::optional<std::string>>> values;
	for (int row = 0; row < PQntuples(result.get()); ++row) {
		std::vector<std::optional<std::string>> &out = values[PQgetvalue(result.get(), row, 0)];
		for (int i = 1; i < PQnfields(result.get()); ++i)
			out.push_back(PQgetisnull(result.get(), row, i)
							  ? std::nullopt
							  : std::optional<std::string>(PQgetvalue(result.get(), row, i)));
	}
	co_return values;
}

// PrintDifferences lists up to kVerifyShownKeys keys whose rows differ between source and target; under each key
// present on both sides, the columns that differ with both values (read again on both sides).
asio::awaitable<void>
PrintDifferences(PgConnection &conn, const std::string &collection, const SourceTable &source,
				 const TargetTable &target, const TargetReader &read) {
	if (source.key.empty()) {
		std::printf("    (no primary key: differing rows are not listed)\n");
		co_return;
	}
	PgResultHandle result = co_await conn.Exec("listing the row hashes of " + collection,
											   "SELECT key, row_hash FROM mosta.row_hashes(" +
												   SqlLiteral(conn, collection) + "::regclass" + source.cols_sql + ")");
	std::map<std::string, std::string> source_hashes;
	for (int row = 0; row < PQntuples(result.get()); ++row)
		source_hashes[PQgetvalue(result.get(), row, 0)] = PQgetvalue(result.get(), row, 1);
	std::vector<std::pair<std::string, std::string>> lines; // line, and the key when its row differs
	std::set<std::string> different;
	int total = 0;
	auto note = [&](const std::string &line, const std::string &key = {}) {
		if (++total > kVerifyShownKeys)
			return;
		lines.emplace_back(line, key);
		if (!key.empty())
			different.insert(key);
	};
	auto s = source_hashes.begin();
	auto t = target.hashes.begin();
	while (s != source_hashes.end() || t != target.hashes.end()) {
		if (t == target.hashes.end() || (s != source_hashes.end() && s->first < t->first)) {
			note("missing on target: " + s->first);
			++s;
		} else if (s == source_hashes.end() || t->first < s->first) {
			note("extra on target:   " + t->first);
			++t;
		} else {
			if (s->second != t->second)
				note("different:         " + s->first, s->first);
			++s;
			++t;
		}
	}
	std::map<std::string, std::vector<std::optional<std::string>>> source_values;
	TargetTable target_values;
	if (!different.empty()) {
		source_values = co_await SourceValues(conn, collection, source, different);
		target_values = read(source, different);
	}
	std::vector<std::string> names;
	for (const SourceColumn &column : source.columns)
		names.push_back(column.name);
	for (const auto &[line, key] : lines) {
		std::printf("    %s\n", line.c_str());
		if (key.empty())
			continue;
		for (const std::string &column : DifferingColumnLines(names, source_values[key], target_values.values[key]))
			std::printf("      %s\n", column.c_str());
	}
	if (total > kVerifyShownKeys)
		std::printf("    ... and %d more differing keys\n", total - kVerifyShownKeys);
}

// CompareCollections prints one line per collection, comparing the source with what read computes on a target
// (generated columns left out, and for_mongo json columns, and said so); returns whether any collection differs.
asio::awaitable<bool>
CompareCollections(PgConnection &conn, const std::vector<std::string> &collections, bool for_mongo,
				   const TargetReader &read) {
	bool mismatch = false;
	std::printf("  %-32s %12s %12s  %-16s  %-16s  %s\n", "collection", "source_rows", "target_rows", "source_checksum",
				"target_checksum", "result");
	for (const std::string &collection : collections) {
		std::optional<SourceTable> source = co_await ReadSource(conn, collection, for_mongo);
		if (!source) {
			std::printf("  %-32s (no such table on the source)\n", collection.c_str());
			mismatch = true;
			continue;
		}
		TargetTable target = read(*source, {});
		bool match = target.exists && target.rows == source->rows && target.checksum == source->checksum;
		std::printf("  %-32s %12lld %12s  %-16.16s  %-16.16s  %s\n", collection.c_str(), source->rows,
					target.exists ? std::to_string(target.rows).c_str() : "-", source->checksum.c_str(),
					target.exists ? target.checksum.c_str() : "-", match ? "match" : "MISMATCH");
		if (!source->excluded.empty()) {
			std::string names;
			for (const std::string &name : source->excluded)
				names += (names.empty() ? "" : ", ") + name;
			std::printf("    not compared (json keeps its source text, which MongoDB does not): %s\n", names.c_str());
		}
		if (!source->generated.empty()) {
			std::string names;
			for (const std::string &name : source->generated)
				names += (names.empty() ? "" : ", ") + name;
			std::printf("    not compared (generated columns are not replicated): %s\n", names.c_str());
		}
		if (!match) {
			mismatch = true;
			if (target.exists)
				co_await PrintDifferences(conn, collection, *source, target, read);
			else
				std::printf("    the target has no table %s\n",
							QuoteIdentifier(SqliteTableName(source->schema, source->table)).c_str());
		}
	}
	co_return mismatch;
}

// VerifyRule runs the comparison and returns the exit status.
asio::awaitable<int>
VerifyRule(const Config &config) {
	PgConnection conn(co_await asio::this_coro::executor);
	co_await conn.Connect(config.source, ConnectionKind::Sql);
	std::vector<RulePlan> plans = co_await LoadRulePlans(conn);
	const RulePlan *plan = nullptr;
	for (const RulePlan &candidate : plans)
		if (candidate.name == config.verify_rule)
			plan = &candidate;
	if (plan == nullptr) {
		std::fprintf(stderr, "mosta-sidecar: verify: unknown rule \"%s\"\n", config.verify_rule.c_str());
		co_return 2;
	}
	co_await conn.Exec("starting the comparison", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	std::vector<std::string> collections = plan->collections;
	if (collections.size() == 1 && collections[0] == "*") {
		collections.clear();
		PgResultHandle star = co_await conn.Exec("listing the tables of '*'", kTablesOfStarSql);
		for (int row = 0; row < PQntuples(star.get()); ++row)
			collections.emplace_back(PQgetvalue(star.get(), row, 0));
	}
	bool mismatch = false;
	bool not_verified = false; // a target verify cannot compare (a mapped mirror): the run does not pass
	int verified_targets = 0;
	for (const ReplicaInfo &replica : plan->targets) {
		if (replica.dialect == "mongodb") {
			++verified_targets;
			std::printf("target %s/%s (mongodb %s)\n", replica.project.c_str(), replica.name.c_str(),
						MaskCredentials(replica.uri).c_str());
			try {
				if (std::string mapping_path = MappedMirrorMapping(replica.uri); !mapping_path.empty()) {
					std::printf("  not verified: %s\n", MappedMirrorNotVerified(mapping_path).c_str());
					not_verified = true;
					continue;
				}
				MongoVerifyTarget mongo(replica.uri, replica.project);
				auto read = [&](const SourceTable &source, const std::set<std::string> &wanted) {
					return mongo.Read(source.schema, source.table, MongoColumns(source), source.key, wanted);
				};
				if (co_await CompareCollections(conn, collections, true, read))
					mismatch = true;
			} catch (const MongoVerifyError &error) {
				std::printf("  cannot read the MongoDB target: %s\n", error.what());
				mismatch = true;
			}
			continue;
		}
		if (replica.dialect == "postgres") {
			++verified_targets;
			std::printf("target %s/%s (postgres %s)\n", replica.project.c_str(), replica.name.c_str(),
						MaskCredentials(replica.uri).c_str());
			std::unique_ptr<PgSession> target;
			try {
				target = std::make_unique<PgSession>(replica.uri);
			} catch (const std::exception &error) {
				std::printf("  cannot read the PostgreSQL target: %s\n", MaskCredentialsInText(error.what()).c_str());
				mismatch = true;
				continue;
			}
			auto read = [&](const SourceTable &source, const std::set<std::string> &wanted) {
				return ReadPgTarget(*target, source, wanted);
			};
			if (co_await CompareCollections(conn, collections, false, read))
				mismatch = true;
			continue;
		}
		if (replica.dialect != "sqlite") {
			std::printf("target %s/%s (%s): not verified (only SQLite, PostgreSQL and MongoDB targets are)\n",
						replica.project.c_str(), replica.name.c_str(), replica.dialect.c_str());
			continue;
		}
		++verified_targets;
		std::printf("target %s/%s (sqlite %s)\n", replica.project.c_str(), replica.name.c_str(),
					MaskCredentials(replica.uri).c_str());
		std::string path;
		try {
			// the same path the daemon writes (app/target_path.hpp)
			path = ResolveTargetPath(config.data_dir, replica);
		} catch (const TargetPathError &error) {
			std::printf("  %s\n", error.what());
			mismatch = true;
			continue;
		}
		sqlite3 *raw = nullptr;
		int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
		SqliteHandle db(raw);
		if (rc != SQLITE_OK) {
			std::printf("  cannot open %s: %s\n", path.c_str(), raw ? sqlite3_errmsg(raw) : "out of memory");
			mismatch = true;
			continue;
		}
		auto read = [&](const SourceTable &source, const std::set<std::string> &wanted) {
			return ReadSqliteTarget(db.get(), source, wanted);
		};
		if (co_await CompareCollections(conn, collections, false, read))
			mismatch = true;
	}
	co_await conn.Exec("ending the comparison", "COMMIT");
	if (verified_targets == 0)
		std::printf("rule %s has no SQLite, PostgreSQL or MongoDB target to verify\n", plan->name.c_str());
	std::printf("%s\n", mismatch	   ? "verify: MISMATCH"
						: not_verified ? "verify: NOT VERIFIED (a target above is not verified)"
									   : "verify: all collections match");
	std::fflush(stdout);
	co_return mismatch || not_verified ? 1 : 0;
}

} // namespace

int
RunVerify(asio::io_context &context, const Config &config) {
	return RunToExit(context, VerifyRule(config));
}

} // namespace mosta::sidecar
