/*
 * sqlite_backup_value.hpp
 *     The sidecar Value (decode/change.hpp) of a canonical text: what the output plugin would have sent for the
 *     value in a change document, so that the SQLite and MongoDB backups store it with the sidecar sinks' own code
 *     (sink/sqlite_apply's BindSqliteValue, sink/mongo_bson) and their files and collections look exactly like a
 *     sidecar target's. Led by the column's base type (a domain's values are sent as its base type's):
 *       smallint, integer, bigint, oid     int64
 *       real, double precision             "NaN", "Infinity", "-Infinity" a string; an integral text an int64 (as
 *                                          the sidecar's decoder reads "1"); else a double ("-0" is the double -0,
 *                                          which the decoder would have made 0: a backup keeps the sign)
 *       boolean                            bool
 *       arrays (any type ending "[]")      raw JSON (the canonical text is the plugin's JSON array)
 *       everything else                    the text as a string (numeric, json and jsonb included)
 *     Strings and raw JSON are views into the canonical text: the Value lives as long as the batch.
 */
#pragma once

#include <string_view>

#include "decode/change.hpp"
#include "model/schema.hpp"

namespace mosta::copy {

// How a column's canonical texts become Values.
enum class ValueShape { Integer, Float, Boolean, Array, String };

// ShapeOfColumn classifies column's base type.
ValueShape ShapeOfColumn(const ColumnDef &column);

// CanonicalToValue returns the Value of canonical (non-NULL) text of column, shaped as shape; throws CopyError
// naming the column and showing the value when the text does not read as the shape asks.
sidecar::Value CanonicalToValue(ValueShape shape, std::string_view canonical, const ColumnDef &column);

// IsNegativeZero tells whether value is the double -0.
bool IsNegativeZero(const sidecar::Value &value) noexcept;

} // namespace mosta::copy
