/*
 * verify.cpp
 *     The verify subcommand (see verify.hpp and docs/sidecar.md, "verify").
 *
 *     A SQLite target holds what the change documents carried, stored by the sink's type mapping
 *     (sink/sqlite_table.hpp); TargetCanonicalText turns each stored value back into the canonical text of
 *     docs/verification.md, led by the source column's PostgreSQL type: 0/1 of a boolean become false/true, a
 *     REAL is printed as PostgreSQL prints float8 (float4 for real), a BLOB as \x hex, JSON kept as its text (a
 *     json column's JSON null is the TEXT 'null', SQL NULL is NULL).
 */
#include "app/verify.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>

#include "app/catalog.hpp"
#include "app/target_path.hpp"
#include "app/verify_diff.hpp"
#include "app/verify_mongo.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"
#include "mosta/common/pg_types.hpp"
#include "pg/connection.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::sidecar {

namespace {

namespace asio = boost::asio;

// How a source column's values are spelled canonically: the type table's CanonicalForm of its (base) type.
using TypeClass = CanonicalForm;

// One source column: its name and type class.
struct SourceColumn {
	std::string name;
	TypeClass type;
	std::string type_name; // format_type of the base type
};

// What verify knows of one collection on the source.
struct SourceTable {
	std::string schema;
	std::string table;
	std::vector<SourceColumn> columns;
	std::vector<std::string> key; // primary key columns, in key order (empty: none)
	long long rows = 0;
	std::string checksum;
	std::string cols_sql;				// ", ARRAY[...]::text[]" when columns are left out, else empty
	std::vector<std::string> excluded;	// columns left out (json, for MongoDB targets)
	std::vector<std::string> generated; // generated columns: never replicated, left out of both sides
};

// What verify computed for one collection on a target.
using TargetTable = VerifyTargetRows;

// ClassOf reads the canonical form of format_type's spelling of a base type from the type table; an array is
// compared as its JSON text.
TypeClass
ClassOf(const std::string &type) {
	PgColumnType column = ClassifyPgType(type);
	return column.dims > 0 ? CanonicalForm::JsonText : column.info->canonical;
}

// HexBlob returns bytes as PostgreSQL's hex bytea text.
std::string
HexBlob(const unsigned char *bytes, int size) {
	static constexpr char kDigits[] = "0123456789abcdef";
	std::string out = "\\x";
	for (int i = 0; i < size; ++i) {
		out += kDigits[bytes[i] >> 4];
		out += kDigits[bytes[i] & 0xf];
	}
	return out;
}

// TargetCanonicalText returns the canonical text of column index of the current SQLite row (nullopt for NULL).
std::optional<std::string>
TargetCanonicalText(sqlite3_stmt *stmt, int index, TypeClass type) {
	int storage = sqlite3_column_type(stmt, index);
	if (storage == SQLITE_NULL)
		return std::nullopt;
	if (storage == SQLITE_INTEGER) {
		long long value = sqlite3_column_int64(stmt, index);
		if (type == CanonicalForm::Boolean)
			return value != 0 ? "true" : "false";
		if (type == CanonicalForm::Float4)
			return FormatPgFloat4(static_cast<float>(value));
		if (type == CanonicalForm::Float8)
			return FormatPgFloat8(static_cast<double>(value));
		return std::to_string(value);
	}
	if (storage == SQLITE_FLOAT) {
		double value = sqlite3_column_double(stmt, index);
		return type == CanonicalForm::Float4 ? FormatPgFloat4(static_cast<float>(value)) : FormatPgFloat8(value);
	}
	const unsigned char *bytes = static_cast<const unsigned char *>(
		storage == SQLITE_BLOB ? sqlite3_column_blob(stmt, index) : sqlite3_column_text(stmt, index));
	int size = sqlite3_column_bytes(stmt, index);
	std::string text(reinterpret_cast<const char *>(bytes), static_cast<std::size_t>(size));
	if (storage == SQLITE_BLOB && type == CanonicalForm::ByteaHex)
		return HexBlob(bytes, size);
	// json and jsonb values are stored as their JSON text (format version 2 sends that text), arrays as the
	// plugin's JSON array: both are the canonical text as stored
	return text;
}

// ReadSource resolves a collection on the source: its name parts, columns, key, row count and checksum (without
// json columns when for_mongo: see verify_mongo.hpp).
asio::awaitable<std::optional<SourceTable>>
ReadSource(PgConnection &conn, const std::string &collection, bool for_mongo) {
	const std::string rel = SqlLiteral(conn, collection);
	PgResultHandle names = co_await conn.Exec(
		"resolving " + collection, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
								   "c.relnamespace WHERE c.oid = to_regclass(" +
									   rel + ")");
	if (PQntuples(names.get()) == 0)
		co_return std::nullopt;
	SourceTable source{PQgetvalue(names.get(), 0, 0), PQgetvalue(names.get(), 0, 1), {}, {}, 0, {}, {}, {}, {}};
	PgResultHandle columns = co_await conn.Exec(
		"reading the columns of " + collection,
		"SELECT a.attname, format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL),"
		"       a.attgenerated <> ''"
		"  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
		" WHERE a.attrelid = " +
			rel + "::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
	std::string kept;
	for (int row = 0; row < PQntuples(columns.get()); ++row) {
		std::string name = PQgetvalue(columns.get(), row, 0), type = PQgetvalue(columns.get(), row, 1);
		// a generated column is computed on the source and never sent (protocol section 7): no target has it
		if (PQgetvalue(columns.get(), row, 2)[0] == 't') {
			source.generated.push_back(name);
			continue;
		}
		if (for_mongo && MongoVerifyExcluded(type)) {
			source.excluded.push_back(name);
			continue;
		}
		kept += (kept.empty() ? "" : ", ") + SqlLiteral(conn, name);
		source.columns.push_back({name, ClassOf(type), type});
	}
	if (!source.excluded.empty() || !source.generated.empty())
		source.cols_sql = ", ARRAY[" + kept + "]::text[]";
	PgResultHandle key = co_await conn.Exec(
		"reading the primary key of " + collection,
		"SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)"
		"  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
		" WHERE i.indrelid = " +
			rel + "::regclass AND i.indisprimary ORDER BY k.n");
	for (int row = 0; row < PQntuples(key.get()); ++row)
		source.key.emplace_back(PQgetvalue(key.get(), row, 0));
	PgResultHandle sum =
		co_await conn.Exec("checksumming " + collection, "SELECT row_count, checksum FROM mosta_checksum(" + rel +
															 "::regclass" + source.cols_sql + ")");
	source.rows = std::stoll(PQgetvalue(sum.get(), 0, 0));
	source.checksum = PQgetvalue(sum.get(), 0, 1);
	co_return source;
}

// ReadTarget computes the canonical checksum (and per-key row hashes) of source's table in the SQLite file db, and
// keeps the canonical values of the rows whose key is in wanted.
TargetTable
ReadTarget(sqlite3 *db, const SourceTable &source, const std::set<std::string> &wanted) {
	TargetTable target;
	std::optional<SqliteTable> table = LoadSqliteTable(db, SqliteTableName(source.schema, source.table));
	if (!table)
		return target;
	target.exists = true;
	// a column the target lacks reads as NULL
	std::string select;
	for (const SourceColumn &column : source.columns)
		select += (select.empty() ? "" : ", ") +
				  (table->kinds.count(column.name) ? QuoteIdentifier(column.name) : std::string("NULL"));
	SqliteStmtHandle stmt =
		PrepareSql(db, "SELECT " + (select.empty() ? std::string("1") : select) + " FROM " + table->quoted);
	ChecksumState state;
	while (StepSql(db, stmt.get())) {
		std::vector<CanonicalColumn> row;
		std::map<std::string, std::optional<std::string>> by_name;
		std::vector<std::optional<std::string>> values;
		for (std::size_t i = 0; i < source.columns.size(); ++i) {
			std::optional<std::string> text =
				TargetCanonicalText(stmt.get(), static_cast<int>(i), source.columns[i].type);
			by_name[source.columns[i].name] = text;
			if (!wanted.empty())
				values.push_back(text);
			row.push_back({source.columns[i].name, std::move(text)});
		}
		std::string encoded = EncodeCanonicalRow(std::move(row));
		Hash128 hash = CanonicalRowHash(encoded.data(), encoded.size());
		state.Add(hash);
		if (!source.key.empty()) {
			std::vector<std::optional<std::string>> key;
			for (const std::string &name : source.key)
				key.push_back(by_name[name]);
			char hex[kHash128HexSize + 1];
			FormatHash128(hash, hex);
			std::string key_text = CanonicalKeyText(key);
			if (wanted.count(key_text) != 0)
				target.values[key_text] = std::move(values);
			target.hashes[std::move(key_text)] = hex;
		}
	}
	target.rows = static_cast<long long>(state.rows);
	target.checksum = state.Text();
	return target;
}

// TargetReader computes a collection's rows on a target, keeping the canonical values of the rows whose key is in
// the set (empty: none).
using TargetReader = std::function<TargetTable(const SourceTable &, const std::set<std::string> &)>;

// SourceValues returns the canonical values of source's columns for the rows whose key text is in keys, by key text
// (the key expression is mosta.row_hashes'), read in the comparison's snapshot.
asio::awaitable<std::map<std::string, std::vector<std::optional<std::string>>>>
SourceValues(PgConnection &conn, const std::string &collection, const SourceTable &source,
			 const std::set<std::string> &keys) {
	std::string key_expr, select, wanted;
	for (const std::string &name : source.key)
		key_expr += std::string(key_expr.empty() ? "" : " || ',' || ") +
					"coalesce(replace(replace(mosta.canonical_text(t." + QuoteIdentifier(name) +
					R"(), E'\\', E'\\\\'), ',', E'\\,'), E'\\N'))";
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
	int verified_targets = 0;
	for (const ReplicaInfo &replica : plan->targets) {
		if (replica.dialect == "mongodb") {
			++verified_targets;
			std::printf("target %s/%s (mongodb %s)\n", replica.project.c_str(), replica.name.c_str(),
						MaskCredentials(replica.uri).c_str());
			try {
				MongoVerifyTarget mongo(replica.uri, replica.project);
				auto read = [&](const SourceTable &source, const std::set<std::string> &wanted) {
					std::vector<VerifyColumn> columns;
					for (const SourceColumn &column : source.columns)
						columns.push_back({column.name, column.type_name});
					return mongo.Read(source.schema, source.table, columns, source.key, wanted);
				};
				if (co_await CompareCollections(conn, collections, true, read))
					mismatch = true;
			} catch (const MongoVerifyError &error) {
				std::printf("  cannot read the MongoDB target: %s\n", error.what());
				mismatch = true;
			}
			continue;
		}
		if (replica.dialect != "sqlite") {
			std::printf("target %s/%s (%s): not verified (only SQLite and MongoDB targets are)\n",
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
			return ReadTarget(db.get(), source, wanted);
		};
		if (co_await CompareCollections(conn, collections, false, read))
			mismatch = true;
	}
	co_await conn.Exec("ending the comparison", "COMMIT");
	if (verified_targets == 0)
		std::printf("rule %s has no SQLite or MongoDB target to verify\n", plan->name.c_str());
	std::printf("%s\n", mismatch ? "verify: MISMATCH" : "verify: all collections match");
	std::fflush(stdout);
	co_return mismatch ? 1 : 0;
}

} // namespace

int
RunVerify(asio::io_context &context, const Config &config) {
	int status = 1;
	std::exception_ptr failure;
	asio::co_spawn(context, VerifyRule(config), [&](std::exception_ptr error, int result) {
		failure = error;
		status = result;
	});
	context.run();
	if (failure)
		std::rethrow_exception(failure);
	return status;
}

} // namespace mosta::sidecar
