/*
 * verify_read.cpp
 *     The comparison's readers (see verify_read.hpp).
 */
#include "app/verify_read.hpp"

#include <map>

#include "app/catalog.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::sidecar {

namespace {

// HexBlob returns bytes as PostgreSQL's hex bytea text.
std::string
HexBlob(const unsigned char *bytes, int size) {
	static constexpr char kDigits[] = "0123456789abcdef";
	std::string out = "\\x";
	for (int i = 0; i < size; ++i) {
		out += kDigits[bytes[i] >> 4];
		out += kDigits[bytes[i] & 0xf];
	}
	return out;
}

} // namespace

CanonicalForm
CanonicalFormOfType(const std::string &type) {
	PgColumnType column = ClassifyPgType(type);
	return column.dims > 0 ? CanonicalForm::JsonText : column.info->canonical;
}

std::optional<std::string>
TargetCanonicalText(sqlite3_stmt *stmt, int index, CanonicalForm type) {
	int storage = sqlite3_column_type(stmt, index);
	if (storage == SQLITE_NULL)
		return std::nullopt;
	if (storage == SQLITE_INTEGER) {
		long long value = sqlite3_column_int64(stmt, index);
		if (type == CanonicalForm::Boolean)
			return value != 0 ? "true" : "false";
		if (type == CanonicalForm::Float4)
			return FormatPgFloat4(static_cast<float>(value));
		if (type == CanonicalForm::Float8)
			return FormatPgFloat8(static_cast<double>(value));
		return std::to_string(value);
	}
	if (storage == SQLITE_FLOAT) {
		double value = sqlite3_column_double(stmt, index);
		return type == CanonicalForm::Float4 ? FormatPgFloat4(static_cast<float>(value)) : FormatPgFloat8(value);
	}
	const unsigned char *bytes = static_cast<const unsigned char *>(
		storage == SQLITE_BLOB ? sqlite3_column_blob(stmt, index) : sqlite3_column_text(stmt, index));
	int size = sqlite3_column_bytes(stmt, index);
	std::string text(reinterpret_cast<const char *>(bytes), static_cast<std::size_t>(size));
	if (storage == SQLITE_BLOB && type == CanonicalForm::ByteaHex)
		return HexBlob(bytes, size);
	// json and jsonb values are stored as their JSON text (format version 2 sends that text), arrays as the
	// plugin's JSON array: both are the canonical text as stored
	return text;
}

