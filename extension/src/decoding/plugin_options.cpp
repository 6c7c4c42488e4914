/*-------------------------------------------------------------------------
 * plugin_options.cpp
 *	  Parsing and applying the output plugin's options: one table describes
 *	  every option, so each is parsed, checked and reported the same way.
 *
 * Regime: PG.
 *-------------------------------------------------------------------------
 */
#include <cctype>
#include <cstddef>

#include "mostajs/decoding/plugin_options.hpp"
#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "commands/defrem.h" /* defGetString */
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h" /* DefElem */
#include "utils/builtins.h"	  /* parse_bool */
}

namespace mostajs {

namespace {

enum class OptionKind { Bool, Int, StringList, TableList };

struct OptionSpec {
	const char *name;
	OptionKind kind;
	size_t offset; /* of the field in PluginOptions */
	int min;	   /* Int only */
	int max;
};

/* Upper bound of batch-bytes: an output message must stay far below the 1 GB allocation limit. */
constexpr int kMaxBatchBytes = 256 * 1024 * 1024;

constexpr OptionSpec kOptions[] = {
	{"format-version", OptionKind::Int, offsetof(PluginOptions, format_version), kMinFormatVersion, kMaxFormatVersion},
	{"include-xids", OptionKind::Bool, offsetof(PluginOptions, include_xids), 0, 0},
	{"include-timestamp", OptionKind::Bool, offsetof(PluginOptions, include_timestamp), 0, 0},
	{"include-lsn", OptionKind::Bool, offsetof(PluginOptions, include_lsn), 0, 0},
	{"include-types", OptionKind::Bool, offsetof(PluginOptions, include_types), 0, 0},
	{"include-origin", OptionKind::Bool, offsetof(PluginOptions, include_origin), 0, 0},
	{"only-local", OptionKind::Bool, offsetof(PluginOptions, only_local), 0, 0},
	{"include-messages", OptionKind::Bool, offsetof(PluginOptions, include_messages), 0, 0},
	{"message-prefixes", OptionKind::StringList, offsetof(PluginOptions, message_prefixes), 0, 0},
	{"include-tables", OptionKind::TableList, offsetof(PluginOptions, include_tables), 0, 0},
	{"exclude-tables", OptionKind::TableList, offsetof(PluginOptions, exclude_tables), 0, 0},
	{"partition-root", OptionKind::Bool, offsetof(PluginOptions, partition_root), 0, 0},
	{"batch-bytes", OptionKind::Int, offsetof(PluginOptions, batch_bytes), 0, kMaxBatchBytes},
};
constexpr int kOptionCount = sizeof(kOptions) / sizeof(kOptions[0]);

/* OptionNames returns the valid option names, for hints. */
char *
OptionNames() {
	StringInfoData names;
	initStringInfo(&names);
	for (int i = 0; i < kOptionCount; i++)
		appendStringInfo(&names, "%s%s", i > 0 ? ", " : "", kOptions[i].name);
	return names.data;
}

/* ThrowBadListItem reports a malformed item of a list option. */
void
ThrowBadListItem(const char *option, const char *value, const char *detail) {
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid value \"%s\" for option \"%s\"", value, option), errdetail("%s", detail),
					errhint("Separate items with commas; write \\, for a literal comma and \\\\ for a literal "
							"backslash.")));
}

/*
 * SplitList splits a comma-separated list; escapes ("\," "\." "\*" ...) stay
 * in an item as written, spaces around items are trimmed (an escaped one is
 * kept). A value of spaces only is the empty list; otherwise an empty item
 * (",,", a leading or trailing comma) or a backslash that ends the value,
 * escaping nothing, is an ERROR naming the option: such an item would
 * silently match nothing.
 */
List *
SplitList(const char *option, const char *value) {
	List *items = NIL;
	StringInfoData item;
	initStringInfo(&item);
	if (strspn(value, " ") == strlen(value))
		return NIL;
	int kept = 0; /* item.data[0..kept) ends with an escape: trimming stops there */
	for (const char *p = value;; p++) {
		if (*p == '\\') {
			if (p[1] == '\0')
				ThrowBadListItem(option, value, "The value ends with a backslash that escapes nothing.");
			appendStringInfoChar(&item, *p++);
			appendStringInfoChar(&item, *p);
			kept = item.len;
			continue;
		}
		if (*p != ',' && *p != '\0') {
			if (item.len > 0 || *p != ' ')
				appendStringInfoChar(&item, *p);
			continue;
		}
		while (item.len > kept && item.data[item.len - 1] == ' ')
			item.data[--item.len] = '\0';
		if (item.len == 0)
			ThrowBadListItem(option, value, "The list has an empty item.");
		items = lappend(items, pstrdup(item.data));
		resetStringInfo(&item);
		kept = 0;
		if (*p == '\0')
			return items;
	}
}

/* Unescape drops the backslashes of "\x" escapes. */
char *
Unescape(const char *text, int length) {
	StringInfoData plain;
	initStringInfo(&plain);
	for (int i = 0; i < length; i++) {
		if (text[i] == '\\' && i + 1 < length)
			i++;
		appendStringInfoChar(&plain, text[i]);
	}
	return plain.data;
}

