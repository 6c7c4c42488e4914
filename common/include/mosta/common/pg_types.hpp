/*
 * pg_types.hpp
 *     The one table of PostgreSQL types the targets know: each type name as format_type prints it (typmods and
 *     array brackets stripped by SplitPgTypeName) → one PgTypeKind, and per target what a value of that kind is
 *     stored as: the SQLite declared type (its affinity), the SQL dump literal's form, the BSON type, and the
 *     canonical form verify hashes. Every classifier of the sidecar (SQLite table, SQL dump literal, Mongo BSON,
 *     verify, verify_mongo) reads this table and keeps only how it writes a value of each kind; the SQL side's
 *     mosta_validate_rule mirrors it (mosta._sqlite_declared_type, mosta._mongodb_value_issue in
 *     sql/parts/60_validate.sql), and test/cpp/pg_types_test.cpp asserts that both agree.
 *
 *     A name not in the table is a user or extension type when it is qualified or quoted ("public.mood",
 *     "\"My Type\"": format_type qualifies types outside pg_catalog under the pinned search_path), else a
 *     built-in type stored by its text form (text, varchar, interval, ...).
 *
 * Regime: plain C++17, no PostgreSQL header, nothing throws but std::bad_alloc (the extension compiles it too).
 */
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mosta {

// What a PostgreSQL type is, for the targets.
enum class PgTypeKind {
	Int2,
	Int4,
	Int8,
	Oid,
	Numeric,
	Float4,
	Float8,
	Bool,
	Timestamptz,
	Timestamp,
	Date,
	Uuid,
	Bytea,
	Json,
	Jsonb,
	Text, // any other built-in type: stored as its text form
	User, // a user or extension type (qualified or quoted name)
};

// SQLite: the declared type of a column, hence its affinity (None: no declared type, values stored as sent).
enum class SqliteAffinity { Integer, Real, Text, Blob, None };

// SQL dump: how a value's text becomes a literal (always quoted and cast to the declared type).
enum class SqlLiteralForm {
	Text,	 // the protocol's text as it is
	BcYears, // dates and timestamps: astronomical years <= 0 rewritten to PostgreSQL's " BC" form
};

// MongoDB: the BSON type a value is stored as (when it fits: see docs/mongodb.md for the exceptions).
enum class BsonForm { Int32, Int64, Decimal128, Double, Bool, DateTime, UuidBinary, Binary, Embedded, String };

// verify: the canonical text both sides of a row hash are brought to (see canonical_row.hpp).
enum class CanonicalForm {
	Text,	  // PostgreSQL's output text
	Boolean,  // "true"/"false" (SQLite holds 0/1)
	Float4,	  // float4out's shortest text
	Float8,	  // float8out's shortest text
	ByteaHex, // "\x..." (SQLite holds a BLOB)
	JsonText, // the JSON text as stored
};

// One row of the table.
struct PgTypeInfo {
	std::string_view name; // format_type's spelling without typmods ("" for the Text and User fallbacks)
	PgTypeKind kind;
	SqliteAffinity sqlite;
	SqlLiteralForm sql;
	BsonForm bson;
	CanonicalForm canonical;
};

// The table's rows (the named types; PgTypeOf adds the two fallbacks).
struct PgTypeRows {
	const PgTypeInfo *first;
	std::size_t count;
	const PgTypeInfo *
	begin() const noexcept {
		return first;
	}
	const PgTypeInfo *
	end() const noexcept {
		return first + count;
	}
};
PgTypeRows PgTypeTable() noexcept;

// A declared type's text split: the base name without typmods, and how many "[]" it had.
struct PgTypeName {
	std::string base; // "numeric", "timestamp with time zone", "text", "public.mood"
	int dims = 0;	  // "int[]" and "int[][]" print alike in PostgreSQL, so this is what the name says
};

// SplitPgTypeName strips typmods ("(10,2)", wherever they stand: "timestamp(3) with time zone") and "[]"
// suffixes.
PgTypeName SplitPgTypeName(std::string_view type);

// PgTypeOf returns the row of a base name (as SplitPgTypeName leaves it); an unknown name gets the Text row, or
// the User row when it is qualified or quoted.
const PgTypeInfo &PgTypeOf(std::string_view base) noexcept;

// A column's declared type, classified.
struct PgColumnType {
	const PgTypeInfo *info; // the base (element) type's row
	int dims = 0;
};

// ClassifyPgType splits type and looks its base up; "" (unknown type) is classified as Text.
PgColumnType ClassifyPgType(std::string_view type);

// SqliteDeclaredTypeName returns the SQLite declared type of an affinity ("" for None).
std::string_view SqliteDeclaredTypeName(SqliteAffinity affinity) noexcept;

} // namespace mosta
