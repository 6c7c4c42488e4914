/*-------------------------------------------------------------------------
 * type_encoding.cpp
 *	  Writes column values as JSON for the change stream.
 *
 * Regime: PG (see type_encoding.hpp). Values whose text form depends on
 * session settings (DateStyle, TimeZone, IntervalStyle, extra_float_digits,
 * bytea_output) are written here in one fixed form instead, so the same WAL
 * always decodes to the same bytes, through SQL or the walsender alike.
 *-------------------------------------------------------------------------
 */
#include <cmath>

#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "catalog/pg_type.h"	 /* type OIDs */
#include "common/shortest_dec.h" /* double_to_shortest_decimal_buf */
#include "datatype/timestamp.h"	 /* TIMESTAMP_NOT_FINITE */
#include "miscadmin.h"			 /* USE_XSD_DATES, USE_ISO_DATES, INTSTYLE_ISO_8601 */
#include "pgtime.h"				 /* session_timezone, pg_tzset */
#include "utils/array.h"		 /* deconstruct_array */
#include "utils/bytea.h"		 /* bytea_output */
#include "utils/float.h"		 /* extra_float_digits */
#include "utils/builtins.h"		 /* pg_lltoa, hex_encode, text_to_cstring */
#include "utils/date.h"			 /* DateADT, DATE_NOT_FINITE */
#include "utils/datetime.h"		 /* EncodeDateTime, EncodeDateOnly, EncodeInterval, j2date */
#include "utils/json.h"			 /* escape_json */
#include "utils/jsonb.h"		 /* JsonbToCString */
#include "utils/lsyscache.h"	 /* getBaseType, get_typlenbyvalalign, get_element_type, getTypeOutputInfo */
#include "utils/timestamp.h"	 /* timestamp2tm, interval2itm */
}

