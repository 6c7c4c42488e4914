/*
 * schema.cpp
 *     The schema model's JSON form (schema.hpp): written by hand with JsonQuote, read with simdjson On-Demand
 *     (util/json_text.hpp). Every field is written, so a reader of another language needs no defaults; the reader
 *     takes a missing optional field as its default and refuses a wrong type naming the field.
 */
#include "model/schema.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "mosta/common/canonical_row.hpp"
#include "util/json_text.hpp"

namespace mosta::copy {

namespace ondemand = simdjson::ondemand;
using sidecar::JsonParse;

std::string
TableDef::QualifiedName() const {
	return schema + "." + name;
}

std::vector<std::size_t>
TableDef::CopiedColumns() const {
	std::vector<std::size_t> copied;
	for (std::size_t i = 0; i < columns.size(); ++i)
		if (columns[i].generated.empty())
			copied.push_back(i);
	return copied;
}

const TableDef *
DatabaseSchema::FindTable(std::string_view schema, std::string_view name) const noexcept {
	for (const TableDef &table : tables)
		if (table.schema == schema && table.name == name)
			return &table;
	return nullptr;
}

void
SortByForeignKeys(std::vector<TableDef> &tables) {
	std::sort(tables.begin(), tables.end(), [](const TableDef &a, const TableDef &b) {
		return std::tie(a.schema, a.name) < std::tie(b.schema, b.name);
	});
	std::map<std::string, std::size_t> index;
	for (std::size_t i = 0; i < tables.size(); ++i)
		index[tables[i].QualifiedName()] = i;
	// Depth-first, references first; a table met again while on the path (a cycle) is left where it is.
	std::vector<int> state(tables.size(), 0); // 0 new, 1 on the path, 2 placed
	std::vector<std::size_t> order;
	std::function<void(std::size_t)> visit = [&](std::size_t i) {
		if (state[i] != 0)
			return;
		state[i] = 1;
		for (const std::string &reference : tables[i].references) {
			auto found = index.find(reference);
			if (found != index.end() && found->second != i)
				visit(found->second);
		}
		state[i] = 2;
		order.push_back(i);
	};
	for (std::size_t i = 0; i < tables.size(); ++i)
		visit(i);
	std::vector<TableDef> sorted;
	sorted.reserve(tables.size());
	for (std::size_t i : order)
		sorted.push_back(std::move(tables[i]));
	tables = std::move(sorted);
}

namespace {

// Writer helpers: "key":value pairs separated by commas.
class ObjectWriter {
  public:
	explicit ObjectWriter(std::string &out) : out_(out) {
		out_ += '{';
	}
	void
	Key(std::string_view key) {
		if (!first_)
			out_ += ',';
		first_ = false;
		out_ += JsonQuote(key);
		out_ += ':';
	}
	void
	String(std::string_view key, std::string_view value) {
		Key(key);
		out_ += JsonQuote(value);
	}
	void
	Bool(std::string_view key, bool value) {
		Key(key);
		out_ += value ? "true" : "false";
	}
	void
	Int(std::string_view key, std::int64_t value) {
		Key(key);
		out_ += std::to_string(value);
	}
	void
	Strings(std::string_view key, const std::vector<std::string> &values) {
		Key(key);
		out_ += '[';
		for (std::size_t i = 0; i < values.size(); ++i) {
			if (i > 0)
				out_ += ',';
			out_ += JsonQuote(values[i]);
		}
		out_ += ']';
	}
	void
	End() {
		out_ += '}';
	}

