/*-------------------------------------------------------------------------
 * plugin_options.hpp
 *	  The options of the mostajs output plugin (docs/protocol.md, "Options").
 *
 * Regime: PG. ParsePluginOptions raises an ERROR for an unknown option, a
 * value it cannot parse, or an option given twice.
 *-------------------------------------------------------------------------
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "nodes/pg_list.h"
}

namespace mostajs {

/* A schema.table pattern; '*' matches any run of characters. */
struct TablePattern {
	char *schema;
	char *table;
};

struct PluginOptions {
	int format_version;
	bool include_xids;
	bool include_timestamp;
	bool include_lsn;
	bool include_types;
	bool include_origin;
	bool only_local;
	bool include_messages;
	List *message_prefixes; /* char *; empty: every prefix */
	List *include_tables;	/* TablePattern *; empty: every table */
	List *exclude_tables;	/* TablePattern * */
	bool partition_root;
	int batch_bytes; /* 0: one output message per document */
};

/* ParsePluginOptions reads the DefElem list the slot's consumer passed. */
void ParsePluginOptions(List *definitions, PluginOptions *options);

/* TableIsIncluded applies the include-tables and exclude-tables patterns to schema.table; schema mosta is never included. */
bool TableIsIncluded(const PluginOptions *options, const char *schema, const char *table);

/* MessageIsIncluded applies include-messages and message-prefixes to a logical message's prefix. */
bool MessageIsIncluded(const PluginOptions *options, const char *prefix);

} // namespace mostajs
