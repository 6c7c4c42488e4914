/*
 * verify_differences.cpp
 *     FindDifferences (verify_checks.hpp): the second pass of verify, over the ranges of keys whose checksums
 *     differ only. The MongoDB side keeps the transformed rows of those ranges (the differing rows and their
 *     neighbours in the range: about kResyncRowsPerBucket per differing range), PostgreSQL sends its rows of the same
 *     ranges with their canonical texts, and the two are compared key by key.
 */
#include "verify_checks.hpp"

#include "verify_scan.hpp"

namespace mosta::migrate {

namespace {

using Values = std::vector<std::optional<std::string>>;

std::string
BucketArray(const std::set<int> &buckets) {
	std::string text = "{";
	for (int bucket : buckets)
		text += (text.size() > 1 ? "," : "") + std::to_string(bucket);
	return text + "}";
}

std::map<std::string, Values>
ReadTargetRows(sidecar::PgSession &session, const TableCheck &table) {
	std::string buckets = BucketArray(table.differing);
	sidecar::PgResultHandle result =
		session.Query(table.table.RowsSql(table.table.BucketsWhere(table.buckets)), {buckets.c_str()},
					  "reading the differing rows of " + table.table.Quoted());
	std::map<std::string, Values> rows;
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		Values values;
		for (std::size_t c = 0; c < table.table.Names().size(); ++c) {
			int field = static_cast<int>(c + 2);
			values.push_back(PQgetisnull(result.get(), r, field)
								 ? std::nullopt
								 : std::optional<std::string>(PQgetvalue(result.get(), r, field)));
		}
		rows[PQgetvalue(result.get(), r, 0)] = std::move(values);
	}
	return rows;
}

// Compare records the differences of one table's differing ranges.
void
Compare(TableCheck &table, const std::map<std::string, Values> &mongo, const std::map<std::string, Values> &pg,
		int show) {
	auto keep = [&](RowDifference difference) {
		if (static_cast<int>(table.shown.size()) < show)
			table.shown.push_back(std::move(difference));
	};
	auto m = mongo.begin();
	auto p = pg.begin();
	while (m != mongo.end() || p != pg.end()) {
		if (p == pg.end() || (m != mongo.end() && m->first < p->first)) {
			++table.rows_missing;
			keep({m->first, m->second, std::nullopt});
			++m;
		} else if (m == mongo.end() || p->first < m->first) {
			++table.rows_extra;
			keep({p->first, std::nullopt, p->second});
			++p;
		} else {
			if (m->second != p->second) {
				++table.rows_different;
				keep({m->first, m->second, p->second});
			}
			++m;
			++p;
		}
	}
}

} // namespace

void
FindDifferences(MongoSource &source, sidecar::PgSession &session, const mapping::Mapping &mapping,
				CollectionCheck &check, int show) {
	bool any = false;
	for (const TableCheck &table : check.tables)
		any = any || !table.differing.empty();
	if (!any)
		return;
	std::vector<std::map<std::string, Values>> mongo(check.tables.size());
	ScanCollection(
		source, mapping, *check.collection,
		[&](const mapping::MappedDocument &document) {
			for (std::size_t t = 0; t < check.tables.size(); ++t) {
				TableCheck &table = check.tables[t];
				if (table.differing.empty())
					continue;
				std::span<const mapping::MappedRow> rows = RowsOf(document, table.child_of);
				for (const mapping::MappedRow &row : rows) {
					std::string key = table.table.Key(row);
					if (table.differing.count(sidecar::KeyBucket(key, table.buckets)) != 0)
						mongo[t][key] = table.table.Values(row);
				}
			}
		},
		[](const std::string &) {});
	for (std::size_t t = 0; t < check.tables.size(); ++t)
		if (!check.tables[t].differing.empty())
			Compare(check.tables[t], mongo[t], ReadTargetRows(session, check.tables[t]), show);
}

} // namespace mosta::migrate