  private:
	std::string &out_;
	bool first_ = true;
};

void
WriteColumn(std::string &out, const ColumnDef &column) {
	ObjectWriter w(out);
	w.String("name", column.name);
	w.String("type", column.type);
	w.String("base_type", column.base_type.empty() ? column.type : column.base_type);
	w.Bool("not_null", column.not_null);
	w.String("default", column.default_expr);
	w.String("generated", column.generated);
	w.String("identity", column.identity == '\0' ? std::string() : std::string(1, column.identity));
	w.String("collation", column.collation);
	w.End();
}

void
WriteTable(std::string &out, const TableDef &table) {
	ObjectWriter w(out);
	w.String("schema", table.schema);
	w.String("name", table.name);
	w.Key("columns");
	out += '[';
	for (std::size_t i = 0; i < table.columns.size(); ++i) {
		if (i > 0)
			out += ',';
		WriteColumn(out, table.columns[i]);
	}
	out += ']';
	w.Strings("primary_key", table.primary_key);
	w.String("partition_key", table.partition_key);
	w.Key("partitions");
	out += '[';
	for (std::size_t i = 0; i < table.partitions.size(); ++i) {
		const PartitionDef &p = table.partitions[i];
		if (i > 0)
			out += ',';
		ObjectWriter pw(out);
		pw.String("schema", p.schema);
		pw.String("name", p.name);
		pw.String("parent_schema", p.parent_schema);
		pw.String("parent_name", p.parent_name);
		pw.String("bound", p.bound);
		pw.String("partition_key", p.partition_key);
		pw.End();
	}
	out += ']';
	w.Strings("check_constraints", table.check_constraints);
	w.Strings("post_data", table.post_data);
	w.Strings("foreign_keys", table.foreign_keys);
	w.Strings("references", table.references);
	w.Int("estimated_rows", table.estimated_rows);
	w.String("comment", table.comment);
	w.End();
}

void
WriteType(std::string &out, const TypeDef &type) {
	ObjectWriter w(out);
	w.String("schema", type.schema);
	w.String("name", type.name);
	w.String("kind", type.kind);
	w.Strings("labels", type.labels);
	w.String("base_type", type.base_type);
	w.Bool("not_null", type.not_null);
	w.String("default", type.default_expr);
	w.Strings("checks", type.checks);
	w.String("collation", type.collation);
	w.End();
}

void
WriteSequence(std::string &out, const SequenceDef &s) {
	ObjectWriter w(out);
	w.String("schema", s.schema);
	w.String("name", s.name);
	w.String("data_type", s.data_type);
	w.Int("start", s.start);
	w.Int("increment", s.increment);
	w.Int("min_value", s.min_value);
	w.Int("max_value", s.max_value);
	w.Int("cache", s.cache);
	w.Bool("cycle", s.cycle);
	w.Int("last_value", s.last_value);
	w.Bool("is_called", s.is_called);
	w.String("owned_by_table", s.owned_by_table);
	w.String("owned_by_column", s.owned_by_column);
	w.Bool("identity", s.identity);
	w.End();
}

// Reader helpers: each names the field it failed on.
[[noreturn]] void
Fail(std::string_view where, std::string_view what) {
	throw SchemaError("schema document: " + std::string(where) + ": " + std::string(what));
}

std::string
ReadString(ondemand::value value, std::string_view where) {
	std::string_view text;
	if (value.get_string().get(text) != simdjson::SUCCESS)
		Fail(where, "expected a string");
	return std::string(text);
}

bool
ReadBool(ondemand::value value, std::string_view where) {
	bool flag = false;
	if (value.get_bool().get(flag) != simdjson::SUCCESS)
		Fail(where, "expected true or false");
	return flag;
}

std::int64_t
ReadInt(ondemand::value value, std::string_view where) {
	std::int64_t number = 0;
	if (value.get_int64().get(number) != simdjson::SUCCESS)
		Fail(where, "expected an integer");
	return number;
}

std::vector<std::string>
ReadStrings(ondemand::value value, std::string_view where) {
	ondemand::array array;
	if (value.get_array().get(array) != simdjson::SUCCESS)
		Fail(where, "expected an array of strings");
	std::vector<std::string> out;
	for (auto element : array)
		out.push_back(ReadString(element.value(), where));
	return out;
}

// ForEachField calls each(key, value) for the fields of an object value.
template <typename Each>
void
ForEachField(ondemand::value value, std::string_view where, Each each) {
	ondemand::object object;
	if (value.get_object().get(object) != simdjson::SUCCESS)
		Fail(where, "expected an object");
	for (auto field : object) {
		std::string_view key = field.unescaped_key().value();
		each(std::string(key), field.value().value());
	}
}

template <typename Each>
void
ForEachObject(ondemand::value value, std::string_view where, Each each) {
	ondemand::array array;
	if (value.get_array().get(array) != simdjson::SUCCESS)
		Fail(where, "expected an array of objects");
	for (auto element : array)
		each(element.value());
}

ColumnDef
ReadColumn(ondemand::value value, const std::string &where) {
	ColumnDef c;
	ForEachField(value, where, [&](const std::string &key, ondemand::value v) {
		std::string at = where + "." + key;
		if (key == "name")
			c.name = ReadString(v, at);
		else if (key == "type")
			c.type = ReadString(v, at);
		else if (key == "base_type")
			c.base_type = ReadString(v, at);
		else if (key == "not_null")
			c.not_null = ReadBool(v, at);
		else if (key == "default")
			c.default_expr = ReadString(v, at);
		else if (key == "generated")
			c.generated = ReadString(v, at);
		else if (key == "identity") {
			std::string identity = ReadString(v, at);
			if (identity.size() > 1 || (identity.size() == 1 && identity != "a" && identity != "d"))
				Fail(at, "expected \"\", \"a\" or \"d\"");
			c.identity = identity.empty() ? '\0' : identity[0];
		} else if (key == "collation")
			c.collation = ReadString(v, at);
	});
	if (c.name.empty() || c.type.empty())
		Fail(where, "a column needs a name and a type");
	if (c.base_type.empty())
		c.base_type = c.type;
	return c;
}

TableDef
ReadTable(ondemand::value value, const std::string &where) {
	TableDef t;
	ForEachField(value, where, [&](const std::string &key, ondemand::value v) {
		std::string at = where + "." + key;
		if (key == "schema")
			t.schema = ReadString(v, at);
		else if (key == "name")
			t.name = ReadString(v, at);
		else if (key == "columns")
			ForEachObject(v, at, [&](ondemand::value c) {
				t.columns.push_back(ReadColumn(c, at + "[" + std::to_string(t.columns.size()) + "]"));
			});
		else if (key == "primary_key")
			t.primary_key = ReadStrings(v, at);
		else if (key == "partition_key")
			t.partition_key = ReadString(v, at);
		else if (key == "partitions")
			ForEachObject(v, at, [&](ondemand::value pv) {
				PartitionDef p;
				std::string pat = at + "[" + std::to_string(t.partitions.size()) + "]";
				ForEachField(pv, pat, [&](const std::string &pkey, ondemand::value f) {
					std::string fat = pat + "." + pkey;
					if (pkey == "schema")
						p.schema = ReadString(f, fat);
					else if (pkey == "name")
						p.name = ReadString(f, fat);
					else if (pkey == "parent_schema")
						p.parent_schema = ReadString(f, fat);
					else if (pkey == "parent_name")
						p.parent_name = ReadString(f, fat);
					else if (pkey == "bound")
						p.bound = ReadString(f, fat);
					else if (pkey == "partition_key")
						p.partition_key = ReadString(f, fat);
				});
				t.partitions.push_back(std::move(p));
			});
		else if (key == "check_constraints")
			t.check_constraints = ReadStrings(v, at);
		else if (key == "post_data")
			t.post_data = ReadStrings(v, at);
		else if (key == "foreign_keys")
			t.foreign_keys = ReadStrings(v, at);
		else if (key == "references")
			t.references = ReadStrings(v, at);
		else if (key == "estimated_rows")
			t.estimated_rows = ReadInt(v, at);
		else if (key == "comment")
			t.comment = ReadString(v, at);
	});
	if (t.schema.empty() || t.name.empty())
		Fail(where, "a table needs a schema and a name");
	std::set<std::string> names;
	for (const ColumnDef &c : t.columns)
		if (!names.insert(c.name).second)
			Fail(where, "column \"" + c.name + "\" appears twice");
	for (const std::string &k : t.primary_key)
		if (names.count(k) == 0)
			Fail(where + ".primary_key", "\"" + k + "\" is not a column");
	return t;
}

TypeDef
ReadType(ondemand::value value, const std::string &where) {
	TypeDef t;
	ForEachField(value, where, [&](const std::string &key, ondemand::value v) {
		std::string at = where + "." + key;
		if (key == "schema")
			t.schema = ReadString(v, at);
		else if (key == "name")
			t.name = ReadString(v, at);
		else if (key == "kind")
			t.kind = ReadString(v, at);
		else if (key == "labels")
			t.labels = ReadStrings(v, at);
		else if (key == "base_type")
			t.base_type = ReadString(v, at);
		else if (key == "not_null")
			t.not_null = ReadBool(v, at);
		else if (key == "default")
			t.default_expr = ReadString(v, at);
		else if (key == "checks")
			t.checks = ReadStrings(v, at);
		else if (key == "collation")
			t.collation = ReadString(v, at);
	});
	if (t.kind != "enum" && t.kind != "domain")
		Fail(where + ".kind", "expected \"enum\" or \"domain\"");
	if (t.kind == "domain" && t.base_type.empty())
		Fail(where + ".base_type", "a domain needs its base type");
	return t;
}

SequenceDef
ReadSequence(ondemand::value value, const std::string &where) {
	SequenceDef s;
	ForEachField(value, where, [&](const std::string &key, ondemand::value v) {
		std::string at = where + "." + key;
		if (key == "schema")
			s.schema = ReadString(v, at);
		else if (key == "name")
			s.name = ReadString(v, at);
		else if (key == "data_type")
			s.data_type = ReadString(v, at);
		else if (key == "start")
			s.start = ReadInt(v, at);
		else if (key == "increment")
			s.increment = ReadInt(v, at);
		else if (key == "min_value")
			s.min_value = ReadInt(v, at);
		else if (key == "max_value")
			s.max_value = ReadInt(v, at);
		else if (key == "cache")
			s.cache = ReadInt(v, at);
		else if (key == "cycle")
			s.cycle = ReadBool(v, at);
		else if (key == "last_value")
			s.last_value = ReadInt(v, at);
		else if (key == "is_called")
			s.is_called = ReadBool(v, at);
		else if (key == "owned_by_table")
			s.owned_by_table = ReadString(v, at);
		else if (key == "owned_by_column")
			s.owned_by_column = ReadString(v, at);
		else if (key == "identity")
			s.identity = ReadBool(v, at);
	});
	if (s.schema.empty() || s.name.empty())
		Fail(where, "a sequence needs a schema and a name");
	return s;
}

// Parse runs body over the document, turning simdjson's errors into SchemaError.
template <typename Body>
void
Parse(std::string_view json, Body body) {
	try {
		JsonParse parse(json);
		ondemand::value root = parse.Document().get_value().value();
		body(root);
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &error) {
		throw SchemaError("schema document: not valid JSON: " + sidecar::JsonErrorText(error));
	}
}

} // namespace

std::string
TableToJson(const TableDef &table) {
	std::string out;
	WriteTable(out, table);
	return out;
}

TableDef
TableFromJson(std::string_view json) {
	TableDef table;
	Parse(json, [&](ondemand::value root) { table = ReadTable(root, "table"); });
	return table;
}

std::string
SchemaToJson(const DatabaseSchema &schema, const SnapshotInfo &snapshot) {
	std::string out;
	ObjectWriter w(out);
	w.Int("version", kSchemaVersion);
	w.Key("snapshot");
	{
		ObjectWriter s(out);
		s.String("lsn", snapshot.lsn);
		s.String("time", snapshot.time);
		s.String("source", snapshot.source);
		s.String("server", snapshot.server);
		s.String("encoding", snapshot.encoding);
		s.Bool("extension", snapshot.extension);
		s.End();
	}
	w.Key("types");
	out += '[';
	for (std::size_t i = 0; i < schema.types.size(); ++i) {
		if (i > 0)
			out += ',';
		WriteType(out, schema.types[i]);
	}
	out += ']';
	w.Key("sequences");
	out += '[';
	for (std::size_t i = 0; i < schema.sequences.size(); ++i) {
		if (i > 0)
			out += ',';
		WriteSequence(out, schema.sequences[i]);
	}
	out += ']';
	w.Key("tables");
	out += '[';
	for (std::size_t i = 0; i < schema.tables.size(); ++i) {
		if (i > 0)
			out += ',';
		WriteTable(out, schema.tables[i]);
	}
	out += ']';
	w.End();
	return out;
}

DatabaseSchema
SchemaFromJson(std::string_view json, SnapshotInfo *snapshot) {
	DatabaseSchema schema;
	SnapshotInfo info;
	bool versioned = false;
	Parse(json, [&](ondemand::value root) {
		ForEachField(root, "schema", [&](const std::string &key, ondemand::value v) {
			if (key == "version") {
				std::int64_t version = ReadInt(v, "version");
				if (version < 1 || version > kSchemaVersion)
					Fail("version", "version " + std::to_string(version) + " is not one this mosta-copy reads (1 to " +
										std::to_string(kSchemaVersion) + "): use a newer mosta-copy");
				versioned = true;
			} else if (key == "snapshot")
				ForEachField(v, "snapshot", [&](const std::string &skey, ondemand::value f) {
					std::string at = "snapshot." + skey;
					if (skey == "lsn")
						info.lsn = ReadString(f, at);
					else if (skey == "time")
						info.time = ReadString(f, at);
					else if (skey == "source")
						info.source = ReadString(f, at);
					else if (skey == "server")
						info.server = ReadString(f, at);
					else if (skey == "encoding")
						info.encoding = ReadString(f, at);
					else if (skey == "extension")
						info.extension = ReadBool(f, at);
				});
			else if (key == "types")
				ForEachObject(v, "types", [&](ondemand::value t) {
					schema.types.push_back(ReadType(t, "types[" + std::to_string(schema.types.size()) + "]"));
				});
			else if (key == "sequences")
				ForEachObject(v, "sequences", [&](ondemand::value s) {
					schema.sequences.push_back(
						ReadSequence(s, "sequences[" + std::to_string(schema.sequences.size()) + "]"));
				});
			else if (key == "tables")
				ForEachObject(v, "tables", [&](ondemand::value t) {
					schema.tables.push_back(ReadTable(t, "tables[" + std::to_string(schema.tables.size()) + "]"));
				});
		});
	});
	if (!versioned)
		Fail("version", "missing: not a mosta-copy schema document");
	if (snapshot != nullptr)
		*snapshot = std::move(info);
	return schema;
}

} // namespace mosta::copy
