/*
 * cmd_status.cpp
 *     mosta-migrate status MAPPING --target CONNINFO [--json] (docs/migration.md, "Status"): what
 *     mosta_migration holds for the mapping, read only: per collection its backfill checkpoint, its problems (count
 *     and first keys per kind) and its shadow-read counters with the clean window; the change stream's position,
 *     events applied and lag. --json prints one JSON document (the same facts) for scripts.
 */
#include <cstdio>

#include "apply_sql.hpp"
#include "commands.hpp"
#include "mapping/mapping.hpp"
#include "sink/pg_session.hpp"
#include "state.hpp"

namespace mosta::migrate {

namespace {

// kFirstKeys is how many keys are listed per collection and kind of problem.
constexpr const char *kFirstKeys = "5";

// kStatusJson builds the whole status as one jsonb ($1 mapping, $2 the collections in load order, $3 kFirstKeys).
constexpr const char *kStatusJson = R"sql(
WITH cols AS (SELECT c.collection, c.ord FROM unnest($2::text[]) WITH ORDINALITY AS c(collection, ord))
SELECT jsonb_pretty(jsonb_build_object(
  'mapping', $1::text,
  'collections', (SELECT coalesce(jsonb_agg(jsonb_build_object(
      'collection', c.collection,
      'checkpoint', (SELECT to_jsonb(k) - 'mapping' - 'collection' FROM mosta_migration.checkpoints k
                      WHERE k.mapping = $1 AND k.collection = c.collection),
      'problems', (SELECT coalesce(jsonb_object_agg(p.kind, jsonb_build_object('count', p.n, 'first', p.first)), '{}')
                     FROM (SELECT kind, count(*) AS n,
                                  to_jsonb((array_agg(jsonb_build_object('legacy_id', legacy_id, 'field', field,
                                      'parent_collection', parent_collection, 'parent_legacy_id', parent_legacy_id,
                                      'sqlstate', sqlstate, 'message', message, 'attempts', attempts)
                                    ORDER BY legacy_id, field))[1:$3::integer]) AS first
                             FROM mosta_migration.problems
                            WHERE mapping = $1 AND collection = c.collection GROUP BY kind) p),
      'shadow', (SELECT to_jsonb(s) - 'mapping' - 'collection'
                        || jsonb_build_object('clean_window_seconds', extract(epoch FROM now() - s.clean_since))
                   FROM mosta_migration.shadow s WHERE s.mapping = $1 AND s.collection = c.collection)
    ) ORDER BY c.ord), '[]') FROM cols c),
  'stream', (SELECT to_jsonb(t) - 'mapping'
                    || jsonb_build_object('lag_seconds', extract(epoch FROM now() - t.last_event_at))
               FROM mosta_migration.stream t WHERE t.mapping = $1)))
)sql";

// kCollectionLines returns one row per collection: the checkpoint, the shadow counters, the problem counts.
constexpr const char *kCollectionLines = R"sql(
SELECT c.collection,
       CASE WHEN k.done THEN 'done' WHEN k.collection IS NULL THEN 'not started' ELSE 'in progress' END,
       coalesce(k.documents, 0), coalesce(k.last_id, '-'), coalesce(to_char(k.updated_at, 'YYYY-MM-DD HH24:MI:SS'), '-'),
       (SELECT count(*) FROM mosta_migration.problems p
         WHERE p.mapping = $1 AND p.collection = c.collection AND p.kind = 'missing_parent'),
       (SELECT count(*) FROM mosta_migration.problems p
         WHERE p.mapping = $1 AND p.collection = c.collection AND p.kind = 'rejected'),
       s.collection IS NOT NULL, s.checked, s.mismatches, s.errors,
       coalesce(justify_interval(date_trunc('second', now() - s.clean_since))::text, 'none'),
       coalesce(s.last_mismatch_key, '-')
  FROM unnest($2::text[]) WITH ORDINALITY AS c(collection, ord)
  LEFT JOIN mosta_migration.checkpoints k ON k.mapping = $1 AND k.collection = c.collection
  LEFT JOIN mosta_migration.shadow s ON s.mapping = $1 AND s.collection = c.collection
 ORDER BY c.ord
)sql";

constexpr const char *kStreamLine = R"sql(
SELECT start_token, resume_token, applied, coalesce(last_event_at::text, '-'),
       coalesce(date_trunc('second', now() - last_event_at)::text, '-'), updated_at::text,
       coalesce(cutover_requested_at::text, '-'), coalesce(stopped_at::text, '-')
  FROM mosta_migration.stream WHERE mapping = $1
)sql";

