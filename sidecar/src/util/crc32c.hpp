/*
 * crc32c.hpp
 *     CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and PostgreSQL's WAL) in software, slicing by 8 bytes:
 *     the SQL dump's checkpoint lines carry the running CRC of the file up to them, so that a reopen finds a
 *     damaged byte anywhere in the file.
 */
#pragma once

#include <cstdint>
#include <string_view>

namespace mosta::sidecar {

// Crc32cExtend returns the CRC-32C of the bytes that gave crc followed by data (Crc32cExtend(0, "") == 0, and
// Crc32cExtend(Crc32cExtend(0, a), b) == Crc32cExtend(0, a + b)).
std::uint32_t Crc32cExtend(std::uint32_t crc, std::string_view data) noexcept;

} // namespace mosta::sidecar
