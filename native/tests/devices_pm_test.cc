// ACPI PM1a event/control block, reset register, debug console.
#include <string>

#include "check.h"
#include "core/platform.h"
#include "devices/debugcon.h"
#include "devices/pm.h"

namespace {
struct Acpi {
    int poweroffs = 0;
    bool sci = false;
    vmm::Pm dev{vmm::IrqLine(9, [this](uint32_t, bool l) { sci = l; }), [this] { ++poweroffs; }};
    uint16_t rd(uint64_t off) { uint16_t v = 0; dev.read(off, reinterpret_cast<uint8_t*>(&v), 2); return v; }
    void wr(uint64_t off, uint16_t v) { dev.write(off, reinterpret_cast<const uint8_t*>(&v), 2); }
};
}  // namespace

TEST(pm_s5_powers_off) {
    Acpi a;
    CHECK_EQ(a.rd(4) & 1, 1);   // SCI_EN always on
    a.wr(4, 1 | (vmm::platform::kSlpTypS5 << 10));   // SLP_TYP without SLP_EN
    CHECK_EQ(a.poweroffs, 0);
    CHECK_EQ(a.rd(4), 1 | (5 << 10));
    a.wr(4, vmm::platform::kSlpEn | (0 << 10));      // S0 + SLP_EN: nothing
    CHECK_EQ(a.poweroffs, 0);
    a.wr(4, vmm::platform::kSlpEn | (vmm::platform::kSlpTypS5 << 10) | 1);
    CHECK_EQ(a.poweroffs, 1);
    CHECK_EQ(a.rd(4) & vmm::platform::kSlpEn, 0);    // SLP_EN is write-only
    // The high byte alone, as a byte-wide OUT.
    uint8_t hi = static_cast<uint8_t>((vmm::platform::kSlpEn | (vmm::platform::kSlpTypS5 << 10)) >> 8);
    a.dev.write(5, &hi, 1);
    CHECK_EQ(a.poweroffs, 2);
    // Past the window: ignored, reads all ones.
    a.dev.write(6, &hi, 1);
    CHECK_EQ(a.poweroffs, 2);
    CHECK_EQ(a.rd(6), 0xFFFF);
    CHECK_EQ(a.rd(5) & 0xFF, 0x14);   // PM1_CNT high byte, then beyond the window
}

TEST(pm_power_button_sci_and_status_w1c) {
    Acpi a;
    a.dev.power_button();
    CHECK_EQ(a.rd(0), vmm::Pm::kPwrBtnSts);
    CHECK(!a.sci);                   // not enabled yet
    a.wr(2, vmm::Pm::kPwrBtnSts);    // PWRBTN_EN
    CHECK_EQ(a.rd(2), vmm::Pm::kPwrBtnSts);
    CHECK(a.sci);
    a.wr(0, 0x0001);                 // clearing another bit changes nothing
    CHECK(a.sci);
    a.wr(0, vmm::Pm::kPwrBtnSts);    // write 1 to clear
    CHECK_EQ(a.rd(0), 0);
    CHECK(!a.sci);
    uint32_t both = 0;
    a.dev.read(0, reinterpret_cast<uint8_t*>(&both), 4);
    CHECK_EQ(both, 0x01000000u);     // STS 0, EN = PWRBTN
}

TEST(pm_reset_register) {
    int resets = 0;
    vmm::ResetRegister r([&] { ++resets; });
    uint8_t v = 0x02;
    r.write(0, &v, 1);
    CHECK_EQ(resets, 0);
    r.read(0, &v, 1);
    CHECK_EQ(v, 0x02);
    v = 0x06;
    r.write(0, &v, 1);
    CHECK_EQ(resets, 1);
    r.write(1, &v, 1);
    CHECK_EQ(resets, 1);
}

TEST(debugcon_forwards_bytes) {
    std::string got;
    vmm::DebugCon d([&](const uint8_t* p, size_t n) { got.append(reinterpret_cast<const char*>(p), n); });
    for (char c : std::string("hi\n")) {
        uint8_t b = static_cast<uint8_t>(c);
        d.write(0, &b, 1);
    }
    CHECK(got == "hi\n");
    uint8_t v = 0;
    d.read(0, &v, 1);
    CHECK_EQ(v, 0xE9);
}

FUZZ_TARGET(fuzz_pm) {
    vmm::Pm pm(vmm::IrqLine(9, [](uint32_t, bool) {}), [] {});
    vmm::ResetRegister rst([] {});
    vmm::DebugCon dbg([](const uint8_t*, size_t) {});
    static const uint32_t sizes[4] = {1, 2, 4, 8};
    size_t i = 0;
    auto next = [&] { return i < size ? data[i++] : uint8_t{0}; };
    while (i < size) {
        uint8_t op = next();
        uint64_t off = next();
        if (off >= 0xF0) off = ~0ull - (off & 7);
        else off &= 0x0F;
        uint32_t sz = sizes[op >> 6];
        uint8_t buf[8];
        for (auto& b : buf) b = next();
        vmm::Device* dev = (op & 0x0C) == 0 ? static_cast<vmm::Device*>(&rst)
                         : (op & 0x0C) == 4 ? static_cast<vmm::Device*>(&dbg)
                                            : static_cast<vmm::Device*>(&pm);
        switch (op & 3) {
            case 0: dev->read(off, buf, sz); break;
            case 1: case 2: dev->write(off, buf, sz); break;
            default: pm.power_button(); break;
        }
    }
}