namespace mostajs {

namespace {

/* KindOfBaseType returns how values of a (non-domain) type are written. */
ValueKind
KindOfBaseType(Oid base_oid, int16 length) {
	switch (base_oid) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case OIDOID:
		return ValueKind::Integer;
	case FLOAT4OID:
		return ValueKind::Float4;
	case FLOAT8OID:
		return ValueKind::Float8;
	case BOOLOID:
		return ValueKind::Bool;
	case NUMERICOID:
		return ValueKind::Numeric;
	case JSONOID:
		return ValueKind::Json;
	case JSONBOID:
		return ValueKind::Jsonb;
	case BYTEAOID:
		return ValueKind::Bytea;
	case TEXTOID:
	case VARCHAROID:
	case BPCHAROID:
		return ValueKind::Text;
	case TIMESTAMPTZOID:
		return ValueKind::Timestamptz;
	case TIMESTAMPOID:
		return ValueKind::Timestamp;
	case DATEOID:
		return ValueKind::Date;
	case INTERVALOID:
		return ValueKind::Interval;
	default:
		/* a true array (varlena with an element type); name and point have typelem but are fixed-length */
		if (length == -1 && OidIsValid(get_element_type(base_oid)))
			return ValueKind::Array;
		return ValueKind::Other;
	}
}

/*
 * OutputWithFixedSettings calls a type's output function with the settings
 * output functions read (DateStyle, IntervalStyle, TimeZone,
 * extra_float_digits, bytea_output) fixed to ISO, postgres, UTC, shortest
 * exact and hex, and puts the session's values back on every path: ranges,
 * composites and geometric types then decode to the same bytes in every
 * session. lc_monetary (money) is not fixed.
 */
char *
OutputWithFixedSettings(FmgrInfo *output, Datum value) {
	static pg_tz *utc = nullptr;
	if (utc == nullptr)
		utc = pg_tzset("UTC");
	int saved_date_style = DateStyle, saved_date_order = DateOrder, saved_interval_style = IntervalStyle;
	int saved_float_digits = extra_float_digits, saved_bytea_output = bytea_output;
	pg_tz *saved_timezone = session_timezone;
	char *volatile text = nullptr;
	PG_TRY();
	{
		DateStyle = USE_ISO_DATES;
		DateOrder = DATEORDER_YMD;
		IntervalStyle = INTSTYLE_POSTGRES;
		extra_float_digits = 1;
		bytea_output = BYTEA_OUTPUT_HEX;
		session_timezone = utc;
		text = OutputFunctionCall(output, value);
	}
	PG_FINALLY();
	{
		DateStyle = saved_date_style;
		DateOrder = saved_date_order;
		IntervalStyle = saved_interval_style;
		extra_float_digits = saved_float_digits;
		bytea_output = saved_bytea_output;
		session_timezone = saved_timezone;
	}
	PG_END_TRY();
	return text;
}

/* AppendQuoted writes a C string as a JSON string. */
void
AppendQuoted(StringInfo out, const char *text) {
	escape_json(out, text);
}

/*
 * AppendJsonString writes length bytes of data as a JSON string, escaped
 * exactly as escape_json escapes (", \\, \b \f \n \r \t by name, other
 * bytes below 0x20 as \u00xx) but copying runs of plain bytes at once: json,
 * jsonb and text values are mostly plain, and this is the hot path.
 */
void
AppendJsonString(StringInfo out, const char *data, int length) {
	enlargeStringInfo(out, length + 2);
	appendStringInfoCharMacro(out, '"');
	int run = 0;
	for (int i = 0; i < length; i++) {
		unsigned char c = static_cast<unsigned char>(data[i]);
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		appendBinaryStringInfo(out, data + run, i - run);
		run = i + 1;
		switch (c) {
		case '\b':
			appendStringInfoString(out, "\\b");
			break;
		case '\f':
			appendStringInfoString(out, "\\f");
			break;
		case '\n':
			appendStringInfoString(out, "\\n");
			break;
		case '\r':
			appendStringInfoString(out, "\\r");
			break;
		case '\t':
			appendStringInfoString(out, "\\t");
			break;
		case '"':
			appendStringInfoString(out, "\\\"");
			break;
		case '\\':
			appendStringInfoString(out, "\\\\");
			break;
		default:
			appendStringInfo(out, "\\u%04x", static_cast<int>(c));
			break;
		}
	}
	appendBinaryStringInfo(out, data + run, length - run);
	appendStringInfoCharMacro(out, '"');
}

/* AppendFloat writes a float as its shortest exact decimal, or NaN/Infinity as strings. */
void
AppendFloat(StringInfo out, double value, bool is_float4) {
	if (std::isnan(value)) {
		appendStringInfoString(out, "\"NaN\"");
		return;
	}
	if (std::isinf(value)) {
		appendStringInfoString(out, value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char buffer[64];
	if (is_float4)
		float_to_shortest_decimal_buf(static_cast<float>(value), buffer);
	else
		double_to_shortest_decimal_buf(value, buffer);
	appendStringInfoString(out, buffer);
}

/* AppendInteger writes an integer type's value as a JSON number. */
void
AppendInteger(StringInfo out, Datum value, const TypeEncoding *encoding) {
	char buffer[MAXINT8LEN + 1];
	int64 number;
	if (encoding->base_oid == OIDOID)
		number = DatumGetObjectId(value);
	else if (encoding->length == 2)
		number = DatumGetInt16(value);
	else if (encoding->length == 4)
		number = DatumGetInt32(value);
	else
		number = DatumGetInt64(value);
	int length = pg_lltoa(number, buffer);
	appendBinaryStringInfo(out, buffer, length);
}

/*
 * AppendJson writes a json value. Format version 1 embeds it, its newlines
 * (which can only be whitespace) folded so one document stays one line; from
 * version 2 on it is a JSON string holding the exact text, so that the JSON
 * value null ("null") and SQL NULL (null) differ.
 */
void
AppendJson(StringInfo out, Datum value, int format_version) {
	text *json = DatumGetTextPP(value);
	const char *data = VARDATA_ANY(json);
	int length = VARSIZE_ANY_EXHDR(json);
	if (format_version >= kJsonAsTextVersion) {
		AppendJsonString(out, data, length);
		return;
	}
	enlargeStringInfo(out, length);
	for (int i = 0; i < length; i++)
		out->data[out->len + i] = (data[i] == '\n' || data[i] == '\r') ? ' ' : data[i];
	out->len += length;
	out->data[out->len] = '\0';
}

/* AppendBytea writes bytea as a string in PostgreSQL's hex form: "\\x0a1b". */
void
AppendBytea(StringInfo out, Datum value) {
	bytea *bytes = DatumGetByteaPP(value);
	size_t length = VARSIZE_ANY_EXHDR(bytes);
	appendStringInfoString(out, "\"\\\\x");
	enlargeStringInfo(out, static_cast<int>(length * 2 + 1));
	out->len += static_cast<int>(hex_encode(VARDATA_ANY(bytes), length, out->data + out->len));
	appendStringInfoChar(out, '"');
}

/*
 * AppendIsoDate writes fields encoded by encode(), a PostgreSQL encoder that
 * starts with a four-digit year, as ISO 8601: years before 1 AD as
 * astronomical years ("0000" is 1 BC, "-0043" is 44 BC) instead of
 * PostgreSQL's " BC" suffix.
 */
template <typename Encode>
void
AppendIsoDate(StringInfo out, struct pg_tm *tm, Encode encode) {
	char buffer[MAXDATELEN + 1];
	int year = tm->tm_year; /* astronomical: 0 is 1 BC */
	if (year > 0) {
		encode(tm, buffer);
		AppendQuoted(out, buffer);
		return;
	}
	tm->tm_year = 1000; /* any four-digit AD year: only the digits are replaced below */
	encode(tm, buffer);
	char year_text[16];
	snprintf(year_text, sizeof year_text, "%s%04d", year < 0 ? "-" : "", year < 0 ? -year : year);
	appendStringInfoChar(out, '"');
	appendStringInfoString(out, year_text);
	appendStringInfoString(out, buffer + 4);
	appendStringInfoChar(out, '"');
}

/* AppendTimestamp writes timestamp[tz] in ISO 8601; timestamptz in UTC with its +00:00 offset. */
void
AppendTimestamp(StringInfo out, Timestamp value, bool with_zone) {
	if (TIMESTAMP_NOT_FINITE(value)) {
		appendStringInfoString(out, TIMESTAMP_IS_NOBEGIN(value) ? "\"-infinity\"" : "\"infinity\"");
		return;
	}
	struct pg_tm tm;
	fsec_t fsec;
	/* no zone argument: the fields stay in UTC */
	if (timestamp2tm(value, nullptr, &tm, &fsec, nullptr, nullptr) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	tm.tm_isdst = 0; /* EncodeDateTime prints a zone only when it is known */
	AppendIsoDate(out, &tm, [fsec, with_zone](struct pg_tm *fields, char *buffer) {
		EncodeDateTime(fields, fsec, with_zone, 0, nullptr, USE_XSD_DATES, buffer);
	});
}

/* AppendDate writes a date in ISO 8601. */
void
AppendDate(StringInfo out, DateADT value) {
	if (DATE_NOT_FINITE(value)) {
		appendStringInfoString(out, DATE_IS_NOBEGIN(value) ? "\"-infinity\"" : "\"infinity\"");
		return;
	}
	struct pg_tm tm;
	j2date(value + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	AppendIsoDate(out, &tm, [](struct pg_tm *fields, char *buffer) { EncodeDateOnly(fields, USE_ISO_DATES, buffer); });
}

/* AppendInterval writes an interval as an ISO 8601 duration. */
void
AppendInterval(StringInfo out, Datum value) {
	struct pg_itm itm;
	char buffer[MAXDATELEN + 1];
	interval2itm(*DatumGetIntervalP(value), &itm);
	EncodeInterval(&itm, INTSTYLE_ISO_8601, buffer);
	AppendQuoted(out, buffer);
}

/* AppendArrayLevel writes dimension `level` of an array starting at element *next. */
void
AppendArrayLevel(StringInfo out, int level, int dimensions, const int *sizes, const Datum *elements, const bool *nulls,
				 int *next, const TypeEncoding *element, int format_version) {
	appendStringInfoChar(out, '[');
	for (int i = 0; i < sizes[level]; i++) {
		if (i > 0)
			appendStringInfoChar(out, ',');
		if (level + 1 < dimensions) {
			AppendArrayLevel(out, level + 1, dimensions, sizes, elements, nulls, next, element, format_version);
			continue;
		}
		if (nulls[*next])
			appendStringInfoString(out, "null");
		else
			AppendValueJson(out, elements[*next], element, format_version);
		(*next)++;
	}
	appendStringInfoChar(out, ']');
}

/* AppendArray writes an array as a JSON array, nested by dimension (lower bounds are not kept). */
void
AppendArray(StringInfo out, Datum value, const TypeEncoding *encoding, int format_version) {
	ArrayType *array = DatumGetArrayTypeP(value);
	int dimensions = ARR_NDIM(array);
	if (dimensions == 0) {
		appendStringInfoString(out, "[]");
		return;
	}
	const TypeEncoding *element = encoding->element;
	Datum *elements;
	bool *nulls;
	int count;
	deconstruct_array(array, ARR_ELEMTYPE(array), element->length, element->by_value, element->element_align, &elements,
					  &nulls, &count);
	int next = 0;
	AppendArrayLevel(out, 0, dimensions, ARR_DIMS(array), elements, nulls, &next, element, format_version);
}

} // namespace

TypeEncoding *
BuildTypeEncoding(Oid type_oid, MemoryContext context) {
	TypeEncoding *encoding = static_cast<TypeEncoding *>(MemoryContextAllocZero(context, sizeof(TypeEncoding)));
	encoding->type_oid = type_oid;
	encoding->base_oid = getBaseType(type_oid);
	get_typlenbyvalalign(encoding->base_oid, &encoding->length, &encoding->by_value, &encoding->element_align);
	encoding->kind = KindOfBaseType(encoding->base_oid, encoding->length);
	if (encoding->kind == ValueKind::Array) {
		encoding->element = BuildTypeEncoding(get_element_type(encoding->base_oid), context);
	} else if (encoding->kind == ValueKind::Numeric || encoding->kind == ValueKind::Other) {
		Oid output_function;
		bool is_varlena;
		getTypeOutputInfo(encoding->base_oid, &output_function, &is_varlena);
		fmgr_info_cxt(output_function, &encoding->output, context);
	}
	return encoding;
}

void
AppendTimestamptzJson(StringInfo out, TimestampTz value) {
	AppendTimestamp(out, value, true);
}

void
AppendValueJson(StringInfo out, Datum value, const TypeEncoding *encoding, int format_version) {
	switch (encoding->kind) {
	case ValueKind::Integer:
		AppendInteger(out, value, encoding);
		break;
	case ValueKind::Float4:
		AppendFloat(out, DatumGetFloat4(value), true);
		break;
	case ValueKind::Float8:
		AppendFloat(out, DatumGetFloat8(value), false);
		break;
	case ValueKind::Bool:
		appendStringInfoString(out, DatumGetBool(value) ? "true" : "false");
		break;
	case ValueKind::Json:
		AppendJson(out, value, format_version);
		break;
	case ValueKind::Jsonb: {
		Jsonb *jsonb = DatumGetJsonbP(value);
		char *text = JsonbToCString(nullptr, &jsonb->root, VARSIZE(jsonb));
		if (format_version >= kJsonAsTextVersion)
			AppendJsonString(out, text, static_cast<int>(strlen(text)));
		else
			appendStringInfoString(out, text);
		break;
	}
	case ValueKind::Bytea:
		AppendBytea(out, value);
		break;
	case ValueKind::Text: {
		text *string = DatumGetTextPP(value);
		AppendJsonString(out, VARDATA_ANY(string), VARSIZE_ANY_EXHDR(string));
		break;
	}
	case ValueKind::Timestamptz:
		AppendTimestamp(out, DatumGetTimestampTz(value), true);
		break;
	case ValueKind::Timestamp:
		AppendTimestamp(out, DatumGetTimestamp(value), false);
		break;
	case ValueKind::Date:
		AppendDate(out, DatumGetDateADT(value));
		break;
	case ValueKind::Interval:
		AppendInterval(out, value);
		break;
	case ValueKind::Array:
		AppendArray(out, value, encoding, format_version);
		break;
	case ValueKind::Numeric:
		/* numeric_out reads no setting; FmgrInfo is only read here */
		AppendQuoted(out, OutputFunctionCall(const_cast<FmgrInfo *>(&encoding->output), value));
		break;
	case ValueKind::Other:
		AppendQuoted(out, OutputWithFixedSettings(const_cast<FmgrInfo *>(&encoding->output), value));
		break;
	}
}

} // namespace mostajs
