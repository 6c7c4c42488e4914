/*
 * schema.hpp
 *     The schema model of mosta-copy: what a backup holds about a database besides its rows, enough to create the
 *     tables again in an empty PostgreSQL database as pg_restore does (types first, then sequences and tables in
 *     foreign-key order, the data, then constraints, indexes and sequence values), and to read every value back
 *     exactly (each column's declared type and the base type that classifies it).
 *
 *     One model, one JSON form (docs/copy.md, "The schema document"): the JSON export's header, the SQLite
 *     backup's mosta_copy_schema table, the SQL dump's "-- mosta-copy:" comments and the manifest all carry it, so
 *     any backup file can be restored or verified on its own. SchemaFromJson reads what SchemaToJson writes and
 *     rejects anything else with a message naming the field.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mosta/common/pg_types.hpp"

namespace mosta::copy {

// kSchemaVersion is the version of the schema document this build writes and reads.
inline constexpr int kSchemaVersion = 1;

// SchemaError is a schema document that cannot be read; what() names the field.
class SchemaError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// One column of a table, in table order (dropped columns are not in the model).
struct ColumnDef {
	std::string name;
	std::string type;		  // format_type(atttypid, atttypmod) as declared: "numeric(10,2)", "public.qty", "text[]"
	std::string base_type;	  // what classifies values: a domain's base type (with its typmod), else type
	bool not_null = false;	  // attnotnull
	std::string default_expr; // pg_get_expr(adbin) of a plain default; "" for none
	std::string generated;	  // a STORED generated column's expression; "" for none (never copied as data)
	char identity = '\0';	  // attidentity: 'a' ALWAYS, 'd' BY DEFAULT, '\0' none
	std::string collation;	  // a non-default collation, quoted and qualified ("pg_catalog.\"C\""); "" for the default

	// Classified returns base_type classified by the type table (pg_types.hpp).
	PgColumnType
	Classified() const {
		return ClassifyPgType(base_type.empty() ? type : base_type);
	}
};

// One partition of a partitioned table (nested levels included), in creation order: parents before children.
struct PartitionDef {
	std::string schema;
	std::string name;
	std::string parent_schema;
	std::string parent_name;
	std::string bound;		   // pg_get_expr(relpartbound): "FOR VALUES FROM (1) TO (10)", "DEFAULT"
	std::string partition_key; // pg_get_partkeydef when this partition is partitioned again; else ""
};

// One table copied: a plain table, or a partitioned table whose partitions' rows are copied under it (the
// sidecar's partition-root: docs/sidecar.md).
struct TableDef {
	std::string schema;
	std::string name;
	std::vector<ColumnDef> columns;
	std::vector<std::string> primary_key; // column names in key order; empty for a table without one
	std::string partition_key;			  // pg_get_partkeydef of a partitioned table; "" for a plain table
	std::vector<PartitionDef> partitions; // a partitioned table's partitions
	// Constraints and indexes created after the data, each one complete SQL statement (pg_restore's post-data):
	// "ALTER TABLE ONLY s.t ADD CONSTRAINT c PRIMARY KEY (id);", "CREATE INDEX ...;". Foreign keys are in
	// foreign_keys, so that they are created last.
	std::vector<std::string> post_data;
	std::vector<std::string> foreign_keys;		// "ALTER TABLE ONLY ... ADD CONSTRAINT ... FOREIGN KEY ...;"
	std::vector<std::string> references;		// tables this one's foreign keys reference: "schema.name" (unquoted)
	std::vector<std::string> check_constraints; // "CONSTRAINT c CHECK (...)", inside CREATE TABLE
	std::int64_t estimated_rows = -1;			// reltuples at backup time; -1 when unknown
	std::string comment;						// obj_description; "" for none

	// QualifiedName returns "schema.name" unquoted (for messages, globs and references).
	std::string QualifiedName() const;
	// CopiedColumns returns the indexes of the columns whose values are copied: all but the generated ones.
	std::vector<std::size_t> CopiedColumns() const;
};

// A user type the tables need: an enum or a domain (composite and range types are refused when a copied column
// uses one: docs/copy.md, "What is not captured").
struct TypeDef {
	std::string schema;
	std::string name;
	std::string kind;				 // "enum" or "domain"
	std::vector<std::string> labels; // enum: labels in sort order
	std::string base_type;			 // domain: format_type of its base type, typmod included
	bool not_null = false;			 // domain: NOT NULL
	std::string default_expr;		 // domain: default; "" for none
	std::vector<std::string> checks; // domain: "CONSTRAINT c CHECK (...)"
	std::string collation;			 // domain: a non-default collation; "" for none
};

// A sequence: its definition, its value at backup time, and the column that owns it (serial, identity).
struct SequenceDef {
	std::string schema;
	std::string name;
	std::string data_type = "bigint";
	std::int64_t start = 1, increment = 1, min_value = 1, max_value = INT64_MAX, cache = 1;
	bool cycle = false;
	std::int64_t last_value = 1;
	bool is_called = false;
	std::string owned_by_table; // "schema.name" unquoted, "" when owned by nothing
	std::string owned_by_column;
	bool identity = false; // an identity column's sequence: made by CREATE TABLE, only its value is set
};

// What a backup was taken from and when.
struct SnapshotInfo {
	std::string lsn;		// pg_current_wal_lsn() (or the standby's replay LSN) in the snapshot; "" when unknown
	std::string time;		// the snapshot's time, ISO 8601 UTC ("2026-12-07T02:00:00.123456+00:00")
	std::string source;		// the source, credentials masked
	std::string server;		// server_version; "" when unknown
	std::string encoding;	// server_encoding; "" when unknown
	bool extension = false; // mostajs was installed on the source
};

// The whole model.
struct DatabaseSchema {
	std::vector<TypeDef> types;
	std::vector<SequenceDef> sequences;
	std::vector<TableDef> tables; // in foreign-key order once SortByForeignKeys has run

	// FindTable returns the table called schema.name, or null.
	const TableDef *FindTable(std::string_view schema, std::string_view name) const noexcept;
};

// SortByForeignKeys orders tables so that each comes after the tables it references (a cycle or a
// self-reference keeps the original order among its members; the foreign keys are added after the data
// anyway), ties by schema then name.
void SortByForeignKeys(std::vector<TableDef> &tables);

// TableToJson and TableFromJson write and read one table's object of the schema document.
std::string TableToJson(const TableDef &table);
TableDef TableFromJson(std::string_view json);

// SchemaToJson writes the schema document: {"version":1,"snapshot":{...},"types":[...],"sequences":[...],
// "tables":[...]}. SchemaFromJson reads it back; throws SchemaError naming the field.
std::string SchemaToJson(const DatabaseSchema &schema, const SnapshotInfo &snapshot);
DatabaseSchema SchemaFromJson(std::string_view json, SnapshotInfo *snapshot = nullptr);

} // namespace mosta::copy
