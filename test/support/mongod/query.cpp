// query.cpp
//     Filters, projections, sorts and updates over libbson documents (see query.hpp).
#include "query.hpp"

#include <cstring>
#include <ctime>

namespace mosta::testmongod {

namespace {

bool
StartsWith(const std::string &s, const std::string &prefix) {
	return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool
AllDigits(const std::string &s) {
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

void
Gather(const bson_t *doc, const std::vector<std::string> &parts, size_t i, std::vector<bson_value_t> &out) {
	bson_iter_t it;
	if (!bson_iter_init_find(&it, doc, parts[i].c_str()))
		return;
	const bson_value_t value = *bson_iter_value(&it);
	if (i + 1 == parts.size()) {
		out.push_back(value);
		if (value.value_type == BSON_TYPE_ARRAY) {
			bson_iter_t element;
			if (bson_iter_recurse(&it, &element))
				while (bson_iter_next(&element))
					out.push_back(*bson_iter_value(&element));
		}
		return;
	}
	if (value.value_type == BSON_TYPE_DOCUMENT) {
		StaticBson sub(&it);
		Gather(sub.get(), parts, i + 1, out);
	} else if (value.value_type == BSON_TYPE_ARRAY) {
		StaticBson array(&it);
		if (AllDigits(parts[i + 1])) {
			Gather(array.get(), parts, i + 1, out);
			return;
		}
		bson_iter_t element;
		bson_iter_init(&element, array.get());
		while (bson_iter_next(&element))
			if (BSON_ITER_HOLDS_DOCUMENT(&element)) {
				StaticBson sub(&element);
				Gather(sub.get(), parts, i + 1, out);
			}
	}
}

bool
EqualsAny(const std::vector<bson_value_t> &values, const bson_value_t &target) {
	if (values.empty())
		return target.value_type == BSON_TYPE_NULL;
	for (const auto &value : values)
		if (ValuesEqual(value, target))
			return true;
	return false;
}

bool
IsOperatorDoc(const bson_iter_t *it) {
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	StaticBson doc(it);
	bson_iter_t first;
	return bson_iter_init(&first, doc.get()) && bson_iter_next(&first) && bson_iter_key(&first)[0] == '$';
}

bool MatchOperators(const std::vector<bson_value_t> &values, const bson_t *ops);

bool
MatchOperator(const std::vector<bson_value_t> &values, const std::string &op, const bson_iter_t *arg) {
	const bson_value_t &target = *bson_iter_value(const_cast<bson_iter_t *>(arg));
	if (op == "$eq")
		return EqualsAny(values, target);
	if (op == "$ne")
		return !EqualsAny(values, target);
	if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") {
		bool inclusive = op == "$gte" || op == "$lte";
		if (values.empty())
			return inclusive && target.value_type == BSON_TYPE_NULL;
		for (const auto &value : values) {
			if (TypeRank(value.value_type) != TypeRank(target.value_type))
				continue;
			int c = CompareValues(value, target);
			if ((op == "$gt" && c > 0) || (op == "$gte" && c >= 0) || (op == "$lt" && c < 0) ||
				(op == "$lte" && c <= 0))
				return true;
		}
		return false;
	}
	if (op == "$in" || op == "$nin") {
		if (!BSON_ITER_HOLDS_ARRAY(arg))
			throw CommandError(2, "BadValue", op + " needs an array");
		StaticBson array(arg);
		bson_iter_t element;
		bson_iter_init(&element, array.get());
		bool found = false;
		while (!found && bson_iter_next(&element))
			found = EqualsAny(values, *bson_iter_value(&element));
		return op == "$in" ? found : !found;
	}
	if (op == "$exists")
		return values.empty() != Truthy(target);
	if (op == "$not") {
		if (!BSON_ITER_HOLDS_DOCUMENT(arg))
			throw CommandError(2, "BadValue", "$not needs a document");
		StaticBson ops(arg);
		return !MatchOperators(values, ops.get());
	}
	if (op == "$size") {
		for (const auto &value : values)
			if (value.value_type == BSON_TYPE_ARRAY) {
				StaticBson array(value.value.v_doc.data, value.value.v_doc.data_len);
				if (static_cast<int64_t>(bson_count_keys(array.get())) == NumberAsInt64(target))
					return true;
			}
		return false;
	}
	throw CommandError(2, "BadValue", "unknown operator: " + op + " (not implemented by mosta-test-mongod)");
}

bool
MatchOperators(const std::vector<bson_value_t> &values, const bson_t *ops) {
	bson_iter_t it;
	bson_iter_init(&it, ops);
	while (bson_iter_next(&it))
		if (!MatchOperator(values, bson_iter_key(&it), &it))
			return false;
	return true;
}

bool
MatchField(const bson_t *doc, const std::string &path, const bson_iter_t *condition) {
	std::vector<bson_value_t> values = ValuesAtPath(doc, path);
	if (IsOperatorDoc(condition)) {
		StaticBson ops(condition);
		return MatchOperators(values, ops.get());
	}
	if (BSON_ITER_HOLDS_REGEX(condition))
		throw CommandError(2, "BadValue", "regular expressions are not implemented by mosta-test-mongod");
	return EqualsAny(values, *bson_iter_value(const_cast<bson_iter_t *>(condition)));
}

void
Include(const bson_t *doc, const std::vector<std::string> &paths, bson_t *out, bool include) {
	bson_iter_t it;
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		std::string key = bson_iter_key(&it);
		bool whole = false;
		std::vector<std::string> sub;
		for (const auto &path : paths) {
			if (path == key)
				whole = true;
			else if (StartsWith(path, key + "."))
				sub.push_back(path.substr(key.size() + 1));
		}
		if (whole) {
			if (include)
				bson_append_iter(out, key.c_str(), -1, &it);
		} else if (!sub.empty() && BSON_ITER_HOLDS_DOCUMENT(&it)) {
			StaticBson child_in(&it);
			bson_t child;
			bson_append_document_begin(out, key.c_str(), -1, &child);
			Include(child_in.get(), sub, &child, include);
			bson_append_document_end(out, &child);
		} else if (!include) {
			bson_append_iter(out, key.c_str(), -1, &it);
		}
	}
}

BsonPtr
SetParts(const bson_t *doc, const std::vector<std::string> &parts, size_t i, const bson_value_t *value) {
	BsonPtr out = NewBson();
	bool found = false;
	bool last = i + 1 == parts.size();
	bson_iter_t it;
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it)) {
		const char *key = bson_iter_key(&it);
		if (parts[i] != key) {
			bson_append_iter(out.get(), key, -1, &it);
			continue;
		}
		found = true;
		if (last) {
			if (value)
				bson_append_value(out.get(), key, -1, value);
		} else if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
			StaticBson sub(&it);
			BsonPtr child = SetParts(sub.get(), parts, i + 1, value);
			if (BSON_ITER_HOLDS_DOCUMENT(&it))
				bson_append_document(out.get(), key, -1, child.get());
			else
				bson_append_array(out.get(), key, -1, child.get());
		} else if (!value) {
			bson_append_iter(out.get(), key, -1, &it);
		} else {
			throw CommandError(28, "PathNotViable",
							   "Cannot create field '" + parts[i + 1] + "' in element {" + key + ": " +
								   ValueToJson(*bson_iter_value(&it)) + "}");
		}
	}
	if (!found && value) {
		if (last) {
			bson_append_value(out.get(), parts[i].c_str(), -1, value);
		} else {
			BsonPtr empty = NewBson();
			BsonPtr child = SetParts(empty.get(), parts, i + 1, value);
			bson_append_document(out.get(), parts[i].c_str(), -1, child.get());
		}
	}
	return out;
}

