/*-------------------------------------------------------------------------
 * internal_tables.hpp
 *	  Tells the extension's own tables apart from user tables: the catalog in
 *	  schema mosta holds replica URIs with credentials, id maps and status,
 *	  and must never become a collection of a rule, be captured or be copied.
 *
 * Regime: PG. May raise (catalog lookups); holds no C++ object.
 *-------------------------------------------------------------------------
 */
#pragma once

extern "C" {
#include "postgres.h"
}

namespace mostajs {

/* kInternalSchema is the schema of the extension's catalog (every relation in it is internal). */
constexpr const char *kInternalSchema = "mosta";

/*
 * IsInternalRelation tells whether relid is in schema mosta or is a member of
 * extension mostajs (wherever it lives). relid must exist.
 */
bool IsInternalRelation(Oid relid);

} // namespace mostajs
