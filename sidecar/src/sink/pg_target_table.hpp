/*
 * pg_target_table.hpp
 *     The tables of a PostgreSQL target as the sink sees them: read from the target's catalog (columns with their
 *     format_type, primary key), created from a mostajs.ddl shape (or a relation of the stream) when missing, and
 *     altered to follow DDL messages (ddl_message.hpp's shared decisions).
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decode/change.hpp"
#include "sink/ddl_message.hpp"
#include "sink/pg_session.hpp"

namespace mosta::sidecar {

// One table of the target.
struct PgTargetTable {
	std::string schema;
	std::string table;
	std::string quoted;					  // "schema"."table"
	std::vector<std::string> columns;	  // in column order
	std::vector<std::string> types;		  // format_type of each column, same order
	std::vector<std::string> primary_key; // the target's primary key columns, in index order

	// TypeOf returns column name's type in the target ("" when the target has no such column).
	std::string_view TypeOf(std::string_view name) const noexcept;
};

// LoadPgTargetTable reads schema.table from the target's catalog; nullopt when it does not exist.
std::optional<PgTargetTable> LoadPgTargetTable(PgSession &session, const std::string &schema, const std::string &table);

// CreatePgTargetTable creates schema.table (and the schema when missing) with the shape's columns, types, NOT NULL
// and primary key (the message's "key") and, when the source's is full, REPLICA IDENTITY FULL; returns it as loaded.
PgTargetTable CreatePgTargetTable(PgSession &session, const DdlMessage &shape);

// CreatePgTargetTableFromRelation creates the table of a row change whose table the target lacks (a relation of
// the stream: columns, types and key, nullable; its replica identity when full), and returns it.
PgTargetTable CreatePgTargetTableFromRelation(PgSession &session, const RelationSchema &relation);

// AlterPgTargetTable makes held follow message's new shape: columns renamed, dropped, added (set to the message's
// "fill"), retyped (USING the old value's text); throws RecopyNeeded when a column added by a rewrite has no fill.
// Returns the table as reloaded.
PgTargetTable AlterPgTargetTable(PgSession &session, const PgTargetTable &held, const DdlMessage &message);

} // namespace mosta::sidecar
