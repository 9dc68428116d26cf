#include "boot/aml.h"

#include "boot/boot.h"

namespace vmm::boot::aml {

namespace {

void append(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

void le(Bytes& out, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Opcode + PkgLength + body: the shape of every variable-length AML object.
Bytes with_pkg(const Bytes& op, const Bytes& body) {
    Bytes out = op;
    append(out, pkg_length(body.size()));
    append(out, body);
    return out;
}

bool name_char(char c, bool first) {
    return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void name_seg(Bytes& out, std::string_view seg) {
    if (seg.empty() || seg.size() > 4) throw BootError("acpi: bad AML name segment '" + std::string(seg) + "'");
    for (size_t i = 0; i < 4; ++i) {
        char c = i < seg.size() ? seg[i] : '_';
        if (!name_char(c, i == 0)) throw BootError("acpi: bad AML name segment '" + std::string(seg) + "'");
        out.push_back(static_cast<uint8_t>(c));
    }
}

}  // namespace

Bytes pkg_length(size_t payload) {
    // One byte holds 6 bits; with 1..3 extra bytes the lead byte keeps 4 bits.
    if (payload + 1 <= 0x3F) return {static_cast<uint8_t>(payload + 1)};
    for (size_t extra = 1; extra <= 3; ++extra) {
        uint64_t total = payload + 1 + extra;
        if (total < (1ULL << (4 + 8 * extra))) {
            Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0xF))};
            for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
            return out;
        }
    }
    throw BootError("acpi: AML package too large");
}

Bytes integer(uint64_t v) {
    Bytes out;
    if (v == 0) return {0x00};   // ZeroOp
    if (v == 1) return {0x01};   // OneOp
    if (v <= 0xFF) { out.push_back(0x0A); le(out, v, 1); }
    else if (v <= 0xFFFF) { out.push_back(0x0B); le(out, v, 2); }
    else if (v <= 0xFFFFFFFF) { out.push_back(0x0C); le(out, v, 4); }
    else { out.push_back(0x0E); le(out, v, 8); }
    return out;
}

Bytes string(std::string_view s) {
    Bytes out{0x0D};
    for (char c : s) {
        if (static_cast<unsigned char>(c) - 1u >= 0x7Fu) throw BootError("acpi: AML strings are ASCII without NUL");
        out.push_back(static_cast<uint8_t>(c));
    }
    out.push_back(0);
    return out;
}

Bytes eisa_id(std::string_view id) {
    // Three letters in 5 bits each, then four hex digits; stored big-endian.
    auto hexval = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bool ok = id.size() == 7;
    for (size_t i = 0; ok && i < 3; ++i) ok = id[i] >= 'A' && id[i] <= 'Z';
    for (size_t i = 3; ok && i < 7; ++i) ok = hexval(id[i]) >= 0;
    if (!ok) throw BootError("acpi: bad EISA id '" + std::string(id) + "'");
    uint32_t vendor = ((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40);
    uint32_t product = (hexval(id[3]) << 12) | (hexval(id[4]) << 8) | (hexval(id[5]) << 4) | hexval(id[6]);
    uint32_t v = ((vendor >> 8) & 0xFF) | ((vendor & 0xFF) << 8) | (((product >> 8) & 0xFF) << 16) | ((product & 0xFF) << 24);
    Bytes out{0x0C};
    le(out, v, 4);
    return out;
}

Bytes name_string(std::string_view path) {
    Bytes out;
    if (!path.empty() && path[0] == '\\') {
        out.push_back('\\');
        path.remove_prefix(1);
    }
    std::vector<std::string_view> segs;
    while (!path.empty()) {
        size_t dot = path.find('.');
        segs.push_back(path.substr(0, dot));
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
        if (path.empty()) throw BootError("acpi: bad AML name path");
    }
    if (segs.empty()) { out.push_back(0x00); return out; }  // NullName
    if (segs.size() == 2) out.push_back(0x2E);                // DualNamePrefix
    else if (segs.size() > 2) {
        if (segs.size() > 255) throw BootError("acpi: AML name path too long");
        out.push_back(0x2F);                                  // MultiNamePrefix
        out.push_back(static_cast<uint8_t>(segs.size()));
    }
    for (auto s : segs) name_seg(out, s);
    return out;
}

Bytes name(std::string_view n, const Bytes& value) {
    Bytes out{0x08};
    append(out, name_string(n));
    append(out, value);
    return out;
}

Bytes package(const std::vector<Bytes>& elements) {
    if (elements.size() > 255) throw BootError("acpi: AML package has too many elements");
    Bytes body{static_cast<uint8_t>(elements.size())};
    for (const auto& e : elements) append(body, e);
    return with_pkg({0x12}, body);
}

Bytes scope(std::string_view n, const std::vector<Bytes>& body_parts) {
    Bytes body = name_string(n);
    for (const auto& b : body_parts) append(body, b);
    return with_pkg({0x10}, body);
}

Bytes device(std::string_view n, const std::vector<Bytes>& body_parts) {
    Bytes body = name_string(n);
    for (const auto& b : body_parts) append(body, b);
    return with_pkg({0x5B, 0x82}, body);
}

Bytes buffer(const Bytes& data) {
    Bytes body = integer(data.size());
    append(body, data);
    return with_pkg({0x11}, body);
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
    Bytes data;
    for (const auto& d : descriptors) append(data, d);
    // End Tag; checksum 0 means "treat as valid" (what iasl emits).
    data.push_back(0x79);
    data.push_back(0x00);
    return buffer(data);
}

Bytes io(uint16_t min, uint16_t max, uint8_t align, uint8_t len) {
    Bytes out{0x47, 0x01};  // small item 0x08, length 7; 16-bit decode
    le(out, min, 2);
    le(out, max, 2);
    out.push_back(align);
    out.push_back(len);
    return out;
}

Bytes irq_no_flags(uint8_t irq) {
    if (irq > 15) throw BootError("acpi: IRQ descriptor only covers IRQ 0-15");
    Bytes out{0x22};  // small item 0x04, length 2 (no information byte)
    le(out, 1u << irq, 2);
    return out;
}

Bytes memory32_fixed(bool read_write, uint32_t base, uint32_t len) {
    Bytes out{0x86, 0x09, 0x00, static_cast<uint8_t>(read_write ? 1 : 0)};
    le(out, base, 4);
    le(out, len, 4);
    return out;
}

Bytes interrupt(bool consumer, bool edge, bool active_low, bool shared, uint32_t gsi) {
    uint8_t flags = static_cast<uint8_t>((consumer ? 1 : 0) | (edge ? 2 : 0) | (active_low ? 4 : 0) | (shared ? 8 : 0));
    Bytes out{0x89, 0x06, 0x00, flags, 0x01};  // large item 0x09, one interrupt
    le(out, gsi, 4);
    return out;
}

}  // namespace vmm::boot::aml