boost::asio::awaitable<std::optional<SourceTable>>
ReadSource(PgConnection &conn, const std::string &collection, bool for_mongo, bool with_checksum) {
	const std::string rel = SqlLiteral(conn, collection);
	PgResultHandle names = co_await conn.Exec(
		"resolving " + collection, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
								   "c.relnamespace WHERE c.oid = to_regclass(" +
									   rel + ")");
	if (PQntuples(names.get()) == 0)
		co_return std::nullopt;
	SourceTable source{PQgetvalue(names.get(), 0, 0), PQgetvalue(names.get(), 0, 1), {}, {}, 0, {}, {}, {}, {}};
	PgResultHandle columns = co_await conn.Exec(
		"reading the columns of " + collection,
		"SELECT a.attname, format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL),"
		"       a.attgenerated <> ''"
		"  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
		" WHERE a.attrelid = " +
			rel + "::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
	std::string kept;
	for (int row = 0; row < PQntuples(columns.get()); ++row) {
		std::string name = PQgetvalue(columns.get(), row, 0), type = PQgetvalue(columns.get(), row, 1);
		// a generated column is computed on the source and never sent (protocol section 7): no target has it
		if (PQgetvalue(columns.get(), row, 2)[0] == 't') {
			source.generated.push_back(name);
			continue;
		}
		if (for_mongo && MongoVerifyExcluded(type)) {
			source.excluded.push_back(name);
			continue;
		}
		kept += (kept.empty() ? "" : ", ") + SqlLiteral(conn, name);
		source.columns.push_back({name, CanonicalFormOfType(type), type});
	}
	if (!source.excluded.empty() || !source.generated.empty())
		source.cols_sql = ", ARRAY[" + kept + "]::text[]";
	PgResultHandle key = co_await conn.Exec(
		"reading the primary key of " + collection,
		"SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)"
		"  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
		" WHERE i.indrelid = " +
			rel + "::regclass AND i.indisprimary ORDER BY k.n");
	for (int row = 0; row < PQntuples(key.get()); ++row)
		source.key.emplace_back(PQgetvalue(key.get(), row, 0));
	if (!with_checksum)
		co_return source;
	PgResultHandle sum =
		co_await conn.Exec("checksumming " + collection, "SELECT row_count, checksum FROM mosta_checksum(" + rel +
															 "::regclass" + source.cols_sql + ")");
	source.rows = std::stoll(PQgetvalue(sum.get(), 0, 0));
	source.checksum = PQgetvalue(sum.get(), 0, 1);
	co_return source;
}

TargetRowsBuilder::TargetRowsBuilder(const SourceTable &source, const std::set<std::string> &wanted,
									 VerifyTargetRows &target)
	: wanted_(wanted), target_(target), keyed_(!source.key.empty()) {
	// a key column is never left out of the compared columns
	for (const std::string &name : source.key)
		for (std::size_t i = 0; i < source.columns.size(); ++i)
			if (source.columns[i].name == name)
				key_at_.push_back(i);
	key_.resize(key_at_.size());
}

void
TargetRowsBuilder::Add(std::vector<CanonicalColumn> row) {
	for (std::size_t k = 0; k < key_at_.size(); ++k)
		key_[k] = row[key_at_[k]].value;
	std::vector<std::optional<std::string>> values;
	if (!wanted_.empty())
		for (const CanonicalColumn &column : row)
			values.push_back(column.value);
	std::string encoded = EncodeCanonicalRow(std::move(row));
	Hash128 hash = CanonicalRowHash(encoded.data(), encoded.size());
	state_.Add(hash);
	if (!keyed_)
		return;
	char hex[kHash128HexSize + 1];
	FormatHash128(hash, hex);
	std::string key_text = CanonicalKeyText(key_);
	if (wanted_.count(key_text) != 0)
		target_.values[key_text] = std::move(values);
	target_.hashes[std::move(key_text)] = hex;
}

void
TargetRowsBuilder::Finish() {
	target_.rows = static_cast<long long>(state_.rows);
	target_.checksum = state_.Text();
}

VerifyTargetRows
ReadSqliteTarget(sqlite3 *db, const SourceTable &source, const std::set<std::string> &wanted) {
	VerifyTargetRows target;
	std::optional<SqliteTable> table = LoadSqliteTable(db, SqliteTableName(source.schema, source.table));
	if (!table)
		return target;
	target.exists = true;
	// a column the target lacks reads as NULL
	std::string select;
	for (const SourceColumn &column : source.columns)
		select += (select.empty() ? "" : ", ") +
				  (table->kinds.count(column.name) ? QuoteIdentifier(column.name) : std::string("NULL"));
	SqliteStmtHandle stmt =
		PrepareSql(db, "SELECT " + (select.empty() ? std::string("1") : select) + " FROM " + table->quoted);
	TargetRowsBuilder rows(source, wanted, target);
	while (StepSql(db, stmt.get())) {
		std::vector<CanonicalColumn> row;
		row.reserve(source.columns.size());
		for (std::size_t i = 0; i < source.columns.size(); ++i)
			row.push_back(
				{source.columns[i].name, TargetCanonicalText(stmt.get(), static_cast<int>(i), source.columns[i].type)});
		rows.Add(std::move(row));
	}
	rows.Finish();
	return target;
}

std::string
SourceKeyExpression(const SourceTable &source, const std::string &alias) {
	std::string key_expr;
	for (const std::string &name : source.key)
		key_expr += std::string(key_expr.empty() ? "" : " || ',' || ") +
					"coalesce(replace(replace(mosta.canonical_text(" + alias + "." + QuoteIdentifier(name) +
					R"(), E'\\', E'\\\\'), ',', E'\\,'), E'\\N'))";
	return key_expr;
}

std::string
SourceColumnsList(const SourceTable &source, const std::string &alias) {
	std::string list;
	for (const SourceColumn &column : source.columns)
		list += (list.empty() ? "" : ", ") + alias + "." + QuoteIdentifier(column.name);
	return list;
}

std::vector<VerifyColumn>
MongoColumns(const SourceTable &source) {
	std::vector<VerifyColumn> columns;
	for (const SourceColumn &column : source.columns)
		columns.push_back({column.name, column.type_name});
	return columns;
}

} // namespace mosta::sidecar
