/*
 * verify_report.cpp
 *     Report (verify_checks.hpp): verify's four tables (counts, relationships, checksums, sums), one line per
 *     compared thing with both sides and "ok" or "DIFFERS", and under a differing table the first differing keys
 *     with each differing column's two values (app/verify_diff.hpp's ShownValue).
 */
#include "verify_checks.hpp"

#include <algorithm>
#include <cstdio>

#include "app/verify_diff.hpp"

namespace mosta::migrate {

namespace {

// TextTable prints rows of cells with columns padded to their widest cell (UTF-8 characters counted).
class TextTable {
  public:
	explicit TextTable(std::vector<std::string> header) {
		rows_.push_back(std::move(header));
	}
	void
	Add(std::vector<std::string> row, std::vector<std::string> notes = {}) {
		rows_.push_back(std::move(row));
		notes_.resize(rows_.size());
		notes_.back() = std::move(notes);
	}
	void
	Print(std::FILE *out) const {
		std::vector<std::size_t> widths;
		for (const auto &row : rows_)
			for (std::size_t c = 0; c < row.size(); ++c) {
				widths.resize(std::max(widths.size(), c + 1));
				widths[c] = std::max(widths[c], Characters(row[c]));
			}
		for (std::size_t r = 0; r < rows_.size(); ++r) {
			std::string line = " ";
			for (std::size_t c = 0; c < rows_[r].size(); ++c) {
				line += " " + rows_[r][c];
				if (c + 1 < rows_[r].size())
					line.append(widths[c] - Characters(rows_[r][c]), ' ');
			}
			std::fprintf(out, "%s\n", line.c_str());
			if (r < notes_.size())
				for (const std::string &note : notes_[r])
					std::fprintf(out, "      %s\n", note.c_str());
		}
	}

