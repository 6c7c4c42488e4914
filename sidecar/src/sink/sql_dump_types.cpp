/*
 * sql_dump_types.cpp
 *     SqlDumpSink's user-defined types: the dump creates each type its tables need before the first table that
 *     uses it, and follows the changes of the types it holds (docs/sidecar.md, "SQL dump"). What the dump holds
 *     is known exactly, across reopens: every type statement is followed by a record line
 *       -- mosta-type <the definition as one line of JSON>
 *     which recovery reads back from the complete transactions (sql_dump_scan.hpp). A definition that equals the
 *     held one writes nothing, so a type is never created twice.
 *
 *       not held       enum, composite, domain, range: CREATE TYPE / CREATE DOMAIN, in a DO block that skips it
 *                      when the replay database has the type already; a domain's NOT VALID constraints and those
 *                      calling functions outside pg_catalog are left out (a comment says so). Extension members
 *                      and types the dump cannot create (base types written in C, table row types): a comment
 *                      naming what the target database needs first.
 *       held, changed  SET SCHEMA / RENAME TO; enum: RENAME VALUE (same number of labels) or ADD VALUE placed
 *                      as in the source; composite: RENAME / DROP / ADD / ALTER ATTRIBUTE (renames recognized as
 *                      ddl_message.hpp says for columns); domain: SET / DROP NOT NULL, constraints dropped and
 *                      added again by name.
 */
#include <algorithm>
#include <set>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "sink/ddl_message.hpp"
#include "sink/sql_dump_literal.hpp"
#include "sink/sql_dump_scan.hpp"
#include "sink/sql_dump_sink.hpp"

