// transform_probe.cpp: test-only driver of the forward transform for test/integration/migrate_transform_zoo.sh.
//
//   transform_probe COPY_FILE EXPECTED_FILE PATH=COLUMN:TYPE... < documents (one extended JSON document a line)
//
// maps each document through a one-collection mapping (collection and table "zoo", the fields given) and writes
// its row, as the applier will (canonical text → PostgreSQL text by sink/pg_value_text.hpp), in COPY's text format
// to COPY_FILE (columns legacy_object_id, the fields' columns, extra), and the canonical texts it expects
// PostgreSQL to hold to EXPECTED_FILE (legacy id, column, canonical text; COPY's text format). Prints on stdout
// "ROWS CHECKSUM", the canonical checksum (docs/verification.md) of those rows over every column but id, and on
// stderr one line per problem of a rejected document ("rejected LEGACY FIELD VALUE: REASON").
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <bson/bson.h>

#include "mapping/transform.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/pg_types.hpp"
#include "sink/pg_row_text.hpp"
#include "sink/pg_value_text.hpp"

namespace {

using mosta::mapping::ColumnRole;
using mosta::mapping::MappedDocument;

int
Run(int argc, char **argv) {
	if (argc < 4) {
		std::cerr << "usage: transform_probe COPY_FILE EXPECTED_FILE PATH=COLUMN:TYPE... < documents\n";
		return 2;
	}
	mosta::mapping::Mapping mapping;
	mapping.name = "zoo";
	mosta::mapping::CollectionMap collection;
	collection.collection = "zoo";
	collection.table = "zoo";
	for (int i = 3; i < argc; ++i) {
		const std::string spec = argv[i];
		const std::size_t equals = spec.find('=');
		const std::size_t colon = spec.find(':', equals);
		if (equals == std::string::npos || colon == std::string::npos) {
			std::cerr << "transform_probe: " << spec << ": expected PATH=COLUMN:TYPE\n";
			return 2;
		}
		mosta::mapping::FieldMap field;
		field.path = spec.substr(0, equals);
		field.column = spec.substr(equals + 1, colon - equals - 1);
		field.type = spec.substr(colon + 1);
		collection.fields.push_back(field);
	}
	mapping.collections.push_back(collection);
	const mosta::mapping::CollectionMap &mapped_collection = mapping.collections[0];
	const mosta::mapping::TableLayout layout = mosta::mapping::CollectionLayout(mapping, mapped_collection);

	std::vector<mosta::sidecar::PgValuePlan> plans;
	for (const mosta::mapping::LayoutColumn &column : layout.columns) {
		const mosta::PgColumnType type = mosta::ClassifyPgType(column.type);
		plans.push_back(mosta::sidecar::PlanPgValue(type, mosta::SplitPgTypeName(column.type).base));
	}

	std::ofstream copy(argv[1], std::ios::binary);
	std::ofstream expected(argv[2], std::ios::binary);
	mosta::ChecksumState checksum;
	mosta::sidecar::PgValueScratch scratch;
	std::string line, out, pg_text;
	int rejected = 0;
	while (std::getline(std::cin, line)) {
		if (line.empty())
			continue;
		bson_error_t error;
		bson_t *doc = bson_new_from_json(reinterpret_cast<const std::uint8_t *>(line.data()),
										 static_cast<ssize_t>(line.size()), &error);
		if (!doc) {
			std::cerr << "transform_probe: " << line << ": " << error.message << "\n";
			return 2;
		}
		MappedDocument mapped = mosta::mapping::TransformDocument(mapping, mapped_collection, doc);
		bson_destroy(doc);
		if (!mapped.problems.empty()) {
			++rejected;
			for (const mosta::mapping::TransformProblem &problem : mapped.problems)
				std::cerr << "rejected " << mapped.legacy_id << " " << problem.field << " " << problem.value << ": "
						  << problem.reason << "\n";
			continue;
		}
		out.clear();
		std::vector<mosta::CanonicalColumn> canonical;
		for (std::size_t i = 0; i < layout.columns.size(); ++i) {
			if (layout.columns[i].role == ColumnRole::Id)
				continue;
			const std::optional<std::string> &value = mapped.row.values[i];
			if (!out.empty())
				out += '\t';
			if (value) {
				pg_text.clear();
				mosta::sidecar::AppendPgValue(pg_text, *value, plans[i], mosta::sidecar::PgValueForm::PgText, scratch);
				mosta::sidecar::AppendCopyEscaped(out, pg_text);
			} else {
				out += "\\N";
			}
			std::string row;
			mosta::sidecar::AppendCopyEscaped(row, mapped.legacy_id);
			row += '\t';
			row += layout.columns[i].name;
			row += '\t';
			if (value)
				mosta::sidecar::AppendCopyEscaped(row, *value);
			else
				row += "\\N";
			expected << row << "\n";
			canonical.push_back(mosta::CanonicalColumn{layout.columns[i].name, value});
		}
		copy << out << "\n";
		const std::string encoded = mosta::EncodeCanonicalRow(std::move(canonical));
		checksum.Add(mosta::CanonicalRowHash(encoded.data(), encoded.size()));
	}
	std::cout << checksum.rows << " " << checksum.Text() << "\n";
	std::cerr << "rejected documents: " << rejected << "\n";
	return 0;
}

} // namespace

int
main(int argc, char **argv) {
	try {
		return Run(argc, argv);
	} catch (const std::exception &error) {
		std::cerr << "transform_probe: " << error.what() << "\n";
		return 1;
	}
}
