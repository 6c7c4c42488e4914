/*
 * value_text.hpp
 *     The two forms of a value (model/row_batch.hpp) and the conversions between them, led by the column's base
 *     type classified by the type table (pg_types.hpp):
 *       PgText → Canonical: what a PostgreSQL source's rows and an SQL dump's COPY blocks become before they are
 *         hashed or written to SQLite, JSON or MongoDB: booleans t/f → true/false, timestamps and dates
 *         "2024-05-01 10:30:00.5+00" → "2024-05-01T10:30:00.5+00:00" (BC years → astronomical, as the plugin),
 *         arrays "{1,NULL,3}" → "[1,null,3]" (elements by their own type), everything else as it is (the session
 *         settings of kSessionSettingsSql make PostgreSQL write the rest in canonical text already).
 *       Canonical → PgText: the way back, for PostgreSQL destinations reading a SQLite or JSON backup.
 *     A value that cannot be converted throws CopyError naming the column and showing the value.
 */
#pragma once

#include <string>
#include <string_view>

#include "model/row_batch.hpp"
#include "model/schema.hpp"
#include "sink/pg_value_text.hpp"

namespace mosta::copy {

// kSessionSettingsSql fixes the output of every value mosta-copy reads from PostgreSQL or writes to it.
// (sidecar/src/sink/pg_value_text.hpp owns them: the PostgreSQL sink writes under the same settings).
inline constexpr const char *kSessionSettingsSql = sidecar::kPgSessionSettingsSql;

// PgTextToCanonical returns the canonical text of column's value text (PostgreSQL's output under
// kSessionSettingsSql); throws CopyError.
std::string PgTextToCanonical(const ColumnDef &column, std::string_view text);

// CanonicalToPgText returns a text PostgreSQL's input function reads back as the value canonical stands for;
// throws CopyError.
std::string CanonicalToPgText(const ColumnDef &column, std::string_view canonical);

// ConvertBatch returns batch (rows of table's copied columns) in form to; a batch already in that form is copied.
RowBatch ConvertBatch(const RowBatch &batch, const TableDef &table, ValueForm to);

} // namespace mosta::copy
