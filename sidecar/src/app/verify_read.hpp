/*
 * verify_read.hpp
 *     What verify (app/verify.hpp) and the re-sync (app/resync.hpp) read to compare a collection: the source
 *     table's columns and primary key (and, for verify, its mosta_checksum), and a SQLite target's rows turned back
 *     into the canonical text of docs/verification.md (the MongoDB side is app/verify_mongo.hpp).
 *
 *     A SQLite target holds what the change documents carried, stored by the sink's type mapping
 *     (sink/sqlite_table.hpp); ReadSqliteTarget turns each stored value back into the canonical text, led by the
 *     source column's PostgreSQL type: 0/1 of a boolean become false/true, a REAL is printed as PostgreSQL prints
 *     float8 (float4 for real), a BLOB as \x hex, JSON kept as its text (a json column's JSON null is the TEXT
 *     'null', SQL NULL is NULL).
 */
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <sqlite3.h>

#include "app/verify_mongo.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/pg_types.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// One source column: its name, how its values are spelled canonically (the type table's CanonicalForm of its base
// type; arrays as JSON text) and format_type of the base type.
struct SourceColumn {
	std::string name;
	CanonicalForm type;
	std::string type_name;
};

// What a comparison knows of one collection on the source.
struct SourceTable {
	std::string schema;
	std::string table;
	std::vector<SourceColumn> columns;
	std::vector<std::string> key;		// primary key columns, in key order (empty: none)
	long long rows = 0;					// with the checksum only
	std::string checksum;				// with the checksum only
	std::string cols_sql;				// ", ARRAY[...]::text[]" when columns are left out, else empty
	std::vector<std::string> excluded;	// columns left out (json, for MongoDB targets)
	std::vector<std::string> generated; // generated columns: never replicated, left out of both sides
};

// CanonicalFormOfType returns how values of a base type (format_type's spelling) are spelled canonically: the
// type table's CanonicalForm; an array is its JSON text.
CanonicalForm CanonicalFormOfType(const std::string &type);

// TargetCanonicalText returns the canonical text of column index of stmt's current row, a value stored by the
// SQLite sink's mapping, for a source column of canonical form type (nullopt for NULL).
std::optional<std::string> TargetCanonicalText(sqlite3_stmt *stmt, int index, CanonicalForm type);

// ReadSource resolves collection on the source: its name parts, columns, key and, with with_checksum, its row count
// and mosta_checksum (without json columns when for_mongo: see verify_mongo.hpp); nullopt when it does not exist.
boost::asio::awaitable<std::optional<SourceTable>> ReadSource(PgConnection &conn, const std::string &collection,
															  bool for_mongo, bool with_checksum = true);

// SourceKeyExpression returns the SQL of a row's canonical key text over alias (mosta.row_hashes' key: each key
// column's canonical text with '\' and ',' escaped, \N for NULL, joined by ','); source must have a key.
std::string SourceKeyExpression(const SourceTable &source, const std::string &alias);

// SourceColumnsList returns "alias.a, alias.b" for source's compared columns, quoted ("" when none).
std::string SourceColumnsList(const SourceTable &source, const std::string &alias);

// TargetRowsBuilder accumulates the rows a relational target reader (SQLite, PostgreSQL) reads, in canonical text
// and in source's column order, into target: the checksum, the per-key row hashes (when source has a key) and the
// values of the rows whose key is in wanted.
class TargetRowsBuilder {
  public:
	TargetRowsBuilder(const SourceTable &source, const std::set<std::string> &wanted, VerifyTargetRows &target);

	// Add takes one row.
	void Add(std::vector<CanonicalColumn> row);

	// Finish writes the row count and the checksum into the target.
	void Finish();

  private:
	const std::set<std::string> &wanted_;
	VerifyTargetRows &target_;
	bool keyed_;
	std::vector<std::size_t> key_at_; // the key columns' positions among the compared columns
	std::vector<std::optional<std::string>> key_;
	ChecksumState state_;
};

// ReadSqliteTarget computes the canonical checksum (and per-key row hashes) of source's table in the SQLite database
// db, and keeps the canonical values of the rows whose key is in wanted; a missing table reads as not existing.
VerifyTargetRows ReadSqliteTarget(sqlite3 *db, const SourceTable &source, const std::set<std::string> &wanted = {});

// MongoColumns returns source's compared columns as the MongoDB reader takes them.
std::vector<VerifyColumn> MongoColumns(const SourceTable &source);

} // namespace mosta::sidecar
