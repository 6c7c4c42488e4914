/*-------------------------------------------------------------------------
 * type_encoding.hpp
 *	  How one column type is written as JSON in the change stream
 *	  (docs/protocol.md, "Values").
 *
 * Regime: PG. Everything here may raise and holds no C++ object; it is
 * called from the output plugin's callbacks and from the capture trigger.
 *-------------------------------------------------------------------------
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h" /* TimestampTz */
#include "fmgr.h"				/* FmgrInfo */
#include "lib/stringinfo.h"		/* StringInfo */
}

namespace mostajs {

/* ValueKind is the JSON shape a type's values take. */
enum class ValueKind : uint8 {
	Integer, /* int2, int4, int8, oid: JSON number */
	Float4,	 /* JSON number, shortest exact form; NaN/Infinity as strings */
	Float8,
	Bool,		 /* true / false */
	Numeric,	 /* string, exact */
	Json,		 /* format 1: embedded as is (newlines folded to spaces); 2: a string of the exact text */
	Jsonb,		 /* format 1: embedded; 2: a string of jsonb's text */
	Bytea,		 /* string "\\x" + hex */
	Text,		 /* string, no output function needed (text, varchar, bpchar, name) */
	Timestamptz, /* string, ISO 8601 in UTC: 2024-05-01T12:30:00.5+00:00 */
	Timestamp,	 /* string, ISO 8601 without zone */
	Date,		 /* string, ISO 8601 */
	Interval,	 /* string, ISO 8601 duration: P1Y2M3DT4H5M6S */
	Array,		 /* JSON array (nested for several dimensions) of the element encoding */
	Other		 /* string from the type's output function */
};

/* TypeEncoding is what writing a value of one type needs, resolved once. */
struct TypeEncoding {
	Oid type_oid; /* the declared type (a domain stays a domain here) */
	Oid base_oid; /* type_oid with domains resolved */
	ValueKind kind;
	bool by_value;
	int16 length;
	FmgrInfo output; /* the base type's output function, for Numeric and Other */
	/* arrays only */
	char element_align;
	TypeEncoding *element;
};

/* BuildTypeEncoding resolves how to write values of type_oid, allocating in context. */
TypeEncoding *BuildTypeEncoding(Oid type_oid, MemoryContext context);

/* AppendTimestamptzJson writes a timestamptz the way values of that type are written. */
void AppendTimestamptzJson(StringInfo out, TimestampTz value);

/*
 * The change stream's format versions (docs/protocol.md, "Versioning"). From
 * version 2 on, json and jsonb values are JSON strings holding their text
 * (in arrays too), so a JSON null differs from SQL NULL; version 1 embeds them.
 * From version 3 on, a relation document describes a table once per decoding
 * session (and again after it changes), and row changes carry values only,
 * by column position.
 */
constexpr int kMinFormatVersion = 1;
constexpr int kMaxFormatVersion = 3;
constexpr int kJsonAsTextVersion = 2;
constexpr int kRelationDocumentVersion = 3;

/* AppendValueJson writes value (not NULL, already detoasted or not) as JSON, in format_version's form. */
void AppendValueJson(StringInfo out, Datum value, const TypeEncoding *encoding, int format_version);

} // namespace mostajs
