/*
 * shadow_compare.cpp
 *     CompareDocument, DifferencesJson and DifferenceLine (shadow_compare.hpp).
 */
#include "shadow_compare.hpp"

#include "mosta/common/canonical_row.hpp"

namespace mosta::migrate {

namespace {

std::optional<std::size_t>
LengthOf(const std::optional<std::string> &value) {
	return value ? std::optional<std::size_t>(value->size()) : std::nullopt;
}

std::string
LengthJson(const std::optional<std::size_t> &length) {
	return length ? std::to_string(*length) : "null";
}

void
CompareTable(const ComparedTable &table, const RowsByKey &mongo, const RowsByKey &pg,
			 std::vector<ShadowDifference> &out) {
	const std::string &name = table.Layout().table;
	for (const auto &[key, values] : mongo) {
		auto other = pg.find(key);
		if (other == pg.end()) {
			out.push_back({name, key, "", std::nullopt, std::nullopt, "missing in PostgreSQL"});
			continue;
		}
		for (std::size_t c = 0; c < table.Names().size(); ++c) {
			const std::optional<std::string> none;
			const std::optional<std::string> &left = c < values.size() ? values[c] : none;
			const std::optional<std::string> &right = c < other->second.size() ? other->second[c] : none;
			if (left != right)
				out.push_back({name, key, table.Names()[c], LengthOf(left), LengthOf(right), "differs"});
		}
	}
	for (const auto &[key, values] : pg)
		if (mongo.count(key) == 0)
			out.push_back({name, key, "", std::nullopt, std::nullopt, "missing in MongoDB"});
}

} // namespace

std::vector<ShadowDifference>
CompareDocument(const std::vector<ComparedTable> &tables, const DocumentSide &mongo, const DocumentSide &pg) {
	std::vector<ShadowDifference> differences;
	static const RowsByKey kNone;
	for (std::size_t t = 0; t < tables.size(); ++t)
		CompareTable(tables[t], t < mongo.tables.size() ? mongo.tables[t] : kNone,
					 t < pg.tables.size() ? pg.tables[t] : kNone, differences);
	return differences;
}

ShadowOutcome
RecheckedOutcome(const std::vector<ComparedTable> &tables,
				 const std::function<std::pair<DocumentSide, DocumentSide>()> &read, const std::function<void()> &wait,
				 bool recheck, std::vector<ShadowDifference> &differences) {
	for (int attempt = 0;; ++attempt) {
		auto [mongo, pg] = read();
		if (!mongo.present && !pg.present)
			return ShadowOutcome::Gone;
		differences = CompareDocument(tables, mongo, pg);
		if (differences.empty())
			return ShadowOutcome::Clean;
		if (attempt == 1 || !recheck)
			return ShadowOutcome::Mismatch;
		wait();
	}
}

std::string
DifferencesJson(const std::string &mapping, const std::string &collection, const std::string &legacy_id,
				const std::vector<ShadowDifference> &differences) {
	std::string json = "{\"mapping\": " + JsonQuote(mapping) + ", \"collection\": " + JsonQuote(collection) +
					   ", \"legacy_id\": " + JsonQuote(legacy_id) + ", \"differences\": [";
	for (std::size_t i = 0; i < differences.size(); ++i) {
		const ShadowDifference &d = differences[i];
		json += (i == 0 ? "" : ", ");
		json += "{\"table\": " + JsonQuote(d.table) + ", \"key\": " + JsonQuote(d.key) +
				", \"column\": " + (d.column.empty() ? std::string("null") : JsonQuote(d.column)) +
				", \"what\": " + JsonQuote(d.what) + ", \"mongodb_length\": " + LengthJson(d.mongo) +
				", \"postgresql_length\": " + LengthJson(d.pg) + "}";
	}
	return json + "]}";
}

std::string
DifferenceLine(const ShadowDifference &d) {
	if (d.column.empty())
		return d.table + " row " + d.key + ": " + d.what;
	auto length = [](const std::optional<std::size_t> &n) {
		return n ? std::to_string(*n) + " bytes" : std::string("NULL");
	};
	return d.table + "." + d.column + " under key " + d.key + " differs (mongodb " + length(d.mongo) + ", postgresql " +
		   length(d.pg) + ")";
}

} // namespace mosta::migrate
