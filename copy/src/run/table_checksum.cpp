/*
 * table_checksum.cpp
 *     The streaming canonical checksum of a table (table_checksum.hpp).
 */
#include "run/table_checksum.hpp"

#include <algorithm>

#include "io/source.hpp"

namespace mosta::copy {

TableChecksum::TableChecksum(const TableDef &table) {
	std::vector<std::size_t> copied = table.CopiedColumns();
	for (std::size_t field = 0; field < copied.size(); ++field) {
		const std::string &name = table.columns[copied[field]].name;
		unsigned char length[4];
		EncodeLength(static_cast<std::uint32_t>(name.size()), length);
		columns_.push_back({field, std::string(reinterpret_cast<const char *>(length), 4) + name});
	}
	// the names' bytes, unsigned, as EncodeCanonicalRow sorts them (std::string compares as memcmp)
	std::sort(columns_.begin(), columns_.end(), [](const Column &a, const Column &b) {
		return std::string_view(a.prefix).substr(4) < std::string_view(b.prefix).substr(4);
	});
}

void
TableChecksum::Add(const RowBatch &batch) {
	if (batch.Form() != ValueForm::Canonical)
		throw CopyError("internal error: a checksum is computed from canonical values");
	const std::size_t rows = batch.Rows();
	for (std::size_t row = 0; row < rows; ++row) {
		buffer_.clear();
		for (const Column &column : columns_) {
			buffer_ += column.prefix;
			std::optional<std::string_view> value = batch.Field(row, column.field);
			if (!value) {
				buffer_ += 'N';
				continue;
			}
			unsigned char length[4];
			EncodeLength(static_cast<std::uint32_t>(value->size()), length);
			buffer_ += 'V';
			buffer_.append(reinterpret_cast<const char *>(length), 4);
			buffer_ += *value;
		}
		state_.Add(CanonicalRowHash(buffer_.data(), buffer_.size()));
	}
}

} // namespace mosta::copy
