/*
 * cmd_verify.cpp
 *     mosta-migrate verify MAPPING --source URI --target CONNINFO [--collections A,B] [--show N]: compares MongoDB
 *     and PostgreSQL by counts, relationship counts, canonical checksums and exact sums (verify_checks.hpp) and
 *     exits 0 when everything matches, 1 on any difference: a deploy gate (docs/migration.md, "verify").
 *     PostgreSQL is read in one REPEATABLE READ snapshot; MongoDB once per collection (twice when a checksum
 *     differs, for the differing ranges only).
 */
#include <cstdio>

#include "commands.hpp"
#include "mosta/common/conninfo.hpp"
#include "verify_checks.hpp"
#include "verify_select.hpp"

namespace mosta::migrate {

namespace {

// kDefaultShown is how many differing keys are listed per table without --show.
constexpr long long kDefaultShown = 10;

} // namespace

int
RunVerify(CommandLine &line) {
	const std::string path = line.Positional(0, "MAPPING");
	const std::string source_uri = line.Required("source");
	const std::string target = line.Required("target");
	const std::optional<std::string> only = line.Option("collections");
	const int show = static_cast<int>(line.Number("show", kDefaultShown, 0, 1000000));
	line.Finish();

	const mapping::Mapping mapping = mapping::LoadMapping(path);
	const std::vector<const mapping::CollectionMap *> collections = SelectCollections(mapping, only);
	MongoSource source(source_uri, mapping.source_database);
	sidecar::PgSession session(target);
	session.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting verify's snapshot");
	std::vector<CollectionCheck> checks;
	for (const mapping::CollectionMap *collection : collections) {
		std::fprintf(stderr, "verify: %s\n", collection->collection.c_str());
		CollectionCheck check = PrepareCheck(mapping, *collection);
		CountDocuments(source, check);
		ReadTargetSide(session, mapping, check);
		ReadSourceSide(source, mapping, check);
		FindDifferences(source, session, mapping, check, show);
		checks.push_back(std::move(check));
	}
	session.Exec("COMMIT", "ending verify's snapshot");

	std::printf("verify %s: MongoDB %s (database %s) against PostgreSQL %s\n", mapping.name.c_str(),
				source.Masked().c_str(), source.Database().c_str(), MaskCredentials(target).c_str());
	int differences = Report(stdout, checks);
	if (differences == 0)
		std::printf("verify: everything matches (%zu collection(s))\n", checks.size());
	else
		std::printf("verify: %d difference(s)\n", differences);
	std::fflush(stdout);
	return differences == 0 ? 0 : 1;
}

} // namespace mosta::migrate
