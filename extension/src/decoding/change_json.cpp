/*-------------------------------------------------------------------------
 * change_json.cpp
 *	  Row change documents: {"op":"update","schema":"public","table":"t",
 *	  "key":["id"],"new":{...},"old":{...},"unchanged":["doc"]}
 *
 * Regime: PG.
 *-------------------------------------------------------------------------
 */
#include "mostajs/decoding/change_json.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup_details.h" /* heap_deform_tuple */
}

namespace mostajs {

namespace {

/* RowValues is a deformed tuple. */
struct RowValues {
	Datum *values;
	bool *nulls;
};

/* Deform splits a tuple into values and null flags (palloc'd in the current context). */
RowValues
Deform(TupleDesc desc, HeapTuple tuple) {
	RowValues row;
	row.values = static_cast<Datum *>(palloc(sizeof(Datum) * desc->natts));
	row.nulls = static_cast<bool *>(palloc(sizeof(bool) * desc->natts));
	heap_deform_tuple(tuple, desc, row.values, row.nulls);
	return row;
}

/* IsUnchangedToast tells whether a value is a TOAST pointer the WAL record did not carry. */
bool
IsUnchangedToast(const ColumnInfo *column, const RowValues &row) {
	int index = column->attnum - 1;
	return column->is_varlena && !row.nulls[index] && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(row.values[index]));
}

/*
 * AppendRow writes {"col":value,...}; identity_only limits it to the replica
 * identity's columns. Unchanged TOAST values are left out and, when unchanged
 * is given, listed there.
 */
void
AppendRow(StringInfo out, const RelationInfo *info, const RowValues &row, bool identity_only, StringInfo unchanged,
		  int format_version) {
	bool first = true;
	appendStringInfoChar(out, '{');
	for (int i = 0; i < info->column_count; i++) {
		const ColumnInfo *column = &info->columns[i];
		if (identity_only && !column->in_identity)
			continue;
		if (IsUnchangedToast(column, row)) {
			if (unchanged != nullptr) {
				/* allocated on first use: most changes carry no unchanged TOAST value */
				if (unchanged->data == nullptr)
					initStringInfo(unchanged);
				appendStringInfoString(unchanged, unchanged->len == 0 ? "[" : ",");
				appendStringInfoString(unchanged, column->json_name);
			}
			continue;
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		appendStringInfoString(out, column->json_key);
		int index = column->attnum - 1;
		if (row.nulls[index])
			appendStringInfoString(out, "null");
		else
			AppendValueJson(out, row.values[index], column->encoding, format_version);
	}
	appendStringInfoChar(out, '}');
}

/*
 * AppendRowValues writes [value,...] with one value per column of info;
 * identity_only writes null for the columns outside the replica identity.
 * Unchanged TOAST values are written null and, when unchanged is given,
 * their positions listed there.
 */
void
AppendRowValues(StringInfo out, const RelationInfo *info, const RowValues &row, bool identity_only,
				StringInfo unchanged, int format_version) {
	appendStringInfoChar(out, '[');
	for (int i = 0; i < info->column_count; i++) {
		const ColumnInfo *column = &info->columns[i];
		if (i > 0)
			appendStringInfoChar(out, ',');
		int index = column->attnum - 1;
		if (row.nulls[index] || (identity_only && !column->in_identity)) {
			appendStringInfoString(out, "null");
		} else if (IsUnchangedToast(column, row)) {
			appendStringInfoString(out, "null");
			if (unchanged != nullptr) {
				/* allocated on first use: most changes carry no unchanged TOAST value */
				if (unchanged->data == nullptr)
					initStringInfo(unchanged);
				appendStringInfo(unchanged, "%c%d", unchanged->len == 0 ? '[' : ',', i);
			}
		} else {
			AppendValueJson(out, row.values[index], column->encoding, format_version);
		}
	}
	appendStringInfoChar(out, ']');
}

} // namespace

const char *
RowOpName(RowOp op) {
	switch (op) {
	case RowOp::Insert:
		return "insert";
	case RowOp::Update:
		return "update";
	case RowOp::Delete:
		return "delete";
	}
	pg_unreachable();
}

void
AppendRowChangeBody(StringInfo out, const RelationInfo *info, TupleDesc desc, HeapTuple new_tuple, HeapTuple old_tuple,
					bool include_types, int format_version) {
	appendStringInfoString(out, info->names_json);
	if (info->key_json != nullptr) {
		appendStringInfoString(out, ",\"key\":");
		appendStringInfoString(out, info->key_json);
	}
	StringInfoData unchanged = {nullptr, 0, 0, 0};
	if (new_tuple != nullptr) {
		appendStringInfoString(out, ",\"new\":");
		AppendRow(out, info, Deform(desc, new_tuple), false, &unchanged, format_version);
	}
	if (old_tuple != nullptr) {
		appendStringInfoString(out, ",\"old\":");
		AppendRow(out, info, Deform(desc, old_tuple), !info->identity_full, nullptr, format_version);
	}
	if (unchanged.data != nullptr) {
		appendStringInfoString(out, ",\"unchanged\":");
		appendBinaryStringInfo(out, unchanged.data, unchanged.len);
		appendStringInfoChar(out, ']');
	}
	if (include_types) {
		appendStringInfoString(out, ",\"types\":");
		appendStringInfoString(out, info->types_json);
	}
	appendStringInfoChar(out, '}');
}

void
AppendRowChangeValues(StringInfo out, const RelationInfo *info, TupleDesc desc, HeapTuple new_tuple,
					  HeapTuple old_tuple, int format_version) {
	appendStringInfo(out, "\"relid\":%u", info->reported_relid);
	StringInfoData unchanged = {nullptr, 0, 0, 0};
	if (new_tuple != nullptr) {
		appendStringInfoString(out, ",\"new\":");
		AppendRowValues(out, info, Deform(desc, new_tuple), false, &unchanged, format_version);
	}
	if (old_tuple != nullptr) {
		appendStringInfoString(out, ",\"old\":");
		AppendRowValues(out, info, Deform(desc, old_tuple), !info->identity_full, nullptr, format_version);
	}
	if (unchanged.data != nullptr) {
		appendStringInfoString(out, ",\"unchanged\":");
		appendBinaryStringInfo(out, unchanged.data, unchanged.len);
		appendStringInfoChar(out, ']');
	}
	appendStringInfoChar(out, '}');
}

} // namespace mostajs