// The value exactly at path (no array expansion), or EOD when missing.
bson_value_t
ValueAt(const bson_t *doc, const std::string &path) {
	bson_iter_t it, found;
	if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path.c_str(), &found))
		return *bson_iter_value(&found);
	bson_value_t missing{};
	missing.value_type = BSON_TYPE_EOD;
	return missing;
}

bson_value_t
Add(const bson_value_t &a, const bson_value_t &b) {
	if (a.value_type == BSON_TYPE_DOUBLE || b.value_type == BSON_TYPE_DOUBLE)
		return DoubleValue(NumberAsDouble(a) + NumberAsDouble(b));
	int64_t sum = 0;
	if (__builtin_add_overflow(NumberAsInt64(a), NumberAsInt64(b), &sum))
		return DoubleValue(NumberAsDouble(a) + NumberAsDouble(b));
	if (a.value_type == BSON_TYPE_INT32 && b.value_type == BSON_TYPE_INT32 && sum >= INT32_MIN && sum <= INT32_MAX)
		return Int32Value(static_cast<int32_t>(sum));
	return Int64Value(sum);
}

BsonPtr
Push(const bson_t *doc, const std::string &path, const bson_iter_t *arg) {
	bson_value_t current = ValueAt(doc, path);
	if (current.value_type != BSON_TYPE_EOD && current.value_type != BSON_TYPE_ARRAY)
		throw CommandError(2, "BadValue", "The field '" + path + "' must be an array");
	BsonPtr array = NewBson();
	uint32_t n = 0;
	auto append = [&](const bson_value_t &v) {
		std::string key = std::to_string(n++);
		bson_append_value(array.get(), key.c_str(), -1, &v);
	};
	if (current.value_type == BSON_TYPE_ARRAY) {
		StaticBson old(current.value.v_doc.data, current.value.v_doc.data_len);
		bson_iter_t it;
		bson_iter_init(&it, old.get());
		while (bson_iter_next(&it))
			append(*bson_iter_value(&it));
	}
	bson_iter_t each;
	if (IsOperatorDoc(arg)) {
		StaticBson modifiers(arg);
		if (!bson_iter_init_find(&each, modifiers.get(), "$each") || !BSON_ITER_HOLDS_ARRAY(&each))
			throw CommandError(2, "BadValue", "$push modifiers other than $each are not implemented");
		StaticBson items(&each);
		bson_iter_t it;
		bson_iter_init(&it, items.get());
		while (bson_iter_next(&it))
			append(*bson_iter_value(&it));
	} else {
		append(*bson_iter_value(const_cast<bson_iter_t *>(arg)));
	}
	bson_value_t array_value{};
	array_value.value_type = BSON_TYPE_ARRAY;
	array_value.value.v_doc.data = const_cast<uint8_t *>(bson_get_data(array.get()));
	array_value.value.v_doc.data_len = array->len;
	return SetPath(doc, path, &array_value);
}

