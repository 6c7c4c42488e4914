/*
 * verify_checks.cpp
 *     PrepareCheck and TableCheck::PgChecksum (verify_checks.hpp).
 */
#include "verify_checks.hpp"

#include <algorithm>

namespace mosta::migrate {

namespace {

using mapping::ColumnRole;

// kEveryRow as a RelationCount's column counts every row of the table (a child table's elements).
constexpr std::size_t kEveryRow = static_cast<std::size_t>(-1);

std::uint64_t
HexHalf(const std::string &text, std::size_t at) {
	return std::stoull(text.substr(at, 16), nullptr, 16);
}

// ParseChecksum reads a checksum text (sum then xor, 64 hex digits) back into its state.
ChecksumState
ParseChecksum(long long rows, const std::string &text) {
	ChecksumState state;
	state.rows = static_cast<std::uint64_t>(rows);
	if (text.size() != kChecksumHexSize)
		return state;
	state.sum = {HexHalf(text, 0), HexHalf(text, 16)};
	state.xored = {HexHalf(text, 32), HexHalf(text, 48)};
	return state;
}

std::size_t
IndexOf(const ComparedTable &table, const std::string &name) {
	const std::vector<std::string> &names = table.Names();
	auto found = std::find(names.begin(), names.end(), name);
	return found == names.end() ? kEveryRow : static_cast<std::size_t>(found - names.begin());
}

// AddRelations lists the relationships of table: its reference columns and polymorphic kinds.
void
AddRelations(TableCheck &check) {
	const mapping::TableLayout &layout = check.table.Layout();
	for (const mapping::LayoutColumn &column : layout.columns) {
		std::size_t at = IndexOf(check.table, column.name);
		if (column.role == ColumnRole::Reference) {
			check.relations.push_back({layout.table + "." + column.name + " → " + column.references, at, "", 0, 0});
		} else if (column.role == ColumnRole::PolyKind && column.field != nullptr) {
			for (const char *kind : {"entity", "template"})
				check.relations.push_back(
					{layout.table + "." + column.field->column + " (" + kind + ") → " +
						 (std::string(kind) == "entity" ? column.field->references : std::string("external reference")),
					 at, kind, 0, 0});
		}
	}
}

} // namespace

std::string
TableCheck::PgChecksum() const {
	ChecksumState total;
	for (const auto &[bucket, sum] : pg_buckets)
		total.Merge(ParseChecksum(sum.rows, sum.checksum));
	return total.Text();
}

bool
RelationCountsEveryRow(const RelationCount &relation) {
	return relation.column == kEveryRow;
}

// ComparedTables is declared in verify_table.hpp (defined here: it needs the transform's layouts).
std::vector<ComparedTable>
ComparedTables(const mapping::Mapping &mapping, const mapping::CollectionMap &collection) {
	std::vector<ComparedTable> tables;
	tables.emplace_back(mapping, mapping::CollectionLayout(mapping, collection));
	for (std::size_t i = 0; i < collection.children.size(); ++i)
		tables.emplace_back(mapping, mapping::ChildLayout(mapping, collection, i));
	return tables;
}

CollectionCheck
PrepareCheck(const mapping::Mapping &mapping, const mapping::CollectionMap &collection) {
	CollectionCheck check;
	check.collection = &collection;
	std::vector<ComparedTable> tables = ComparedTables(mapping, collection);
	for (std::size_t i = 0; i < tables.size(); ++i) {
		check.tables.emplace_back(std::move(tables[i]));
		TableCheck &table = check.tables.back();
		table.child_of = i;
		if (i > 0) {
			std::string path;
			for (const mapping::FieldMap &field : collection.fields)
				if (field.kind == mapping::FieldKind::ChildTable && field.child == i - 1)
					path = field.path;
			table.relations.push_back(
				{collection.collection + "." + path + "[] → " + table.table.Layout().table, kEveryRow, "", 0, 0});
		}
		AddRelations(table);
	}
	const ComparedTable &main = check.tables.front().table;
	for (const mapping::SumCheck &sum : collection.sums) {
		SumCheck sum_check{&sum, IndexOf(main, sum.column), {}, {}, 0};
		if (sum_check.amount == kEveryRow)
			throw mapping::MappingError("sum of " + collection.collection + ": \"" + sum.column +
										"\" is no column of table " + collection.table);
		for (const std::string &column : sum.group_by) {
			sum_check.group.push_back(IndexOf(main, column));
			if (sum_check.group.back() == kEveryRow)
				throw mapping::MappingError("sum of " + collection.collection + ": group column \"" + column +
											"\" is no column of table " + collection.table);
		}
		check.sums.push_back(std::move(sum_check));
	}
	return check;
}

} // namespace mosta::migrate
