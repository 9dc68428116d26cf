// A tiny ACPI Machine Language encoder: just the opcodes our DSDT needs
// (ACPI 6.x chapter 20 for AML, 6.4 for resource descriptors). Every
// function returns the encoded bytes; callers concatenate them.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace vmm::boot::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength for `payload` bytes that follow it. The encoded length counts the
// PkgLength bytes themselves, so the size of the encoding (1..4 bytes)
// depends on the total. Throws BootError above 2^28 - 1.
Bytes pkg_length(size_t payload);

Bytes integer(uint64_t v);                 // ZeroOp/OneOp/Byte/Word/DWord/QWordPrefix
Bytes string(std::string_view s);          // StringPrefix ... NUL
Bytes eisa_id(std::string_view id);        // "PNP0501" -> DWord 0x0105D041
// "\\_SB_.COM1", "_HID", "\\_S5": segments are padded to 4 characters with '_'.
Bytes name_string(std::string_view path);

Bytes name(std::string_view n, const Bytes& value);                 // NameOp
Bytes package(const std::vector<Bytes>& elements);                  // PackageOp
Bytes scope(std::string_view n, const std::vector<Bytes>& body);    // ScopeOp
Bytes device(std::string_view n, const std::vector<Bytes>& body);   // ExtOp DeviceOp
Bytes buffer(const Bytes& data);                                    // BufferOp
// A Buffer holding the descriptors followed by an End Tag.
Bytes resource_template(const std::vector<Bytes>& descriptors);

// Resource descriptors.
Bytes io(uint16_t min, uint16_t max, uint8_t align, uint8_t len);   // Decode16
Bytes irq_no_flags(uint8_t irq);                                    // edge, active high, exclusive
Bytes memory32_fixed(bool read_write, uint32_t base, uint32_t len);
Bytes interrupt(bool consumer, bool edge, bool active_low, bool shared, uint32_t gsi);  // Extended Interrupt

}  // namespace vmm::boot::aml
