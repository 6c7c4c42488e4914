/*
 * ddl_message.hpp
 *     The content of a mostajs.ddl message (docs/capture.md section 3, docs/protocol.md section 11) as plain C++
 *     values, and the pure decisions the SQLite and SQL dump sinks share when they follow a table's shape:
 *
 *       - which tables a rule covers (RuleCoversTable: a CREATE TABLE is applied only to those; an ALTER or DROP
 *         only to tables the sink already holds);
 *       - how an old column list maps onto the message's new shape (DiffColumns).
 *
 *     Renames. A message carries the NEW shape only. A rename is recognized when exactly one held column is gone
 *     and exactly one message column is new, both at the same position (ALTER TABLE ... RENAME COLUMN keeps the
 *     column's position; a dropped-and-added column reappears at the END). For the last column the two cannot be
 *     told apart (DROP b, ADD x in one command looks the same): it is taken as a rename, because guessing wrong
 *     that way keeps the old values under the new name, while the other guess would lose the values of every
 *     row of the common case. Anything else (several columns gone or added) is treated as DROP + ADD: the
 *     column's old values are lost in the target
 *     until rows are updated again. A table rename (ALTER TABLE ... RENAME TO / SET SCHEMA) cannot be told from a
 *     new table either: the message names only the new table, which is created if the rule covers it; the old
 *     one is left as it is.
 */
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decode/change.hpp"
#include "sink/type_definition.hpp"

namespace mosta::sidecar {

// kDdlPrefix is the prefix of the extension's DDL messages.
inline constexpr std::string_view kDdlPrefix = "mostajs.ddl";

// One column of a table's shape.
struct DdlColumn {
	std::string name;
	std::string type; // format_type's spelling
	bool nullable = true;
	std::optional<std::string> default_expr;
	// "fill": the value rows older than the column hold in it (PostgreSQL's fast default), typed as change
	// documents type values; a sink that adds the column sets it in the rows it holds. Unset: NULL, unless the
	// message says "rewritten".
	std::optional<Value> fill;
	std::shared_ptr<const DecodedMessage> fill_storage; // what fill's views point into
};

// One mostajs.ddl message's content.
struct DdlMessage {
	std::string command; // "CREATE TABLE", "ALTER TABLE", "DROP TABLE", ...
	std::string schema;
	std::string table;
	std::string object_identity;
	std::vector<DdlColumn> columns;
	std::vector<std::string> key;
	std::string replica_identity;
	bool dropped = false;
	// "rewritten": the command rewrote the table (an ADD COLUMN with a volatile default gave each row its own
	// value, which no change document carries): a sink that adds a column without "fill" must copy the table again
	// (NeedsRecopy).
	bool rewritten = false;
	// "partition_root": the table is a partition, whose changes the sidecar receives under this root
	// (partition-root): sinks hold the root and leave the partition's own messages alone.
	std::optional<TableName> partition_root;
	// "types": the definitions of the user types the columns need, dependencies first (the SQL dump creates them).
	std::vector<TypeDefinition> types;

	// IsCreate tells whether the command creates the table (CREATE TABLE, CREATE TABLE AS, SELECT INTO).
	bool IsCreate() const noexcept;
};

// ParseDdlMessage returns the content of change when it is a "mostajs.ddl" message, nullopt for anything else;
// throws std::runtime_error naming the problem when the content is not a valid DDL document.
std::optional<DdlMessage> ParseDdlMessage(const Change &change);

// RuleCoversTable tells whether a rule with these collections ("*", or canonical qualified names such as
// public.orders or "My Schema"."T") replicates schema.table.
bool RuleCoversTable(const std::vector<std::string> &collections, std::string_view schema, std::string_view table);

// How a table's held columns map onto a message's new shape.
struct ColumnDiff {
	std::vector<std::pair<std::string, std::string>> renamed; // (old name, new name)
	std::vector<std::string> dropped;						  // held columns no longer in the shape
	std::vector<std::string> added;							  // shape columns not held (in shape order)
};

// DiffColumns compares held (the target's columns, in column order) with shape (the message's columns, in order),
// recognizing a rename as the file comment says.
ColumnDiff DiffColumns(const std::vector<std::string> &held, const std::vector<DdlColumn> &shape);

// NeedsRecopy tells whether adding the columns added (names from DiffColumns) leaves the sink's rows without values
// only the source holds: the message says "rewritten" and one of them has no "fill".
bool NeedsRecopy(const DdlMessage &message, const std::vector<std::string> &added);

// FindDdlColumn returns the column called name of message, or null.
const DdlColumn *FindDdlColumn(const DdlMessage &message, std::string_view name);

// ShapeAsChange returns an insert document carrying the shape: every column with a NULL value, "types" and "key",
// so the sinks' own table declaration (CREATE TABLE / ADD COLUMN) can be reused.
Change ShapeAsChange(const DdlMessage &message);

} // namespace mosta::sidecar
