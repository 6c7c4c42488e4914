/*-------------------------------------------------------------------------
 * change_json.hpp
 *	  Writes one row change as a JSON document of the change stream
 *	  (docs/protocol.md). Shared by the output plugin and the capture
 *	  trigger, so both emit the same format.
 *
 * Regime: PG.
 *-------------------------------------------------------------------------
 */
#pragma once

#include "mostajs/decoding/relation_info.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup.h"	/* HeapTuple */
#include "access/tupdesc.h" /* TupleDesc */
#include "lib/stringinfo.h"
}

namespace mostajs {

enum class RowOp : uint8 { Insert, Update, Delete };

/* RowOpName returns "insert", "update" or "delete". */
const char *RowOpName(RowOp op);

/*
 * AppendRowChangeBody writes the rest of a row change document after the
 * caller's `{"op":"...",` and any fields of its own: names, key, "new",
 * "old", "unchanged" and, with include_types, "types", then the closing
 * brace. new_tuple is NULL for a delete, old_tuple when the replica identity
 * logged no old row. Only the replica identity's columns of old_tuple are
 * written: the others are NULL placeholders in the WAL record. Values take
 * format_version's form (type_encoding.hpp).
 */
void AppendRowChangeBody(StringInfo out, const RelationInfo *info, TupleDesc desc, HeapTuple new_tuple,
						 HeapTuple old_tuple, bool include_types, int format_version);

/*
 * AppendRowChangeValues writes the rest of a format-version-3 row change
 * after the caller's `{"op":"...",` and its own fields: "relid", "new" and
 * "old" as arrays of one value per column of info's relation document, in
 * its order, "unchanged" as the 0-based positions of unchanged TOAST values
 * (null in "new"), then the closing brace. Under a replica identity other
 * than FULL, "old" holds null at every position outside the identity.
 */
void AppendRowChangeValues(StringInfo out, const RelationInfo *info, TupleDesc desc, HeapTuple new_tuple,
						   HeapTuple old_tuple, int format_version);

} // namespace mostajs
