/*-------------------------------------------------------------------------
 * internal_tables.cpp
 *	  IsInternalRelation(): the extension's own tables, refused as
 *	  collections, capture targets and snapshot sources.
 *
 * Regime: PG. No C++ object lives here.
 *-------------------------------------------------------------------------
 */
#include <cstring>

#include "mostajs/catalog/internal_tables.hpp"

extern "C" {
#include "postgres.h"
#include "catalog/dependency.h" /* getExtensionOfObject */
#include "catalog/pg_class.h"	/* RelationRelationId */
#include "commands/extension.h" /* get_extension_oid */
#include "utils/lsyscache.h"	/* get_rel_namespace, get_namespace_name */
}

namespace mostajs {

bool
IsInternalRelation(Oid relid) {
	const char *schema = get_namespace_name(get_rel_namespace(relid));
	if (schema != nullptr && strcmp(schema, kInternalSchema) == 0)
		return true;
	/* a member moved out of mosta (ALTER TABLE ... SET SCHEMA) is still the extension's */
	Oid extension = get_extension_oid("mostajs", true);
	return OidIsValid(extension) && getExtensionOfObject(RelationRelationId, relid) == extension;
}

} // namespace mostajs
