/*
 * open.cpp
 *     OpenSource and OpenDestination: a switch over the endpoint's kind.
 */
#include "io/open.hpp"

namespace mosta::copy {

const char *
EndpointKindName(EndpointKind kind) noexcept {
	switch (kind) {
	case EndpointKind::Postgres:
		return "postgres";
	case EndpointKind::Sqlite:
		return "sqlite";
	case EndpointKind::SqlDump:
		return "sql-dump";
	case EndpointKind::Json:
		return "json";
	case EndpointKind::Mongodb:
		return "mongodb";
	}
	return "?";
}

std::unique_ptr<Source>
OpenSource(const Endpoint &endpoint, int jobs, const DatabaseSchema *schema) {
	switch (endpoint.kind) {
	case EndpointKind::Postgres:
		return MakePgSource(endpoint.target, jobs);
	case EndpointKind::Sqlite:
		return MakeSqliteSource(endpoint.target);
	case EndpointKind::Json:
		return MakeJsonSource(endpoint.target);
	case EndpointKind::SqlDump:
		return MakeSqlDumpSource(endpoint.target);
	case EndpointKind::Mongodb:
		if (schema == nullptr)
			throw CopyError("a MongoDB source is read with a manifest's schema: mosta-copy verify MANIFEST");
		return MakeMongoSource(endpoint.target, *schema);
	}
	throw CopyError("unknown source kind");
}

std::unique_ptr<Destination>
OpenDestination(const Endpoint &endpoint, const DestinationOptions &options) {
	switch (endpoint.kind) {
	case EndpointKind::Postgres:
		return MakePgDestination(endpoint.target, options);
	case EndpointKind::Sqlite:
		return MakeSqliteDestination(endpoint.target, options);
	case EndpointKind::Json:
		return MakeJsonDestination(endpoint.target, options);
	case EndpointKind::SqlDump:
		return MakeSqlDumpDestination(endpoint.target, options);
	case EndpointKind::Mongodb:
		return MakeMongoDestination(endpoint.target, options);
	}
	throw CopyError("unknown destination kind");
}

} // namespace mosta::copy