namespace mosta::sidecar {

namespace {

// Line returns text, refusing a line break (which could forge a checkpoint line).
const std::string &
Line(const std::string &text, std::string_view what) {
	if (text.find_first_of("\r\n") != std::string::npos)
		throw std::invalid_argument("SQL dump sink: " + std::string(what) + " " + QuoteLiteral(text) +
									" contains a line break, which the dump cannot hold");
	return text;
}

// Qualified returns the quoted schema.name of type.
std::string
Qualified(const TypeDefinition &type) {
	return QuoteQualifiedName(Line(type.schema, "schema name"), Line(type.name, "type name"));
}

// Keyword returns DOMAIN or TYPE, as ALTER and DROP of the type need.
std::string
Keyword(const TypeDefinition &type) {
	return type.kind == "domain" ? "DOMAIN" : "TYPE";
}

// Attribute returns "name" type [COLLATE c].
std::string
Attribute(const TypeAttribute &attribute) {
	return QuoteIdentifier(Line(attribute.name, "attribute name")) + " " + Line(attribute.type, "type name") +
		   (attribute.collation ? " COLLATE " + Line(*attribute.collation, "collation name") : "");
}

// Skipped returns why a domain constraint is left out of the dump, or "" when it is written.
std::string
Skipped(const TypeConstraint &constraint, bool creating) {
	if (!constraint.portable)
		return "it calls a function or operator outside pg_catalog, which an empty database does not have";
	if (constraint.definition.find_first_of("\r\n") != std::string::npos)
		return "its text has a line break, which the dump cannot hold";
	if (creating && !constraint.validated)
		return "it is NOT VALID in the source, so the rows the dump inserts may not pass it";
	return "";
}

// Comment returns a comment line about a domain constraint the dump leaves out.
std::string
LeftOut(const TypeDefinition &type, const TypeConstraint &constraint, const std::string &why) {
	return "-- mosta: constraint " + QuoteIdentifier(Line(constraint.name, "constraint name")) + " of domain " +
		   Qualified(type) + " is left out: " + why + "\n";
}

// CreateStatement returns the CREATE TYPE / CREATE DOMAIN of type (enum, composite, domain, range).
std::string
CreateStatement(const TypeDefinition &type, std::string &comments) {
	std::string q = Qualified(type);
	std::string list;
	auto add = [&](const std::string &item) { list += (list.empty() ? "" : ", ") + item; };
	if (type.kind == "enum") {
		for (const std::string &label : type.labels)
			add(QuoteDumpLiteral(label));
		return "CREATE TYPE " + q + " AS ENUM (" + list + ")";
	}
	if (type.kind == "composite") {
		for (const TypeAttribute &attribute : type.attributes)
			add(Attribute(attribute));
		return "CREATE TYPE " + q + " AS (" + list + ")";
	}
	if (type.kind == "domain") {
		std::string sql = "CREATE DOMAIN " + q + " AS " + Line(type.base, "type name") +
						  (type.collation ? " COLLATE " + Line(*type.collation, "collation name") : "") +
						  (type.not_null ? " NOT NULL" : "");
		for (const TypeConstraint &constraint : type.constraints) {
			std::string why = Skipped(constraint, true);
			if (why.empty())
				sql += " CONSTRAINT " + QuoteIdentifier(Line(constraint.name, "constraint name")) + " " +
					   constraint.definition;
			else
				comments += LeftOut(type, constraint, why);
		}
		return sql;
	}
	add("SUBTYPE = " + Line(type.subtype, "type name"));
	if (type.opclass)
		add("SUBTYPE_OPCLASS = " + Line(*type.opclass, "operator class name"));
	if (type.collation)
		add("COLLATION = " + Line(*type.collation, "collation name"));
	if (type.canonical)
		add("CANONICAL = " + Line(*type.canonical, "function name"));
	if (type.subtype_diff)
		add("SUBTYPE_DIFF = " + Line(*type.subtype_diff, "function name"));
	if (!type.multirange.empty())
		add("MULTIRANGE_TYPE_NAME = " + Line(type.multirange, "type name"));
	return "CREATE TYPE " + q + " AS RANGE (" + list + ")";
}

// Create returns the statements that give the replay database type.
std::string
Create(const TypeDefinition &type) {
	std::string q = Qualified(type);
	if (type.kind == "extension")
		return "-- mosta: type " + Line(type.type, "type name") + " belongs to extension " +
			   Line(type.extension, "extension name") + ": run CREATE EXTENSION " + QuoteIdentifier(type.extension) +
			   " in the target database before replaying this dump\n";
	if (type.kind != "enum" && type.kind != "composite" && type.kind != "domain" && type.kind != "range")
		return "-- mosta: type " + Line(type.type, "type name") + " cannot be created by this dump (" +
			   Line(type.reason, "reason") + "): create it in the target database before replaying this dump\n";
	std::string comments;
	std::string create = CreateStatement(type, comments);
	return "DO " +
		   DollarQuote("BEGIN IF to_regtype(" + QuoteLiteral(q) + ") IS NULL THEN " + create + "; END IF; END") +
		   ";\n" + comments;
}

// AlterEnum returns the statements that turn the labels held into those of type.
std::string
AlterEnum(const std::string &q, const std::vector<std::string> &held, const TypeDefinition &type) {
	std::string sql;
	const std::vector<std::string> &labels = type.labels;
	if (held.size() == labels.size()) { // labels are never removed: same count, renamed in place
		for (std::size_t i = 0; i < labels.size(); ++i)
			if (held[i] != labels[i])
				sql += "ALTER TYPE " + q + " RENAME VALUE " + QuoteDumpLiteral(held[i]) + " TO " +
					   QuoteDumpLiteral(labels[i]) + ";\n";
		return sql;
	}
	std::set<std::string> present(held.begin(), held.end());
	for (std::size_t i = 0; i < labels.size(); ++i) {
		if (present.count(labels[i]) != 0)
			continue;
		std::string place;
		if (i > 0) {
			place = " AFTER " + QuoteDumpLiteral(labels[i - 1]);
		} else {
			auto next = std::find_if(labels.begin() + 1, labels.end(),
									 [&](const std::string &label) { return present.count(label) != 0; });
			if (next != labels.end())
				place = " BEFORE " + QuoteDumpLiteral(*next);
		}
		sql += "ALTER TYPE " + q + " ADD VALUE IF NOT EXISTS " + QuoteDumpLiteral(labels[i]) + place + ";\n";
		present.insert(labels[i]);
	}
	return sql;
}

// AlterComposite returns the statements that turn the attributes held into those of type.
std::string
AlterComposite(const std::string &q, const TypeDefinition &held, const TypeDefinition &type) {
	std::vector<std::string> names;
	for (const TypeAttribute &attribute : held.attributes)
		names.push_back(attribute.name);
	std::vector<DdlColumn> shape;
	for (const TypeAttribute &attribute : type.attributes) {
		DdlColumn column;
		column.name = attribute.name;
		column.type = attribute.type;
		shape.push_back(std::move(column));
	}
	ColumnDiff diff = DiffColumns(names, shape);
	std::string sql;
	std::vector<TypeAttribute> now = held.attributes;
	for (const auto &[from, to] : diff.renamed) {
		sql += "ALTER TYPE " + q + " RENAME ATTRIBUTE " + QuoteIdentifier(Line(from, "attribute name")) + " TO " +
			   QuoteIdentifier(Line(to, "attribute name")) + ";\n";
		for (TypeAttribute &attribute : now)
			if (attribute.name == from)
				attribute.name = to;
	}
	for (const std::string &name : diff.dropped)
		sql += "ALTER TYPE " + q + " DROP ATTRIBUTE IF EXISTS " + QuoteIdentifier(Line(name, "attribute name")) + ";\n";
	for (const TypeAttribute &attribute : type.attributes) {
		auto found =
			std::find_if(now.begin(), now.end(), [&](const TypeAttribute &a) { return a.name == attribute.name; });
		if (found == now.end())
			sql += "ALTER TYPE " + q + " ADD ATTRIBUTE " + Attribute(attribute) + ";\n";
		else if (found->type != attribute.type || found->collation != attribute.collation)
			sql += "ALTER TYPE " + q + " ALTER ATTRIBUTE " + QuoteIdentifier(attribute.name) + " TYPE " +
				   Line(attribute.type, "type name") +
				   (attribute.collation ? " COLLATE " + Line(*attribute.collation, "collation name") : "") + ";\n";
	}
	return sql;
}

// AlterDomain returns the statements that turn the domain held into type.
std::string
AlterDomain(const std::string &q, const TypeDefinition &held, const TypeDefinition &type) {
	std::string sql;
	if (held.not_null != type.not_null)
		sql += "ALTER DOMAIN " + q + (type.not_null ? " SET NOT NULL" : " DROP NOT NULL") + ";\n";
	auto find = [](const std::vector<TypeConstraint> &list, const std::string &name) {
		return std::find_if(list.begin(), list.end(), [&](const TypeConstraint &c) { return c.name == name; });
	};
	for (const TypeConstraint &constraint : held.constraints)
		if (find(type.constraints, constraint.name) == type.constraints.end())
			sql += "ALTER DOMAIN " + q + " DROP CONSTRAINT IF EXISTS " +
				   QuoteIdentifier(Line(constraint.name, "constraint name")) + ";\n";
	for (const TypeConstraint &constraint : type.constraints) {
		auto before = find(held.constraints, constraint.name);
		if (before != held.constraints.end() && before->definition == constraint.definition)
			continue;
		std::string name = QuoteIdentifier(Line(constraint.name, "constraint name"));
		sql += "ALTER DOMAIN " + q + " DROP CONSTRAINT IF EXISTS " + name + ";\n";
		std::string why = Skipped(constraint, false);
		sql += why.empty() ? "ALTER DOMAIN " + q + " ADD CONSTRAINT " + name + " " + constraint.definition + ";\n"
						   : LeftOut(type, constraint, why);
	}
	return sql;
}

// Alter returns the statements that turn the type held into type (same oid).
std::string
Alter(const TypeDefinition &held, const TypeDefinition &type) {
	if (held.kind != type.kind ||
		(type.kind != "enum" && type.kind != "composite" && type.kind != "domain" && type.kind != "range"))
		return "";
	std::string sql;
	std::string q = Qualified(held);
	if (held.schema != type.schema) {
		sql += "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(Line(type.schema, "schema name")) + ";\n";
		sql += "ALTER " + Keyword(type) + " " + q + " SET SCHEMA " + QuoteIdentifier(type.schema) + ";\n";
		q = QuoteQualifiedName(type.schema, held.name);
	}
	if (held.name != type.name) {
		sql +=
			"ALTER " + Keyword(type) + " " + q + " RENAME TO " + QuoteIdentifier(Line(type.name, "type name")) + ";\n";
		q = Qualified(type);
	}
	if (type.kind == "enum")
		sql += AlterEnum(q, held.labels, type);
	else if (type.kind == "composite")
		sql += AlterComposite(q, held, type);
	else if (type.kind == "domain")
		sql += AlterDomain(q, held, type);
	return sql;
}

} // namespace

// WriteTypes writes what each definition needs, in order (dependencies come first).
void
SqlDumpSink::WriteTypes(const std::vector<TypeDefinition> &types) {
	for (const TypeDefinition &type : types) {
		if (type.json.size() > kMaxSqlDumpRecordBytes || type.json.find_first_of("\r\n") != std::string::npos)
			throw std::runtime_error("SQL dump sink: the definition of type " + type.type + " is longer than " +
									 std::to_string(kMaxSqlDumpRecordBytes) + " bytes");
		auto held = types_.find(type.oid);
		if (held != types_.end() && held->second.json == type.json)
			continue;
		std::string sql;
		if (held == types_.end()) {
			// a type of this name that the source dropped: its successor takes the name
			for (auto other = types_.begin(); other != types_.end();) {
				if (other->second.type != type.type) {
					++other;
					continue;
				}
				if (other->second.kind != "extension" && other->second.kind != "unsupported")
					sql += "DROP " + Keyword(other->second) + " IF EXISTS " + Qualified(other->second) + " CASCADE;\n";
				other = types_.erase(other);
			}
			if (schemas_.insert(type.schema).second)
				sql += "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(Line(type.schema, "schema name")) + ";\n";
			sql += Create(type);
		} else {
			sql += Alter(held->second, type);
		}
		spool_.Append(sql + std::string(kSqlDumpTypePrefix) + type.json + "\n");
		types_[type.oid] = type;
		types_changed_ = true;
	}
}

// WriteTypeMessage follows a mostajs.type message: the initial copy's types are written; a changed type only when
// the dump holds it (with the types it is now made of).
void
SqlDumpSink::WriteTypeMessage(const Change &change) {
	std::optional<TypeMessage> message = ParseTypeMessage(change);
	if (!message)
		return;
	if (message->subject) {
		auto subject = std::find_if(message->types.rbegin(), message->types.rend(),
									[&](const TypeDefinition &type) { return type.type == *message->subject; });
		if (subject == message->types.rend() || types_.count(subject->oid) == 0)
			return;
	}
	WriteTypes(message->types);
}

// BaseType follows held domains down to a type that is not one (a bounded walk: domains cannot form a cycle).
std::string
SqlDumpSink::BaseType(const std::string &type) const {
	std::string base;
	for (int depth = 0; depth < 64; ++depth) {
		const std::string &name = base.empty() ? type : base;
		auto domain = std::find_if(types_.begin(), types_.end(), [&](const auto &held) {
			return held.second.kind == "domain" && held.second.type == name;
		});
		if (domain == types_.end())
			break;
		base = domain->second.base;
	}
	return base;
}

// RestoreTypes makes the type records of a recovered file the held types.
void
SqlDumpSink::RestoreTypes(const std::vector<std::string> &records) {
	types_.clear();
	for (const std::string &record : records) {
		TypeDefinition type = ParseTypeDefinition(record);
		types_[type.oid] = std::move(type);
	}
	committed_types_ = types_;
}

} // namespace mosta::sidecar
