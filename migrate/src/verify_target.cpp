/*
 * verify_target.cpp
 *     The PostgreSQL side of verify (verify_checks.hpp): counts, relationship counts, range checksums and sums of a
 *     collection's tables, read in the caller's snapshot; the rows themselves never leave the server here.
 */
#include "verify_checks.hpp"

#include <algorithm>
#include <cstdlib>

#include "mosta/common/identifiers.hpp"

namespace mosta::migrate {

namespace {

long long
Number(const PGresult *result, int row, int field) {
	return std::atoll(PQgetvalue(result, row, field));
}

void
ReadProblems(sidecar::PgSession &session, const mapping::Mapping &mapping, CollectionCheck &check) {
	sidecar::PgResultHandle exists =
		session.Query("SELECT to_regclass('mosta_migration.problems') IS NOT NULL", {}, "looking for the problems");
	if (std::string(PQgetvalue(exists.get(), 0, 0)) != "t")
		return;
	sidecar::PgResultHandle count = session.Query(
		"SELECT count(DISTINCT legacy_id) FROM mosta_migration.problems WHERE mapping = $1 AND collection = $2",
		{mapping.name.c_str(), check.collection->collection.c_str()}, "counting the recorded problems");
	check.problems = Number(count.get(), 0, 0);
}

// ReadCounts reads the table's row count and its relationship counts in one scan.
void
ReadCounts(sidecar::PgSession &session, TableCheck &table) {
	std::string sql = "SELECT count(*)";
	for (const RelationCount &relation : table.relations) {
		if (RelationCountsEveryRow(relation)) {
			sql += ", count(*)";
			continue;
		}
		std::string column = "t." + QuoteIdentifier(table.table.Names()[relation.column]);
		sql += relation.kind.empty() ? ", count(" + column + ")"
									 : ", count(*) FILTER (WHERE " + column + " = " + QuoteLiteral(relation.kind) + ")";
	}
	sidecar::PgResultHandle result =
		session.Query(sql + " FROM " + table.table.Quoted() + " t", {}, "counting the rows of " + table.table.Quoted());
	table.pg_rows = Number(result.get(), 0, 0);
	for (std::size_t i = 0; i < table.relations.size(); ++i)
		table.relations[i].pg = Number(result.get(), 0, static_cast<int>(i + 1));
}

void
ReadBuckets(sidecar::PgSession &session, TableCheck &table) {
	sidecar::PgResultHandle result = session.Query(table.table.BucketChecksumsSql(table.buckets), {},
												   "computing the checksums of " + table.table.Quoted());
	for (int r = 0; r < PQntuples(result.get()); ++r)
		table.pg_buckets[std::atoi(PQgetvalue(result.get(), r, 0))] = {Number(result.get(), r, 1),
																	   PQgetvalue(result.get(), r, 2)};
}

void
ReadSum(sidecar::PgSession &session, const ComparedTable &table, SumCheck &sum) {
	std::string groups;
	std::string columns;
	for (const std::string &column : sum.sum->group_by) {
		groups += (groups.empty() ? "" : ", ") + QuoteLiteral(column);
		columns += ", group_key ->> " + QuoteLiteral(column);
	}
	sidecar::PgResultHandle result =
		session.Query("SELECT row_count, total::text" + columns + " FROM mosta_sum_by(" + QuoteLiteral(table.Quoted()) +
						  "::regclass, " + QuoteLiteral(sum.sum->column) + ", ARRAY[" + groups + "]::text[])",
					  {}, "summing " + table.Quoted() + "." + sum.sum->column);
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		std::vector<std::optional<std::string>> values;
		for (std::size_t g = 0; g < sum.group.size(); ++g) {
			int field = static_cast<int>(g + 2);
			values.push_back(PQgetisnull(result.get(), r, field)
								 ? std::nullopt
								 : std::optional<std::string>(PQgetvalue(result.get(), r, field)));
		}
		SumGroup &entry = sum.groups[CanonicalKeyText(values)];
		entry.values = values;
		entry.pg_rows = Number(result.get(), r, 0);
		entry.pg_total = PQgetvalue(result.get(), r, 1);
	}
}

} // namespace

void
ReadTargetSide(sidecar::PgSession &session, const mapping::Mapping &mapping, CollectionCheck &check) {
	ReadProblems(session, mapping, check);
	for (TableCheck &table : check.tables) {
		ReadCounts(session, table);
		table.buckets = sidecar::ResyncBucketCount(std::max(table.pg_rows, check.mongo_documents));
		ReadBuckets(session, table);
	}
	check.pg_rows = check.tables.front().pg_rows;
	for (SumCheck &sum : check.sums)
		ReadSum(session, check.tables.front().table, sum);
}

} // namespace mosta::migrate