/* ParseTablePattern splits "schema.table" at its first unescaped dot. */
TablePattern *
ParseTablePattern(const char *option, const char *item) {
	const char *dot = item;
	while (*dot != '\0' && *dot != '.')
		dot += (*dot == '\\' && dot[1] != '\0') ? 2 : 1;
	if (*dot != '.' || dot == item || dot[1] == '\0')
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("table pattern \"%s\" of option \"%s\" is not schema-qualified", item, option),
						errhint("Write schema.table; * matches any characters, as in public.* or *.orders.")));
	/* escapes stay: GlobMatches reads "\*" as a literal star */
	TablePattern *pattern = static_cast<TablePattern *>(palloc(sizeof(TablePattern)));
	pattern->schema = pnstrdup(item, dot - item);
	pattern->table = pstrdup(dot + 1);
	return pattern;
}

/* ParseInt reads an integer option within its bounds. */
int
ParseInt(const OptionSpec &spec, const char *value) {
	char *end;
	errno = 0;
	long number = value ? strtol(value, &end, 10) : 0;
	/* strtol skips leading blanks and takes a sign: only digits are a value here */
	if (value == nullptr || !isdigit(static_cast<unsigned char>(*value)) || *end != '\0' || errno != 0 ||
		number < spec.min || number > spec.max)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("could not parse value \"%s\" for parameter \"%s\"", value ? value : "", spec.name),
						errhint("Use an integer from %d to %d.", spec.min, spec.max)));
	return static_cast<int>(number);
}

/* SetOption parses value into the field spec describes. */
void
SetOption(PluginOptions *options, const OptionSpec &spec, const char *value) {
	char *field = reinterpret_cast<char *>(options) + spec.offset;
	switch (spec.kind) {
	case OptionKind::Bool:
		/* a bare option (pg_recvlogical -o include-xids) means true */
		if (value != nullptr && !parse_bool(value, reinterpret_cast<bool *>(field)))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("could not parse value \"%s\" for parameter \"%s\"", value, spec.name),
							errhint("Use true or false.")));
		if (value == nullptr)
			*reinterpret_cast<bool *>(field) = true;
		break;
	case OptionKind::Int:
		*reinterpret_cast<int *>(field) = ParseInt(spec, value);
		break;
	case OptionKind::StringList: {
		List *items = NIL;
		ListCell *cell;
		foreach (cell, SplitList(spec.name, value ? value : ""))
			items =
				lappend(items, Unescape(static_cast<char *>(lfirst(cell)), strlen(static_cast<char *>(lfirst(cell)))));
		*reinterpret_cast<List **>(field) = items;
		break;
	}
	case OptionKind::TableList: {
		List *patterns = NIL;
		ListCell *cell;
		foreach (cell, SplitList(spec.name, value ? value : ""))
			patterns = lappend(patterns, ParseTablePattern(spec.name, static_cast<char *>(lfirst(cell))));
		*reinterpret_cast<List **>(field) = patterns;
		break;
	}
	}
}

/*
 * GlobMatches tells whether text matches pattern, where '*' matches any run
 * of characters and a backslash makes the next character literal.
 */
bool
GlobMatches(const char *pattern, const char *text) {
	const char *star = nullptr;
	const char *resume = nullptr;
	while (*text != '\0') {
		bool escaped = pattern[0] == '\\' && pattern[1] != '\0';
		if (!escaped && *pattern == '*') {
			star = pattern++;
			resume = text;
		} else if (pattern[escaped ? 1 : 0] == *text) {
			pattern += escaped ? 2 : 1;
			text++;
		} else if (star != nullptr) {
			pattern = star + 1;
			text = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/* AnyPatternMatches tells whether one of patterns matches schema.table. */
bool
AnyPatternMatches(List *patterns, const char *schema, const char *table) {
	ListCell *cell;
	foreach (cell, patterns) {
		const TablePattern *pattern = static_cast<TablePattern *>(lfirst(cell));
		if (GlobMatches(pattern->schema, schema) && GlobMatches(pattern->table, table))
			return true;
	}
	return false;
}

} // namespace

void
ParsePluginOptions(List *definitions, PluginOptions *options) {
	bool seen[kOptionCount] = {};
	*options = PluginOptions{};
	options->format_version = 1;
	options->include_messages = true;

	ListCell *cell;
	foreach (cell, definitions) {
		DefElem *definition = lfirst_node(DefElem, cell);
		const char *value = definition->arg != nullptr ? strVal(definition->arg) : nullptr;
		int index = 0;
		while (index < kOptionCount && strcmp(kOptions[index].name, definition->defname) != 0)
			index++;
		if (index == kOptionCount)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("option \"%s\" = \"%s\" is unknown", definition->defname, value ? value : "(null)"),
							errhint("Valid options of the mostajs plugin are: %s.", OptionNames())));
		if (seen[index])
			ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("conflicting or redundant options"),
							errdetail("Option \"%s\" is given more than once.", definition->defname)));
		seen[index] = true;
		SetOption(options, kOptions[index], value);
	}
}

bool
TableIsIncluded(const PluginOptions *options, const char *schema, const char *table) {
	/* the extension's own catalog (status the sidecar writes, the change log) is never part of the stream */
	if (strcmp(schema, "mosta") == 0)
		return false;
	if (options->include_tables != NIL && !AnyPatternMatches(options->include_tables, schema, table))
		return false;
	return !AnyPatternMatches(options->exclude_tables, schema, table);
}

bool
MessageIsIncluded(const PluginOptions *options, const char *prefix) {
	if (!options->include_messages)
		return false;
	if (options->message_prefixes == NIL)
		return true;
	ListCell *cell;
	foreach (cell, options->message_prefixes) {
		if (strcmp(static_cast<char *>(lfirst(cell)), prefix) == 0)
			return true;
	}
	return false;
}

} // namespace mostajs