void
CheckIdUnchanged(const bson_t *old, const bson_t *updated) {
	bson_value_t old_id = ValueAt(old, "_id");
	if (old_id.value_type == BSON_TYPE_EOD)
		return;
	bson_value_t new_id = ValueAt(updated, "_id");
	if (new_id.value_type == BSON_TYPE_EOD || !ValuesEqual(old_id, new_id) || old_id.value_type != new_id.value_type)
		throw CommandError(66, "ImmutableField",
						   "After applying the update, the (immutable) field '_id' was found to have been altered "
						   "to _id: " +
							   (new_id.value_type == BSON_TYPE_EOD ? std::string("missing") : ValueToJson(new_id)));
}

void
AddEqualities(const bson_t *filter, BsonPtr &seed) {
	bson_iter_t it;
	bson_iter_init(&it, filter);
	while (bson_iter_next(&it)) {
		std::string key = bson_iter_key(&it);
		if (key == "$and" && BSON_ITER_HOLDS_ARRAY(&it)) {
			StaticBson array(&it);
			bson_iter_t element;
			bson_iter_init(&element, array.get());
			while (bson_iter_next(&element))
				if (BSON_ITER_HOLDS_DOCUMENT(&element)) {
					StaticBson sub(&element);
					AddEqualities(sub.get(), seed);
				}
		} else if (key[0] == '$') {
			continue;
		} else if (IsOperatorDoc(&it)) {
			StaticBson ops(&it);
			bson_iter_t eq;
			if (bson_iter_init_find(&eq, ops.get(), "$eq"))
				seed = SetPath(seed.get(), key, bson_iter_value(&eq));
		} else {
			seed = SetPath(seed.get(), key, bson_iter_value(&it));
		}
	}
}

} // namespace

std::vector<bson_value_t>
ValuesAtPath(const bson_t *doc, const std::string &path) {
	std::vector<bson_value_t> values;
	Gather(doc, SplitPath(path), 0, values);
	return values;
}

bool
Matches(const bson_t *doc, const bson_t *filter) {
	if (!filter)
		return true;
	bson_iter_t it;
	bson_iter_init(&it, filter);
	while (bson_iter_next(&it)) {
		std::string key = bson_iter_key(&it);
		if (key == "$and" || key == "$or" || key == "$nor") {
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				throw CommandError(2, "BadValue", key + " must be an array");
			StaticBson array(&it);
			bson_iter_t element;
			bson_iter_init(&element, array.get());
			bool any = false, all = true;
			while (bson_iter_next(&element)) {
				if (!BSON_ITER_HOLDS_DOCUMENT(&element))
					throw CommandError(2, "BadValue", key + " entries must be objects");
				StaticBson sub(&element);
				bool m = Matches(doc, sub.get());
				any = any || m;
				all = all && m;
			}
			if ((key == "$and" && !all) || (key == "$or" && !any) || (key == "$nor" && any))
				return false;
		} else if (key == "$comment") {
			continue;
		} else if (key[0] == '$') {
			throw CommandError(2, "BadValue", "unknown top level operator: " + key);
		} else if (!MatchField(doc, key, &it)) {
			return false;
		}
	}
	return true;
}

