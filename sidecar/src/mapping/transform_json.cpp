/*
 * transform_json.cpp
 *     jsonb texts of BSON values and of a document without its mapped paths (see transform_json.hpp).
 */
#include "mapping/transform_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <vector>

#include "app/verify_mongo.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::mapping {

namespace {

// A field of an object being written, kept until the object's keys are sorted.
struct Member {
	std::string_view key;
	bson_iter_t value;
};

// JsonbKeyLess is jsonb's key order (lengthCompareJsonbString): shorter keys first, then bytewise.
bool
JsonbKeyLess(const Member &a, const Member &b) {
	if (a.key.size() != b.key.size())
		return a.key.size() < b.key.size();
	return std::memcmp(a.key.data(), b.key.data(), a.key.size()) < 0;
}

// SortedMembers fills members with the fields of an object in jsonb's order, the last of equal keys only (jsonb
// keeps it). Objects are small: an insertion sort (stable, no buffer) unless they are not.
void
SortedMembers(bson_iter_t *fields, std::vector<Member> &members) {
	members.clear();
	while (bson_iter_next(fields))
		members.push_back(Member{std::string_view(bson_iter_key(fields), bson_iter_key_len(fields)), *fields});
	if (members.size() > 32) {
		std::stable_sort(members.begin(), members.end(), JsonbKeyLess);
	} else {
		for (std::size_t i = 1; i < members.size(); ++i)
			for (std::size_t j = i; j > 0 && JsonbKeyLess(members[j], members[j - 1]); --j)
				std::swap(members[j], members[j - 1]);
	}
	std::size_t kept = 0;
	for (std::size_t i = 0; i < members.size(); ++i)
		if (i + 1 == members.size() || members[i + 1].key != members[i].key)
			members[kept++] = members[i];
	members.resize(kept);
}

// MemberLists lends the member list of each nesting level, kept across documents (no allocation per object).
class MemberLists {
  public:
	MemberLists() {
		if (lists_.size() <= depth_)
			lists_.emplace_back(); // a deque: the lists of outer levels stay where they are
		list_ = &lists_[depth_++];
	}
	~MemberLists() {
		--depth_;
	}
	MemberLists(const MemberLists &) = delete;
	MemberLists &operator=(const MemberLists &) = delete;

	std::vector<Member> &
	List() noexcept {
		return *list_;
	}

  private:
	static thread_local std::deque<std::vector<Member>> lists_;
	static thread_local std::size_t depth_;
	std::vector<Member> *list_;
};
thread_local std::deque<std::vector<Member>> MemberLists::lists_;
thread_local std::size_t MemberLists::depth_ = 0;

void
Fail(JsonProblem *problem, const bson_iter_t *iter, std::string path, const char *reason) {
	problem->path = std::move(path);
	problem->reason = reason;
	problem->value = *iter;
}

// Prefixed joins a key to the path below it ("a" + "b.c" → "a.b.c").
std::string
Prefixed(std::string_view key, const std::string &rest) {
	std::string out(key);
	if (!rest.empty()) {
		out += '.';
		out += rest;
	}
	return out;
}

// AppendExtendedJson writes the relaxed extended JSON object of a type JSON has no form for, keys in jsonb order.
void
AppendExtendedJson(std::string &out, const bson_iter_t *iter) {
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_REGEX: {
		const char *options = nullptr;
		const char *pattern = bson_iter_regex(iter, &options);
		out += "{\"$regularExpression\": {\"options\": ";
		AppendJsonQuoted(out, options ? options : "");
		out += ", \"pattern\": ";
		AppendJsonQuoted(out, pattern ? pattern : "");
		out += "}}";
		return;
	}
	case BSON_TYPE_TIMESTAMP: {
		std::uint32_t seconds = 0, increment = 0;
		bson_iter_timestamp(iter, &seconds, &increment);
		out += "{\"$timestamp\": {\"i\": " + std::to_string(increment) + ", \"t\": " + std::to_string(seconds) + "}}";
		return;
	}
	case BSON_TYPE_MINKEY:
		out += "{\"$minKey\": 1}";
		return;
	case BSON_TYPE_MAXKEY:
		out += "{\"$maxKey\": 1}";
		return;
	case BSON_TYPE_SYMBOL: {
		std::uint32_t length = 0;
		const char *text = bson_iter_symbol(iter, &length);
		out += "{\"$symbol\": ";
		AppendJsonQuoted(out, std::string_view(text, length));
		out += '}';
		return;
	}
	case BSON_TYPE_CODE: {
		std::uint32_t length = 0;
		const char *text = bson_iter_code(iter, &length);
		out += "{\"$code\": ";
		AppendJsonQuoted(out, std::string_view(text, length));
		out += '}';
		return;
	}
	default: {
		// code with scope, DBPointer: libbson's relaxed extended JSON, kept as a string
		bson_t holder = BSON_INITIALIZER;
		bson_append_iter(&holder, "v", 1, iter);
		std::size_t length = 0;
		char *json = bson_as_relaxed_extended_json(&holder, &length);
		AppendJsonQuoted(out, json ? std::string_view(json, length) : std::string_view("null"));
		bson_free(json);
		bson_destroy(&holder);
		return;
	}
	}
}