constexpr const char *kFirstProblems = R"sql(
SELECT collection, kind, legacy_id, field,
       CASE WHEN kind = 'missing_parent' THEN 'parent ' || parent_collection || ' ' || parent_legacy_id
            ELSE coalesce(sqlstate || ' ', '') || message END, attempts
  FROM (SELECT p.*, row_number() OVER (PARTITION BY collection, kind ORDER BY legacy_id, field) AS n
          FROM mosta_migration.problems p WHERE mapping = $1) p
 WHERE n <= $2::integer ORDER BY collection, kind, legacy_id, field
)sql";

// Names returns the collections' names, in load order.
std::vector<std::string>
Names(const std::vector<const mapping::CollectionMap *> &order) {
	std::vector<std::string> names;
	for (const mapping::CollectionMap *collection : order)
		names.push_back(collection->collection);
	return names;
}

const char *
Value(const sidecar::PgResultHandle &result, int row, int column) {
	return PQgetvalue(result.get(), row, column);
}

void
PrintHuman(sidecar::PgSession &session, const mapping::Mapping &mapping, const std::string &collections) {
	const char *name = mapping.name.c_str();
	std::printf("mapping %s\n", name);
	sidecar::PgResultHandle rows =
		session.Query(kCollectionLines, {name, collections.c_str()}, "reading the checkpoints");
	for (int i = 0; i < PQntuples(rows.get()); ++i) {
		std::printf("  %s: backfill %s, %s documents, last _id %s (at %s); problems: missing_parent %s, rejected %s\n",
					Value(rows, i, 0), Value(rows, i, 1), Value(rows, i, 2), Value(rows, i, 3), Value(rows, i, 4),
					Value(rows, i, 5), Value(rows, i, 6));
		if (Value(rows, i, 7)[0] == 't')
			std::printf("    shadow: checked %s, mismatches %s, errors %s, clean window %s, last mismatch %s\n",
						Value(rows, i, 8), Value(rows, i, 9), Value(rows, i, 10), Value(rows, i, 11),
						Value(rows, i, 12));
	}
	sidecar::PgResultHandle stream = session.Query(kStreamLine, {name}, "reading the stream position");
	if (PQntuples(stream.get()) == 0)
		std::printf("  stream: no position recorded (backfill records it first)\n");
	else
		std::printf("  stream: start %s, resume %s, applied %s events, last event at %s (lag %s), updated %s, "
					"cutover requested %s, stopped %s\n",
					Value(stream, 0, 0), Value(stream, 0, 1), Value(stream, 0, 2), Value(stream, 0, 3),
					Value(stream, 0, 4), Value(stream, 0, 5), Value(stream, 0, 6), Value(stream, 0, 7));
	sidecar::PgResultHandle problems = session.Query(kFirstProblems, {name, kFirstKeys}, "reading the problems");
	if (PQntuples(problems.get()) > 0)
		std::printf("  first problems (per collection and kind; all in mosta_migration.problems):\n");
	for (int i = 0; i < PQntuples(problems.get()); ++i)
		std::printf("    %s %s %s %s: %s (attempts %s)\n", Value(problems, i, 0), Value(problems, i, 1),
					Value(problems, i, 2), Value(problems, i, 3), Value(problems, i, 4), Value(problems, i, 5));
}

} // namespace

int
RunStatus(CommandLine &line) {
	std::string file = line.Positional(0, "MAPPING");
	std::string target = line.Required("target");
	bool json = line.Flag("json");
	line.Finish();
	mapping::Mapping mapping = mapping::LoadMapping(file);
	std::string collections = TextArrayLiteral(Names(mapping::LoadOrder(mapping)));
	sidecar::PgSession session(target);
	sidecar::PgResultHandle state =
		session.Query("SELECT to_regclass('mosta_migration.checkpoints') IS NOT NULL", {}, "looking for the state");
	if (Value(state, 0, 0)[0] != 't') {
		std::fprintf(stderr,
					 "mosta-migrate status: %s holds no migration state (schema mosta_migration): run backfill first\n",
					 session.Described().c_str());
		return 1;
	}
	if (json) {
		sidecar::PgResultHandle result = session.Query(
			kStatusJson, {mapping.name.c_str(), collections.c_str(), kFirstKeys}, "reading the migration state");
		std::printf("%s\n", Value(result, 0, 0));
		return 0;
	}
	PrintHuman(session, mapping, collections);
	return 0;
}

} // namespace mosta::migrate