  private:
	static std::size_t
	Characters(const std::string &text) {
		return static_cast<std::size_t>(std::count_if(
			text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
	}

	std::vector<std::vector<std::string>> rows_;
	std::vector<std::vector<std::string>> notes_;
};

const char *
Verdict(bool same, int &differences) {
	differences += same ? 0 : 1;
	return same ? "ok" : "DIFFERS";
}

// DifferenceLines describes one differing row.
std::vector<std::string>
DifferenceLines(const ComparedTable &table, const RowDifference &difference) {
	const std::string key = "key " + difference.key + ": ";
	if (!difference.pg)
		return {key + "missing in PostgreSQL"};
	if (!difference.mongo)
		return {key + "in PostgreSQL only (no such document in MongoDB)"};
	std::vector<std::string> lines;
	for (std::size_t c = 0; c < table.Names().size(); ++c)
		if ((*difference.mongo)[c] != (*difference.pg)[c])
			lines.push_back(key + "column " + table.Names()[c] + ": mongodb " +
							sidecar::ShownValue((*difference.mongo)[c]) + ", postgresql " +
							sidecar::ShownValue((*difference.pg)[c]));
	return lines;
}

void
ReportCounts(std::FILE *out, const std::vector<CollectionCheck> &checks, int &differences) {
	std::fprintf(out, "counts per collection\n");
	TextTable table({"collection", "table", "mongodb", "postgresql", "problems", "result"});
	for (const CollectionCheck &check : checks) {
		std::string result = Verdict(check.mongo_documents == check.pg_rows, differences);
		if (check.mongo_documents != check.pg_rows && check.problems > 0)
			result += " (" + std::to_string(check.problems) + " recorded problem" + (check.problems == 1 ? "" : "s") +
					  ": mosta-migrate status)";
		std::vector<std::string> notes;
		if (check.untransformable > 0) {
			++differences;
			notes.push_back(std::to_string(check.untransformable) +
							" document(s) without a usable _id (not an ObjectId, string or integer): " +
							check.untransformable_ids.front() + (check.untransformable > 1 ? ", ..." : ""));
		}
		table.Add({check.collection->collection, check.collection->table, std::to_string(check.mongo_documents),
				   std::to_string(check.pg_rows), std::to_string(check.problems), result},
				  notes);
	}
	table.Print(out);
}

void
ReportRelations(std::FILE *out, const std::vector<CollectionCheck> &checks, int &differences) {
	std::fprintf(out, "counts per relationship\n");
	TextTable table({"relationship", "mongodb", "postgresql", "result"});
	bool any = false;
	for (const CollectionCheck &check : checks)
		for (const TableCheck &compared : check.tables)
			for (const RelationCount &relation : compared.relations) {
				any = true;
				table.Add({relation.label, std::to_string(relation.mongo), std::to_string(relation.pg),
						   Verdict(relation.mongo == relation.pg, differences)});
			}
	if (any)
		table.Print(out);
	else
		std::fprintf(out, "  (the mapping has no references and no child tables)\n");
}

void
ReportChecksums(std::FILE *out, const std::vector<CollectionCheck> &checks, int &differences) {
	std::fprintf(out, "checksums (legacy ids for uuids, docs/migration.md)\n");
	TextTable table({"table", "mongodb rows", "postgresql rows", "mongodb checksum", "postgresql checksum", "result"});
	for (const CollectionCheck &check : checks)
		for (const TableCheck &compared : check.tables) {
			std::string mongo = compared.mongo_total.Text();
			std::string pg = compared.PgChecksum();
			bool same = compared.differing.empty() && mongo == pg;
			std::string result = Verdict(same, differences);
			if (!same)
				result += ": " + std::to_string(compared.rows_different) + " differing, " +
						  std::to_string(compared.rows_missing) + " missing in PostgreSQL, " +
						  std::to_string(compared.rows_extra) + " in PostgreSQL only";
			std::vector<std::string> notes;
			for (const RowDifference &difference : compared.shown)
				for (std::string &line : DifferenceLines(compared.table, difference))
					notes.push_back(std::move(line));
			long long listed = static_cast<long long>(compared.shown.size());
			long long total = compared.rows_different + compared.rows_missing + compared.rows_extra;
			if (total > listed)
				notes.push_back("... and " + std::to_string(total - listed) + " more (--show N lists more)");
			table.Add({compared.table.Layout().table, std::to_string(compared.mongo_total.rows),
					   std::to_string(compared.pg_rows), mongo.substr(0, 16), pg.substr(0, 16), result},
					  notes);
		}
	table.Print(out);
}

void
ReportSums(std::FILE *out, const std::vector<CollectionCheck> &checks, int &differences) {
	std::fprintf(out, "sums\n");
	TextTable table({"sum", "group", "mongodb rows", "postgresql rows", "mongodb total", "postgresql total", "result"});
	bool any = false;
	for (const CollectionCheck &check : checks)
		for (const SumCheck &sum : check.sums) {
			std::string name = check.collection->table + "." + sum.sum->column;
			for (const auto &[key, group] : sum.groups) {
				any = true;
				std::string label;
				for (std::size_t g = 0; g < sum.sum->group_by.size(); ++g)
					label += (g == 0 ? "" : ", ") + sum.sum->group_by[g] + "=" +
							 (group.values[g] ? *group.values[g] : std::string("NULL"));
				std::string mongo = group.mongo_total.Text();
				std::string pg = group.pg_total.empty() ? "0" : group.pg_total;
				table.Add({name, label.empty() ? "(all)" : label, std::to_string(group.mongo_rows),
						   std::to_string(group.pg_rows), mongo, pg,
						   Verdict(mongo == pg && group.mongo_rows == group.pg_rows, differences)});
			}
			if (sum.not_numbers > 0) {
				++differences;
				table.Add({name, "", "", "", "", "",
						   "DIFFERS: " + std::to_string(sum.not_numbers) + " MongoDB amount(s) are not numbers"});
			}
		}
	if (any)
		table.Print(out);
	else
		std::fprintf(out, "  (the mapping has no sums)\n");
}

} // namespace

int
Report(std::FILE *out, const std::vector<CollectionCheck> &checks) {
	int differences = 0;
	ReportCounts(out, checks, differences);
	ReportRelations(out, checks, differences);
	ReportChecksums(out, checks, differences);
	ReportSums(out, checks, differences);
	return differences;
}

} // namespace mosta::migrate