// AppendObject writes the fields of an object (fields iterates inside it) without removed's leaves; *wrote tells
// whether any member was written (a subdocument left empty by the removal is dropped by the caller).
bool
AppendObject(std::string &out, bson_iter_t *fields, const PathTree *removed, const char *skip, JsonProblem *problem,
			 bool *wrote) {
	out += '{';
	bool first = true;
	MemberLists lease;
	SortedMembers(fields, lease.List());
	for (const Member &member : lease.List()) {
		if (skip && member.key == skip)
			continue;
		if (const char *why = PgStringProblem(member.key.data(), static_cast<std::uint32_t>(member.key.size())); *why) {
			Fail(problem, &member.value, std::string(member.key), why);
			return false;
		}
		const PathTree *below = nullptr;
		if (removed) {
			auto found = removed->children.find(member.key);
			if (found != removed->children.end()) {
				if (found->second.leaf)
					continue;
				if (bson_iter_type(&member.value) == BSON_TYPE_DOCUMENT)
					below = &found->second;
			}
		}
		bson_iter_t child;
		if (below && !bson_iter_recurse(&member.value, &child))
			below = nullptr; // an unreadable subdocument is written as it reads
		const std::size_t start = out.size();
		out += first ? "" : ", ";
		AppendJsonQuoted(out, member.key);
		out += ": ";
		bool ok = true;
		if (below) {
			bool child_wrote = false;
			ok = AppendObject(out, &child, below, nullptr, problem, &child_wrote);
			if (ok && !child_wrote) {
				out.resize(start); // emptied by the removal: dropped
				continue;
			}
		} else {
			ok = AppendJsonb(out, &member.value, problem);
		}
		if (!ok) {
			problem->path = Prefixed(member.key, problem->path);
			return false;
		}
		first = false;
	}
	out += '}';
	*wrote = !first;
	return true;
}

} // namespace

void
PathTree::Add(const std::string &dotted_path) {
	PathTree *node = this;
	std::size_t start = 0;
	while (true) {
		const std::size_t dot = dotted_path.find('.', start);
		node = &node->children[dotted_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start)];
		if (dot == std::string::npos)
			break;
		start = dot + 1;
	}
	node->leaf = true;
}

const char *
PgStringProblem(const char *text, std::uint32_t length) {
	// most strings are ASCII without NUL: eight bytes at a time, libbson's validation for the others
	constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
	constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
	std::uint32_t pos = 0;
	for (; pos + 8 <= length; pos += 8) {
		std::uint64_t word;
		std::memcpy(&word, text + pos, 8);
		if ((word & kHighs) != 0 || ((word - kOnes) & ~word & kHighs) != 0)
			break;
	}
	for (; pos < length; ++pos)
		if (text[pos] == '\0' || (static_cast<unsigned char>(text[pos]) & 0x80) != 0)
			break;
	if (pos == length)
		return "";
	if (std::memchr(text, '\0', length) != nullptr)
		return "holds a NUL character, which PostgreSQL text cannot hold";
	if (!bson_utf8_validate(text, length, false))
		return "is not valid UTF-8";
	return "";
}

bool
AppendJsonb(std::string &out, const bson_iter_t *iter, JsonProblem *problem) {
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_DOCUMENT: {
		bson_iter_t fields;
		bool wrote = false;
		if (!bson_iter_recurse(iter, &fields)) {
			out += "{}";
			return true;
		}
		return AppendObject(out, &fields, nullptr, nullptr, problem, &wrote);
	}
	case BSON_TYPE_ARRAY: {
		bson_iter_t elements;
		out += '[';
		if (bson_iter_recurse(iter, &elements)) {
			bool first = true;
			for (std::size_t index = 0; bson_iter_next(&elements); ++index) {
				out += first ? "" : ", ";
				first = false;
				if (!AppendJsonb(out, &elements, problem)) {
					problem->path = Prefixed(std::to_string(index), problem->path);
					return false;
				}
			}
		}
		out += ']';
		return true;
	}
	case BSON_TYPE_UTF8: {
		std::uint32_t length = 0;
		const char *text = bson_iter_utf8(iter, &length);
		if (const char *why = PgStringProblem(text, length); *why) {
			Fail(problem, iter, "", why);
			return false;
		}
		AppendJsonQuoted(out, std::string_view(text, length));
		return true;
	}
	case BSON_TYPE_DOUBLE: {
		const double value = bson_iter_double(iter);
		if (std::isnan(value))
			out += "\"NaN\"";
		else if (std::isinf(value))
			out += value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
		else if (value == 0)
			out += '0'; // -0 too: numeric has no negative zero
		else
			out += *sidecar::BsonCanonicalText(iter, "jsonb");
		return true;
	}
	case BSON_TYPE_DECIMAL128: {
		std::string text = *sidecar::BsonCanonicalText(iter, "jsonb");
		if (text == "NaN" || text == "Infinity" || text == "-Infinity")
			AppendJsonQuoted(out, text);
		else
			out += text;
		return true;
	}
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
		out += "null";
		return true;
	case BSON_TYPE_BOOL:
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_OID:
	case BSON_TYPE_DATE_TIME:
	case BSON_TYPE_BINARY:
		out += *sidecar::BsonCanonicalText(iter, "jsonb");
		return true;
	default:
		AppendExtendedJson(out, iter);
		return true;
	}
}

bool
AppendJsonbDocumentExcept(std::string &out, bson_iter_t *fields, const PathTree &removed, const char *skip,
						  JsonProblem *problem) {
	bool wrote = false;
	return AppendObject(out, fields, &removed, skip, problem, &wrote);
}

} // namespace mosta::mapping
