/*
 * mongo_mapped_source.cpp
 *     MappedSource (see mongo_mapped_source.hpp).
 */
#include "sink/mongo_mapped_source.hpp"

#include <charconv>
#include <cstdlib>
#include <utility>

#include "mosta/common/identifiers.hpp"
#include "mosta/common/pg_types.hpp"
#include "pg/errors.hpp"

namespace mosta::sidecar {

namespace {

// How a column is selected and its text turned back into a decoded value.
enum class ReadForm { Text, Integer, Float, Bool, Json, Array };

// FormOf returns how a column of type is read.
ReadForm
FormOf(const std::string &type) {
	PgColumnType classified = ClassifyPgType(type);
	if (classified.dims > 0)
		return ReadForm::Array;
	switch (classified.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		return ReadForm::Integer;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return ReadForm::Float;
	case PgTypeKind::Bool:
		return ReadForm::Bool;
	case PgTypeKind::Json:
	case PgTypeKind::Jsonb:
		return ReadForm::Json;
	default:
		return ReadForm::Text;
	}
}

// SelectExpression returns the expression that reads column in the form the decoder gives it: timestamps and
// dates as ISO 8601 (to_json's text, whatever the session's DateStyle), arrays as JSON, the rest as text.
std::string
SelectExpression(const MirrorColumn &column) {
	std::string name = QuoteIdentifier(column.name);
	PgColumnType classified = ClassifyPgType(column.type);
	if (classified.dims > 0)
		return "to_json(" + name + ")::text";
	PgTypeKind kind = classified.info->kind;
	if (kind == PgTypeKind::Timestamptz || kind == PgTypeKind::Timestamp || kind == PgTypeKind::Date)
		return "to_json(" + name + ") #>> '{}'";
	return name + "::text";
}

// DecodedValue turns a column's text into the value the decoder would give.
Value
DecodedValue(ReadForm form, std::string_view text) {
	switch (form) {
	case ReadForm::Integer: {
		std::int64_t integer = 0;
		auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
		if (error == std::errc() && end == text.data() + text.size())
			return integer;
		return text;
	}
	case ReadForm::Float: {
		std::string copy(text);
		char *stop = nullptr;
		double real = std::strtod(copy.c_str(), &stop);
		if (stop == copy.c_str() + copy.size() && text != "NaN" && text != "Infinity" && text != "-Infinity")
			return real;
		return text; // the decoder's form of the special values
	}
	case ReadForm::Bool:
		return text == "true" || text == "t";
	case ReadForm::Array:
		return RawJson{text};
	case ReadForm::Json:
	case ReadForm::Text:
		return text;
	}
	return text;
}

} // namespace

MappedSource::MappedSource(std::string conninfo) : connection_(std::move(conninfo)) {}

PgResultHandle
MappedSource::Query(const char *context, const std::string &sql, int count, const char *const *params) {
	return connection_.Query(context, sql, count, params);
}

std::optional<std::string>
MappedSource::LegacyId(const std::string &collection, const std::string &uuid) {
	std::string key = collection + '\0' + uuid;
	if (auto cached = cache_.find(key); cached != cache_.end())
		return cached->second;
	const char *params[] = {collection.c_str(), uuid.c_str()};
	PgResultHandle row =
		Query("looking up id_map for the mapped MongoDB mirror",
			  "SELECT legacy_id FROM mosta.id_map WHERE collection = $1 AND new_id = $2::uuid", 2, params);
	if (PQntuples(row.get()) == 0)
		return std::nullopt; // not cached: the mapping may come later (mosta_map_id after the row)
	std::string legacy = PQgetvalue(row.get(), 0, 0);
	if (cache_.size() >= kCachedIds)
		cache_.clear();
	cache_.emplace(std::move(key), legacy); // id_map never changes a mapping once made
	return legacy;
}

MirrorRows
MappedSource::ReadRows(const std::string &schema, const std::string &table, const std::vector<MirrorColumn> &columns,
					   const std::string &where_column, const std::string &value, const std::string &order_column) {
	std::string sql = "SELECT ";
	for (std::size_t i = 0; i < columns.size(); ++i)
		sql += (i == 0 ? "" : ", ") + SelectExpression(columns[i]);
	sql += " FROM " + QuoteQualifiedName(schema, table) + " WHERE " + QuoteIdentifier(where_column) + " = $1";
	if (!order_column.empty())
		sql += " ORDER BY " + QuoteIdentifier(order_column);
	const char *params[] = {value.c_str()};
	PgResultHandle result = Query("reading rows for the mapped MongoDB mirror", sql, 1, params);
	std::vector<ReadForm> forms;
	for (const MirrorColumn &column : columns)
		forms.push_back(FormOf(column.type));
	MirrorRows out;
	out.columns = columns;
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		mapping::Row row;
		for (std::size_t c = 0; c < columns.size(); ++c) {
			int field = static_cast<int>(c);
			Value decoded;
			if (!PQgetisnull(result.get(), r, field)) {
				const std::string &text = out.texts.emplace_back(
					PQgetvalue(result.get(), r, field), static_cast<std::size_t>(PQgetlength(result.get(), r, field)));
				decoded = DecodedValue(forms[c], text);
			}
			row.push_back({out.columns[c].name, decoded, out.columns[c].type});
		}
		out.rows.push_back(std::move(row));
	}
	return out;
}

std::optional<std::string>
MappedSource::ReadLegacyColumn(const std::string &schema, const std::string &table, const std::string &column,
							   const std::string &id_column, const std::string &uuid) {
	std::string sql = "SELECT " + QuoteIdentifier(column) + " FROM " + QuoteQualifiedName(schema, table) + " WHERE " +
					  QuoteIdentifier(id_column) + " = $1::uuid";
	const char *params[] = {uuid.c_str()};
	PgResultHandle result = Query("reading a legacy id for the mapped MongoDB mirror", sql, 1, params);
	if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0))
		return std::nullopt;
	return std::string(PQgetvalue(result.get(), 0, 0));
}

} // namespace mosta::sidecar
