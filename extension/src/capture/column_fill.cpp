/*-------------------------------------------------------------------------
 * column_fill.cpp
 *	  mosta._column_fill(relid oid, attname name): the value that rows which
 *	  existed before a column was added hold in it, as the change stream
 *	  writes values (JSON text), or NULL when PostgreSQL stored none.
 *
 * Regime: PG. No C++ object lives here.
 *
 * ALTER TABLE ... ADD COLUMN with a non-volatile default does not rewrite
 * the table: PostgreSQL evaluates the default once and keeps it in
 * pg_attribute.attmissingval ("fast default"), which every older row reads
 * as its value. The mostajs.ddl message carries that value as the column's
 * "fill", so a target fills its rows with exactly what the source's rows
 * hold (docs/capture.md section 3). A partitioned table has no storage: its
 * leaves hold the value, the same in each leaf that had rows then.
 *-------------------------------------------------------------------------
 */
#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "access/relation.h"		/* relation_open, relation_close */
#include "access/tupdesc_details.h" /* AttrMissing */
#include "catalog/pg_class.h"		/* RELKIND_* */
#include "catalog/pg_inherits.h"	/* find_all_inheritors */
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"	 /* cstring_to_text_with_len */
#include "utils/lsyscache.h" /* get_attnum, get_rel_relkind */
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(mostajs_column_fill);
}

namespace mostajs {

namespace {

/* AppendMissingValue writes relid's missing value of column name into out; false when it has none. */
bool
AppendMissingValue(StringInfo out, Oid relid, const char *name) {
	AttrNumber attnum = get_attnum(relid, name);
	if (attnum <= 0)
		return false;
	Relation rel = relation_open(relid, AccessShareLock);
	TupleDesc desc = RelationGetDescr(rel);
	bool found = false;
	if (desc->constr != nullptr && desc->constr->missing != nullptr) {
		AttrMissing *missing = &desc->constr->missing[attnum - 1];
		if (missing->am_present) {
			Form_pg_attribute attribute = TupleDescAttr(desc, attnum - 1);
			/* format version 2: a json fill is a string of its text, so the JSON null is not SQL NULL */
			AppendValueJson(out, missing->am_value, BuildTypeEncoding(attribute->atttypid, CurrentMemoryContext),
							kJsonAsTextVersion);
			found = true;
		}
	}
	relation_close(rel, AccessShareLock);
	return found;
}

} // namespace

} // namespace mostajs

/* mostajs_column_fill is mosta._column_fill(relid oid, attname name) → text (strict). */
extern "C" Datum
mostajs_column_fill(PG_FUNCTION_ARGS) {
	Oid relid = PG_GETARG_OID(0);
	const char *name = NameStr(*PG_GETARG_NAME(1));
	char relkind = get_rel_relkind(relid);
	List *tables = NIL;
	if (relkind == RELKIND_RELATION)
		tables = list_make1_oid(relid);
	else if (relkind == RELKIND_PARTITIONED_TABLE)
		tables = find_all_inheritors(relid, AccessShareLock, nullptr);
	StringInfoData value;
	initStringInfo(&value);
	ListCell *cell;
	foreach (cell, tables) {
		Oid table = lfirst_oid(cell);
		if (get_rel_relkind(table) == RELKIND_RELATION && mostajs::AppendMissingValue(&value, table, name))
			PG_RETURN_TEXT_P(cstring_to_text_with_len(value.data, value.len));
	}
	PG_RETURN_NULL();
}
