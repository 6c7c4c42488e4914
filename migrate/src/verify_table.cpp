/*
 * verify_table.cpp
 *     ComparedTable (verify_table.hpp): the compared columns of a table layout and the SQL that reads them back on
 *     the legacy side.
 */
#include "verify_table.hpp"

#include <stdexcept>

#include "app/resync_plan.hpp"
#include "mosta/common/identifiers.hpp"
#include "verify_canonical.hpp"

namespace mosta::migrate {

namespace {

using mapping::ColumnRole;

// EscapedKeySql escapes a key part as CanonicalKeyText does ('\' and ',' preceded by '\').
std::string
EscapedKeySql(const std::string &sql) {
	return "replace(replace(" + sql + ", '\\', '\\\\'), ',', '\\,')";
}

// ResolvesThroughIdMap tells whether a column holds a uuid the MongoDB side holds as a legacy id.
bool
ResolvesThroughIdMap(ColumnRole role) {
	return role == ColumnRole::Reference || role == ColumnRole::PolyId || role == ColumnRole::Parent;
}

} // namespace

ComparedTable::ComparedTable(const mapping::Mapping &mapping, const mapping::TableLayout &layout)
	: layout_(layout), quoted_(QuoteQualifiedName(mapping.schema, layout.table)) {
	std::string legacy_sql;
	std::string parent_sql;
	std::string position_sql;
	int joins = 0;
	for (std::size_t i = 0; i < layout_.columns.size(); ++i) {
		const mapping::LayoutColumn &column = layout_.columns[i];
		if (column.role == ColumnRole::Id)
			continue;
		std::string sql = "t." + QuoteIdentifier(column.name);
		if (ResolvesThroughIdMap(column.role)) {
			std::string alias = "m" + std::to_string(++joins);
			joins_ += " LEFT JOIN mosta.id_map " + alias + " ON " + alias + ".new_id = " + sql + " AND " + alias +
					  ".collection = " + QuoteLiteral(column.references);
			sql = "coalesce(" + alias + ".legacy_id, '(unmapped ' || " + sql + "::text || ')')";
		}
		if (column.role == ColumnRole::LegacyId)
			legacy_sql = sql;
		if (column.role == ColumnRole::Parent)
			parent_sql = sql;
		if (column.role == ColumnRole::Position)
			position_sql = sql;
		compared_.push_back(i);
		names_.push_back(column.name);
		selects_.push_back(sql + " AS " + QuoteIdentifier(column.name));
	}
	if (!layout_.child) {
		if (legacy_sql.empty())
			throw std::logic_error("table " + layout_.table + " has no legacy id column");
		key_sql_ = EscapedKeySql(legacy_sql);
		const mapping::LayoutColumn *legacy = nullptr;
		for (const mapping::LayoutColumn &column : layout_.columns)
			if (column.role == ColumnRole::LegacyId)
				legacy = &column;
		document_where_ = "t." + QuoteIdentifier(legacy->name) + " = $1";
		return;
	}
	if (parent_sql.empty() || position_sql.empty())
		throw std::logic_error("child table " + layout_.table + " has no parent or position column");
	key_sql_ = EscapedKeySql(parent_sql) + " || ',' || " + position_sql + "::text";
	const mapping::CollectionMap *parent = mapping.Find(layout_.collection);
	if (parent == nullptr)
		throw std::logic_error("child table " + layout_.table + " of an unknown collection");
	std::string parent_column;
	for (const mapping::LayoutColumn &column : layout_.columns)
		if (column.role == ColumnRole::Parent)
			parent_column = column.name;
	document_where_ = "t." + QuoteIdentifier(parent_column) + " = (SELECT p." + QuoteIdentifier(parent->id_column) +
					  " FROM " + QuoteQualifiedName(mapping.schema, parent->table) + " p WHERE p." +
					  QuoteIdentifier(parent->legacy_id_column) + " = $1)";
}

std::vector<std::optional<std::string>>
ComparedTable::Values(const mapping::MappedRow &row) const {
	std::vector<std::optional<std::string>> values;
	values.reserve(compared_.size());
	for (std::size_t i : compared_) {
		const mapping::LayoutColumn &column = layout_.columns[i];
		std::optional<std::string> value = i < row.values.size() ? row.values[i] : std::nullopt;
		if (column.role == ColumnRole::Value || column.role == ColumnRole::Extra)
			value = StoredCanonicalText(column.type, value);
		values.push_back(std::move(value));
	}
	return values;
}

std::string
ComparedTable::Key(const mapping::MappedRow &row) const {
	std::vector<std::optional<std::string>> key(layout_.child ? 2 : 1);
	for (std::size_t i = 0; i < layout_.columns.size() && i < row.values.size(); ++i) {
		ColumnRole role = layout_.columns[i].role;
		if (role == ColumnRole::LegacyId || role == ColumnRole::Parent)
			key[0] = row.values[i];
		else if (role == ColumnRole::Position && layout_.child)
			key[1] = row.values[i];
	}
	return CanonicalKeyText(key);
}

Hash128
ComparedTable::RowHash(const std::vector<std::optional<std::string>> &values) const {
	std::vector<CanonicalColumn> columns;
	columns.reserve(values.size());
	for (std::size_t i = 0; i < values.size(); ++i)
		columns.push_back({names_[i], values[i]});
	std::string encoded = EncodeCanonicalRow(std::move(columns));
	return CanonicalRowHash(encoded.data(), encoded.size());
}

std::string
ComparedTable::FromSql() const {
	std::string list;
	for (const std::string &select : selects_)
		list += (list.empty() ? "" : ", ") + select;
	return " FROM " + quoted_ + " t" + joins_ + " CROSS JOIN LATERAL (SELECT " + list +
		   ") r CROSS JOIN LATERAL (SELECT " + key_sql_ + " AS k) key_row";
}

std::string
ComparedTable::BucketChecksumsSql(int buckets) const {
	return "SELECT " + sidecar::KeyBucketSql("key_row", buckets) +
		   " AS bucket, count(*), mosta.canonical_checksum(r.*)" + FromSql() + " GROUP BY 1";
}

std::string
ComparedTable::RowsSql(const std::string &where) const {
	std::string texts;
	for (const std::string &name : names_)
		texts += ", mosta.canonical_text(r." + QuoteIdentifier(name) + ")";
	return "SELECT key_row.k, mosta.canonical_row_hash(r.*)" + texts + FromSql() + " WHERE " + where +
		   " ORDER BY key_row.k COLLATE \"C\"";
}

std::string
ComparedTable::BucketsWhere(int buckets) const {
	return sidecar::KeyBucketSql("key_row", buckets) + " = ANY($1::int[])";
}

std::string
ComparedTable::DocumentWhere() const {
	return document_where_;
}

} // namespace mosta::migrate