BsonPtr
Project(const bson_t *doc, const bson_t *projection) {
	if (!projection || bson_empty(projection))
		return CopyBson(doc);
	std::vector<std::string> included, excluded;
	bool id_included = true;
	bson_iter_t it;
	bson_iter_init(&it, projection);
	while (bson_iter_next(&it)) {
		std::string key = bson_iter_key(&it);
		if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_UTF8(&it))
			throw CommandError(2, "BadValue", "projection expressions are not implemented by mosta-test-mongod");
		bool on = Truthy(*bson_iter_value(&it));
		if (key == "_id")
			id_included = on;
		else
			(on ? included : excluded).push_back(key);
	}
	if (!included.empty() && !excluded.empty())
		throw CommandError(31254, "Location31254", "Cannot do exclusion on field in inclusion projection");
	BsonPtr out = NewBson();
	if (!included.empty() || (excluded.empty() && id_included)) {
		if (id_included)
			included.emplace_back("_id");
		Include(doc, included, out.get(), true);
	} else {
		if (!id_included)
			excluded.emplace_back("_id");
		Include(doc, excluded, out.get(), false);
	}
	return out;
}

SortSpec
ParseSort(const bson_t *sort) {
	SortSpec spec;
	if (!sort)
		return spec;
	bson_iter_t it;
	bson_iter_init(&it, sort);
	while (bson_iter_next(&it)) {
		const bson_value_t *value = bson_iter_value(&it);
		int64_t direction = IsNumber(value->value_type) ? NumberAsInt64(*value) : 0;
		if (direction != 1 && direction != -1)
			throw CommandError(15974, "Location15974",
							   "Illegal key in $sort specification: " + std::string(bson_iter_key(&it)));
		spec.emplace_back(bson_iter_key(&it), static_cast<int>(direction));
	}
	return spec;
}

int
CompareForSort(const bson_t *a, const bson_t *b, const SortSpec &spec) {
	auto key = [](const bson_t *doc, const std::string &path, int direction) {
		std::vector<bson_value_t> values = ValuesAtPath(doc, path);
		if (values.empty())
			return NullValue();
		// An array sorts by its smallest element ascending, its largest descending.
		if (values[0].value_type == BSON_TYPE_ARRAY && values.size() > 1) {
			bson_value_t best = values[1];
			for (size_t i = 2; i < values.size(); i++)
				if (CompareValues(values[i], best) * direction < 0)
					best = values[i];
			return best;
		}
		return values[0];
	};
	for (const auto &[path, direction] : spec) {
		int c = CompareValues(key(a, path, direction), key(b, path, direction));
		if (c != 0)
			return c * direction;
	}
	return 0;
}

