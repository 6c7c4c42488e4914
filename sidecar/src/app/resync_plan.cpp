/*
 * resync_plan.cpp
 *     The re-sync's ranges and key differences (see resync_plan.hpp).
 */
#include "app/resync_plan.hpp"

#include <algorithm>
#include <stdexcept>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/pg_types.hpp"

namespace mosta::sidecar {

namespace {

// ParseHash128 reads FormatHash128's 32 hex digits.
Hash128
ParseHash128(const std::string &hex) {
	if (hex.size() != kHash128HexSize)
		throw std::invalid_argument("row hash \"" + hex + "\" is not 32 hex digits");
	Hash128 hash;
	for (std::size_t i = 0; i < kHash128HexSize; ++i) {
		char c = hex[i];
		std::uint64_t digit;
		if (c >= '0' && c <= '9')
			digit = static_cast<std::uint64_t>(c - '0');
		else if (c >= 'a' && c <= 'f')
			digit = static_cast<std::uint64_t>(c - 'a' + 10);
		else
			throw std::invalid_argument("row hash \"" + hex + "\" is not 32 hex digits");
		std::uint64_t &half = i < kHash128HexSize / 2 ? hash.high : hash.low;
		half = (half << 4) | digit;
	}
	return hash;
}

// WrittenAsJsonScalar tells whether the plugin writes a value of base type type with text text as a bare JSON
// number or boolean (docs/protocol.md section 8).
bool
WrittenAsJsonScalar(const std::string &type, const std::string &text) {
	PgColumnType column = ClassifyPgType(type);
	if (column.dims > 0)
		return false;
	switch (column.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
	case PgTypeKind::Bool:
		return true;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return text != "NaN" && text != "Infinity" && text != "-Infinity";
	default:
		return false;
	}
}

} // namespace

int
ResyncBucketCount(long long rows) noexcept {
	long long buckets = rows / kResyncRowsPerBucket;
	return static_cast<int>(std::clamp<long long>(buckets, 1, kResyncMaxBuckets));
}

int
KeyBucket(std::string_view key_text, int buckets) {
	std::vector<CanonicalColumn> row;
	row.push_back({"k", std::string(key_text)});
	std::string encoded = EncodeCanonicalRow(std::move(row));
	Hash128 hash = CanonicalRowHash(encoded.data(), encoded.size());
	// the first 8 hex digits FormatHash128 writes, as the source's SQL reads them
	std::uint32_t top = static_cast<std::uint32_t>(hash.high >> 32);
	return static_cast<int>(top % static_cast<std::uint32_t>(buckets));
}

std::string
KeyBucketSql(const std::string &key_row, int buckets) {
	return "(('x' || substr(mosta.canonical_row_hash(" + key_row + ".*), 1, 8))::bit(32)::bigint % " +
		   std::to_string(buckets) + ")::int";
}

BucketSums
TargetBucketSums(const std::map<std::string, std::string> &hashes, int buckets) {
	std::map<int, ChecksumState> states;
	for (const auto &[key, hash] : hashes)
		states[KeyBucket(key, buckets)].Add(ParseHash128(hash));
	BucketSums sums;
	for (const auto &[bucket, state] : states)
		sums[bucket] = {static_cast<long long>(state.rows), state.Text()};
	return sums;
}

std::set<int>
DifferingBuckets(const BucketSums &source, const BucketSums &target) {
	std::set<int> differing;
	for (const auto &[bucket, sum] : source) {
		auto other = target.find(bucket);
		if (other == target.end() || !(other->second == sum))
			differing.insert(bucket);
	}
	for (const auto &[bucket, sum] : target)
		if (source.count(bucket) == 0)
			differing.insert(bucket);
	return differing;
}

KeyDiff
DiffKeys(const std::map<std::string, std::string> &source, const std::map<std::string, std::string> &target,
		 const std::set<int> &differing, int buckets) {
	KeyDiff diff;
	for (const auto &[key, hash] : target) {
		auto other = source.find(key);
		if (other == source.end()) {
			if (differing.count(KeyBucket(key, buckets)) == 0)
				continue;
			++diff.extra;
			diff.remove.push_back(key);
		} else if (other->second != hash) {
			++diff.different;
			diff.remove.push_back(key);
			diff.write.push_back(key);
		}
	}
	for (const auto &[key, hash] : source) {
		if (target.count(key) == 0) {
			++diff.missing;
			diff.write.push_back(key);
		}
	}
	std::sort(diff.write.begin(), diff.write.end());
	return diff;
}

std::vector<std::optional<std::string>>
SplitKeyText(std::string_view key_text) {
	std::vector<std::optional<std::string>> values;
	std::string current;
	bool null_value = false;
	for (std::size_t i = 0; i < key_text.size(); ++i) {
		char c = key_text[i];
		if (c == ',') {
			values.push_back(null_value ? std::nullopt : std::optional<std::string>(current));
			current.clear();
			null_value = false;
		} else if (c == '\\') {
			if (i + 1 == key_text.size())
				throw std::invalid_argument("key text ends with a lone '\\'");
			char next = key_text[++i];
			if (next == 'N' && current.empty())
				null_value = true;
			else
				current += next;
		} else {
			current += c;
		}
	}
	values.push_back(null_value ? std::nullopt : std::optional<std::string>(current));
	return values;
}

std::string
DeleteDocument(std::string_view schema, std::string_view table, const std::vector<std::string> &key,
			   const std::vector<std::string> &key_types, std::string_view key_text, std::string_view types) {
	std::vector<std::optional<std::string>> values = SplitKeyText(key_text);
	if (values.size() != key.size() || key_types.size() != key.size())
		throw std::invalid_argument("key text \"" + std::string(key_text) + "\" has " + std::to_string(values.size()) +
									" value(s) for " + std::to_string(key.size()) + " key column(s)");
	std::string names, old;
	for (std::size_t i = 0; i < key.size(); ++i) {
		if (!values[i])
			throw std::invalid_argument("key text \"" + std::string(key_text) + "\" has a NULL key value");
		names += (i == 0 ? "" : ",") + JsonQuote(key[i]);
		old += (i == 0 ? "" : ",") + JsonQuote(key[i]) + ":" +
			   (WrittenAsJsonScalar(key_types[i], *values[i]) ? *values[i] : JsonQuote(*values[i]));
	}
	std::string document = R"({"op":"delete","schema":)" + JsonQuote(schema) + R"(,"table":)" + JsonQuote(table) +
						   R"(,"key":[)" + names + R"(],"old":{)" + old + "}";
	if (!types.empty())
		document += R"(,"types":)" + std::string(types);
	return document + "}";
}

} // namespace mosta::sidecar
