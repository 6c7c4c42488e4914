/*
 * apply_sql.cpp
 *     The Applier's statements (apply_sql.hpp).
 */
#include "apply_sql.hpp"

#include <cstdint>
#include <cstdio>

#include "mosta/common/identifiers.hpp"

namespace mosta::migrate {

namespace {

using mapping::ColumnRole;
using mapping::LayoutColumn;
using mapping::TableLayout;

// kStageTableBytes keeps the staging table's name within PostgreSQL's 63 bytes (prefix, table, '_', 8 hex).
constexpr std::size_t kStageTableBytes = 40;

// Fnv1a returns the 32-bit FNV-1a hash of text (names a staging table after its table's full name and shape).
std::uint32_t
Fnv1a(const std::string &text) noexcept {
	std::uint32_t hash = 2166136261U;
	for (unsigned char c : text) {
		hash ^= c;
		hash *= 16777619U;
	}
	return hash;
}

// StageName returns the staging table's name: one per target table and layout (two Appliers of one session
// never share a staging table of another shape).
std::string
StageName(const std::string &schema, const TableLayout &layout) {
	std::string shape = schema + "." + layout.table;
	for (const LayoutColumn &column : layout.columns)
		shape += "/" + column.name + ":" + column.type;
	char hash[16];
	std::snprintf(hash, sizeof hash, "_%08x", static_cast<unsigned>(Fnv1a(shape)));
	return "mosta_apply_" + layout.table.substr(0, kStageTableBytes) + hash;
}

// StageColumn returns the staging column of layout index i ("c1" for 0).
std::string
StageColumn(std::size_t i) {
	return "s.c" + std::to_string(i + 1);
}

// SelectExpression returns the value written into column i, read from the stage. A reference: the uuid the
// applier resolved itself (stage column u<i+1>), else looked up in mosta.id_map by a scalar subquery, one index
// probe per row (a join let the planner hash the parent collection's whole id_map at every batch: a backfill
// slowed down as id_map grew).
std::string
SelectExpression(const mapping::Mapping &mapping, const LayoutColumn &column, std::size_t i) {
	switch (column.role) {
	case ColumnRole::Reference:
	case ColumnRole::PolyId: {
		std::string alias = "r" + std::to_string(i + 1);
		return "coalesce(s.u" + std::to_string(i + 1) + "::uuid, (SELECT " + alias + ".new_id FROM mosta.id_map " +
			   alias + " WHERE " + alias + ".collection = " + QuoteLiteral(column.references) + " AND " + alias +
			   ".legacy_id = " + IdMapKey(mapping, column.references, StageColumn(i)) + "))";
	}
	case ColumnRole::Id:
	case ColumnRole::Parent: // the stage holds the uuid itself (mapped by the applier first)
		return StageColumn(i) + "::uuid";
	default:
		return StageColumn(i) + "::" + column.type;
	}
}

} // namespace

bool
LowercasesIds(const mapping::CollectionMap &collection) noexcept {
	return collection.id_policy == mapping::IdPolicy::ObjectId || collection.require_objectid;
}

std::string
IdMapKey(const mapping::Mapping &mapping, const std::string &collection, const std::string &expr) {
	const mapping::CollectionMap *found = mapping.Find(collection);
	return found != nullptr && LowercasesIds(*found) ? "lower(" + expr + ")" : expr;
}

TableStatements
BuildTableStatements(const mapping::Mapping &mapping, const TableLayout &layout) {
	TableStatements out;
	out.table = QuoteQualifiedName(mapping.schema, layout.table);
	out.stage = QuoteIdentifier(StageName(mapping.schema, layout));
	std::vector<std::size_t> key;
	std::string stage_columns, resolved_columns, columns, select;
	for (std::size_t i = 0; i < layout.columns.size(); ++i) {
		const LayoutColumn &column = layout.columns[i];
		stage_columns += (i == 0 ? "c" : ", c") + std::to_string(i + 1) + " text";
		if (column.role == ColumnRole::Reference || column.role == ColumnRole::PolyId) {
			resolved_columns += ", u" + std::to_string(i + 1) + " text";
			out.resolved.push_back(i);
		}
		columns += (i == 0 ? "" : ", ") + QuoteIdentifier(column.name);
		select += (i == 0 ? "" : ", ") + SelectExpression(mapping, column, i);
		bool is_key = layout.child ? column.role == ColumnRole::Parent || column.role == ColumnRole::Position
								   : column.role == ColumnRole::Id;
		if (is_key)
			key.push_back(i);
		if (column.role == (layout.child ? ColumnRole::Parent : ColumnRole::Id))
			out.key_column = i;
	}
	if (key.size() != (layout.child ? 2U : 1U))
		throw mapping::MappingError("table " + layout.table + ": its layout lacks its key column(s) (" +
									(layout.child ? "parent and position" : "id") + ")");
	std::string conflict, set, old_values, new_values;
	for (std::size_t i = 0; i < layout.columns.size(); ++i) {
		std::string name = QuoteIdentifier(layout.columns[i].name);
		bool is_key = false;
		for (std::size_t k : key)
			is_key = is_key || k == i;
		if (is_key) {
			conflict += (conflict.empty() ? "" : ", ") + name;
			continue;
		}
		set += (set.empty() ? "" : ", ") + name + " = excluded." + name;
		old_values += (old_values.empty() ? "" : ", ") + std::string("t.") + name;
		new_values += (new_values.empty() ? "" : ", ") + std::string("excluded.") + name;
	}
	std::string key_name = QuoteIdentifier(layout.columns[out.key_column].name);
	out.create_stage = "CREATE TEMP TABLE IF NOT EXISTS " + out.stage + " (" + stage_columns + resolved_columns + ")";
	out.copy = "COPY pg_temp." + out.stage + " FROM STDIN";
	std::string on_conflict = set.empty() ? " ON CONFLICT (" + conflict + ") DO NOTHING"
										  : " ON CONFLICT (" + conflict + ") DO UPDATE SET " + set + " WHERE (" +
												old_values + ") IS DISTINCT FROM (" + new_values + ")";
	out.upsert = "INSERT INTO " + out.table + " AS t (" + columns + ") SELECT " + select + " FROM pg_temp." +
				 out.stage + " s" + on_conflict + " RETURNING t." + key_name + "::text";
	if (layout.child) {
		std::string position;
		for (const LayoutColumn &column : layout.columns)
			if (column.role == ColumnRole::Position)
				position = QuoteIdentifier(column.name);
		out.trim = "DELETE FROM " + out.table + " t USING unnest($1::uuid[], $2::integer[]) AS n(parent, length)" +
				   " WHERE t." + key_name + " = n.parent AND t." + position + " >= n.length RETURNING t." + key_name +
				   "::text";
	}
	return out;
}

namespace {

// AppendArrayElement appends value quoted as an array element ("...", with " and \ escaped).
void
AppendArrayElement(std::string &out, const std::string &value) {
	out += '"';
	for (char c : value) {
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
}

} // namespace

std::string
TextArrayLiteral(const std::vector<std::optional<std::string>> &values) {
	std::string out = "{";
	for (std::size_t i = 0; i < values.size(); ++i) {
		if (i > 0)
			out += ',';
		if (values[i])
			AppendArrayElement(out, *values[i]);
		else
			out += "NULL";
	}
	return out + "}";
}

std::string
TextArrayLiteral(const std::vector<std::string> &values) {
	std::string out = "{";
	for (std::size_t i = 0; i < values.size(); ++i) {
		if (i > 0)
			out += ',';
		AppendArrayElement(out, values[i]);
	}
	return out + "}";
}

} // namespace mosta::migrate