bool
IsOperatorUpdate(const bson_t *update) {
	bson_iter_t it;
	return bson_iter_init(&it, update) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

BsonPtr
ApplyUpdate(const bson_t *old, const bson_t *update, bool inserting) {
	if (!IsOperatorUpdate(update)) {
		BsonPtr out = NewBson();
		bson_iter_t it;
		bson_value_t old_id = ValueAt(old, "_id");
		if (old_id.value_type != BSON_TYPE_EOD)
			bson_append_value(out.get(), "_id", 3, &old_id);
		else if (bson_iter_init_find(&it, update, "_id"))
			bson_append_iter(out.get(), "_id", 3, &it);
		bson_iter_init(&it, update);
		while (bson_iter_next(&it)) {
			const char *key = bson_iter_key(&it);
			if (key[0] == '$')
				throw CommandError(52, "DollarPrefixedFieldName",
								   "The dollar ($) prefixed field '" + std::string(key) +
									   "' is not valid in a replacement");
			if (std::strcmp(key, "_id") == 0) {
				if (old_id.value_type != BSON_TYPE_EOD && !ValuesEqual(old_id, *bson_iter_value(&it)))
					CheckIdUnchanged(old, update);
				continue;
			}
			bson_append_iter(out.get(), key, static_cast<int>(bson_iter_key_len(&it)), &it);
		}
		return out;
	}
	BsonPtr current = CopyBson(old);
	bson_iter_t op_it;
	bson_iter_init(&op_it, update);
	while (bson_iter_next(&op_it)) {
		std::string op = bson_iter_key(&op_it);
		if (!BSON_ITER_HOLDS_DOCUMENT(&op_it))
			throw CommandError(9, "FailedToParse", "Modifiers operate on fields but we found another type instead");
		StaticBson fields(&op_it);
		bson_iter_t it;
		bson_iter_init(&it, fields.get());
		while (bson_iter_next(&it)) {
			std::string path = bson_iter_key(&it);
			const bson_value_t *arg = bson_iter_value(&it);
			if (op == "$set" || (op == "$setOnInsert" && inserting)) {
				current = SetPath(current.get(), path, arg);
			} else if (op == "$setOnInsert") {
				continue;
			} else if (op == "$unset") {
				current = SetPath(current.get(), path, nullptr);
			} else if (op == "$inc") {
				bson_value_t value = ValueAt(current.get(), path);
				if (!IsNumber(arg->value_type))
					throw CommandError(14, "TypeMismatch", "Cannot increment with non-numeric argument");
				if (value.value_type != BSON_TYPE_EOD && !IsNumber(value.value_type))
					throw CommandError(14, "TypeMismatch",
									   "Cannot apply $inc to a value of non-numeric type. {_id: " +
										   ValueToJson(ValueAt(current.get(), "_id")) + "} has the field '" + path +
										   "' of non-numeric type");
				bson_value_t sum = value.value_type == BSON_TYPE_EOD ? *arg : Add(value, *arg);
				current = SetPath(current.get(), path, &sum);
			} else if (op == "$min" || op == "$max") {
				bson_value_t value = ValueAt(current.get(), path);
				int c = value.value_type == BSON_TYPE_EOD ? 0 : CompareValues(*arg, value);
				if (value.value_type == BSON_TYPE_EOD || (op == "$min" ? c < 0 : c > 0))
					current = SetPath(current.get(), path, arg);
			} else if (op == "$push") {
				current = Push(current.get(), path, &it);
			} else if (op == "$rename") {
				if (arg->value_type != BSON_TYPE_UTF8)
					throw CommandError(2, "BadValue", "The 'to' field for $rename must be a string");
				bson_value_t value = ValueAt(current.get(), path);
				if (value.value_type != BSON_TYPE_EOD) {
					BsonPtr moved = SetPath(current.get(), arg->value.v_utf8.str, &value);
					current = SetPath(moved.get(), path, nullptr);
				}
			} else if (op == "$currentDate") {
				bson_value_t now{};
				now.value_type = BSON_TYPE_DATE_TIME;
				now.value.v_datetime = static_cast<int64_t>(std::time(nullptr)) * 1000;
				current = SetPath(current.get(), path, &now);
			} else {
				throw CommandError(9, "FailedToParse",
								   "Unknown modifier: " + op +
									   ". Expected a valid update modifier or pipeline-style update specified as an "
									   "array");
			}
		}
	}
	CheckIdUnchanged(old, current.get());
	return current;
}

BsonPtr
UpsertDocument(const bson_t *filter, const bson_t *update) {
	BsonPtr seed = NewBson();
	if (filter)
		AddEqualities(filter, seed);
	if (!IsOperatorUpdate(update)) {
		BsonPtr id_only = NewBson();
		bson_iter_t it;
		if (bson_iter_init_find(&it, seed.get(), "_id"))
			bson_append_iter(id_only.get(), "_id", 3, &it);
		BsonPtr replaced = ApplyUpdate(id_only.get(), update, true);
		// a replacement built on an _id already starts with it: no second copy to put it first
		if (bson_iter_init(&it, replaced.get()) && bson_iter_next(&it) && std::strcmp(bson_iter_key(&it), "_id") == 0)
			return replaced;
		return WithIdFirst(replaced.get());
	}
	return WithIdFirst(ApplyUpdate(seed.get(), update, true).get());
}

BsonPtr
WithIdFirst(const bson_t *doc) {
	BsonPtr out = NewBson();
	bson_iter_t it;
	if (bson_iter_init_find(&it, doc, "_id")) {
		bson_append_iter(out.get(), "_id", 3, &it);
	} else {
		bson_oid_t oid;
		bson_oid_init(&oid, nullptr);
		bson_append_oid(out.get(), "_id", 3, &oid);
	}
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
		if (std::strcmp(bson_iter_key(&it), "_id") != 0)
			bson_append_iter(out.get(), bson_iter_key(&it), -1, &it);
	return out;
}

BsonPtr
SetPath(const bson_t *doc, const std::string &path, const bson_value_t *value) {
	return SetParts(doc, SplitPath(path), 0, value);
}

} // namespace mosta::testmongod
