// virtio-blk against a temporary image file, driven through the MMIO
// registers like Linux does.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "virtio/block.h"
#include "virtio_driver.h"

using namespace vmm::virtio;
using vtest::Rig;

namespace {

constexpr uint64_t kHdr = 0x100000, kData = 0x101000, kStatus = 0x180000;
constexpr uint64_t kWanted = kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kBlkFFlush |
                             kBlkFDiscard | kBlkFWriteZeroes | kBlkFRo | kBlkFSegMax | kBlkFBlkSize;

struct TempImage {
    explicit TempImage(size_t bytes) {
        char p[] = "/tmp/virtio_blk_test_XXXXXX";
        int fd = mkstemp(p);
        path = p;
        std::vector<uint8_t> init(bytes);
        for (size_t i = 0; i < bytes; ++i) init[i] = static_cast<uint8_t>(i * 7 + i / 512);
        (void)!write(fd, init.data(), init.size());
        close(fd);
        contents = init;
    }
    ~TempImage() { unlink(path.c_str()); }
    std::vector<uint8_t> read_all() {
        std::vector<uint8_t> v(contents.size() + 1024);
        int fd = open(path.c_str(), O_RDONLY);
        ssize_t n = pread(fd, v.data(), v.size(), 0);
        close(fd);
        v.resize(n > 0 ? n : 0);
        return v;
    }
    std::string path;
    std::vector<uint8_t> contents;
};

struct BlkRig : Rig<BlockDevice> {
    BlkRig(const std::string& path, bool ro) : Rig(BlockDevice::open(path, ro, "serial-0123456789abcdefXYZ", nullptr)) {}
    // One request: header, optional data (direction by type), status byte.
    uint8_t request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable, uint32_t* used_len = nullptr) {
        ram.put<uint32_t>(kHdr, type);
        ram.put<uint32_t>(kHdr + 4, 0);
        ram.put<uint64_t>(kHdr + 8, sector);
        ram.put<uint8_t>(kStatus, 0xaa);
        std::vector<vtest::DriverQueue::Buf> bufs{{kHdr, 16, false}};
        if (data_len) bufs.push_back({kData, data_len, data_writable});
        bufs.push_back({kStatus, 1, true});
        qs[0].add_chain(bufs);
        drv.notify(0);
        auto u = qs[0].get_used();
        if (!u) return 0xee;
        if (used_len) *used_len = u->second;
        return ram.get<uint8_t>(kStatus);
    }
};

}  // namespace

TEST(virtio_blk_config_and_features) {
    TempImage img(64 * 512 + 100);  // trailing partial sector is not exposed
    BlkRig r(img.path, false);
    CHECK(r.dev != nullptr);
    CHECK_EQ(r.drv.r32(reg::kDeviceId), kIdBlock);
    uint64_t f = r.drv.device_features();
    CHECK(f & kFeatureVersion1);
    CHECK(f & kBlkFFlush);
    CHECK(!(f & kBlkFRo));
    CHECK_EQ(r.drv.cfg32(0), 64u);      // capacity low
    CHECK_EQ(r.drv.cfg32(4), 0u);       // capacity high
    CHECK_EQ(r.drv.cfg32(0x14), 512u);  // blk_size
    CHECK_EQ(r.drv.cfg32(0x0c), kBlkSegMax);
    CHECK_EQ(r.drv.cfg8(0x200), 0);     // past the end
    std::string err;
    CHECK(BlockDevice::open("/nonexistent/x.img", false, "", &err) == nullptr);
    CHECK(!err.empty());
}

TEST(virtio_blk_read_write_flush) {
    TempImage img(64 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted));
    // Read sectors 3..4.
    uint32_t used = 0;
    CHECK_EQ(r.request(kBlkTIn, 3, 1024, true, &used), kBlkSOk);
    CHECK_EQ(used, 1025u);
    CHECK(std::memcmp(r.ram.at(kData), img.contents.data() + 3 * 512, 1024) == 0);
    // Write sector 10.
    for (int i = 0; i < 512; ++i) r.ram.at(kData)[i] = static_cast<uint8_t>(0xc0 ^ i);
    CHECK_EQ(r.request(kBlkTOut, 10, 512, false, &used), kBlkSOk);
    CHECK_EQ(used, 1u);
    auto now = img.read_all();
    CHECK(std::memcmp(now.data() + 10 * 512, r.ram.at(kData), 512) == 0);
    CHECK(std::memcmp(now.data(), img.contents.data(), 10 * 512) == 0);
    CHECK_EQ(r.request(kBlkTFlush, 0, 0, false), kBlkSOk);
    // Last sector is fine; one past is not.
    CHECK_EQ(r.request(kBlkTIn, 63, 512, true), kBlkSOk);
    auto st = r.dev->stats();
    CHECK_EQ(st.write_bytes, 512u);
    CHECK_EQ(st.read_bytes, 1536u);
    CHECK_EQ(st.flush_ops, 1u);
    CHECK(*r.irq.level);
}

TEST(virtio_blk_out_of_range) {
    TempImage img(64 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted));
    std::memset(r.ram.at(kData), 0x77, 4096);
    CHECK_EQ(r.request(kBlkTOut, 64, 512, false), kBlkSIoErr);
    CHECK_EQ(r.request(kBlkTOut, 63, 1024, false), kBlkSIoErr);  // straddles the end
    CHECK_EQ(r.request(kBlkTOut, ~0ULL, 512, false), kBlkSIoErr);
    CHECK_EQ(r.request(kBlkTOut, ~0ULL / 512 + 1, 1024, false), kBlkSIoErr);  // sector*512 overflows
    CHECK_EQ(r.request(kBlkTIn, 64, 512, true), kBlkSIoErr);
    CHECK_EQ(r.request(kBlkTOut, 1, 100, false), kBlkSIoErr);  // not whole sectors
    CHECK(img.read_all() == img.contents);
}

TEST(virtio_blk_read_only) {
    TempImage img(64 * 512);
    BlkRig r(img.path, true);
    CHECK(r.dev->read_only());
    CHECK(r.drv.device_features() & kBlkFRo);
    CHECK(r.bring_up(kWanted));
    std::memset(r.ram.at(kData), 0x55, 512);
    CHECK_EQ(r.request(kBlkTOut, 0, 512, false), kBlkSIoErr);
    CHECK_EQ(r.request(kBlkTWriteZeroes, 0, 0, false), kBlkSUnsupp);  // not offered when RO
    CHECK_EQ(r.request(kBlkTIn, 0, 512, true), kBlkSOk);
    CHECK(img.read_all() == img.contents);
}

TEST(virtio_blk_get_id_and_unsupported) {
    TempImage img(8 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted));
    uint32_t used = 0;
    CHECK_EQ(r.request(kBlkTGetId, 0, 20, true, &used), kBlkSOk);
    CHECK_EQ(used, 21u);
    CHECK(std::memcmp(r.ram.at(kData), "serial-0123456789abc", 20) == 0);
    CHECK_EQ(r.request(99, 0, 0, false), kBlkSUnsupp);
    CHECK_EQ(r.request(kBlkTIn, 0, 512, false), kBlkSIoErr);  // data in the wrong direction
}

TEST(virtio_blk_discard_write_zeroes) {
    TempImage img(64 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted));
    auto range = [&](uint64_t sector, uint32_t n, uint32_t flags) {
        r.ram.put<uint64_t>(kData, sector);
        r.ram.put<uint32_t>(kData + 8, n);
        r.ram.put<uint32_t>(kData + 12, flags);
    };
    range(8, 8, 0);
    CHECK_EQ(r.request(kBlkTWriteZeroes, 0, 16, false), kBlkSOk);
    auto now = img.read_all();
    CHECK_EQ(now.size(), img.contents.size());
    bool zero = true;
    for (int i = 8 * 512; i < 16 * 512; ++i) zero &= now[i] == 0;
    CHECK(zero);
    CHECK(std::memcmp(now.data(), img.contents.data(), 8 * 512) == 0);
    CHECK(std::memcmp(now.data() + 16 * 512, img.contents.data() + 16 * 512, 48 * 512) == 0);
    range(60, 8, 0);
    CHECK_EQ(r.request(kBlkTDiscard, 0, 16, false), kBlkSIoErr);  // beyond capacity
    range(0, 8, 1);
    CHECK_EQ(r.request(kBlkTDiscard, 0, 16, false), kBlkSUnsupp);  // unmap flag on discard
    range(16, 8, 0);
    CHECK_EQ(r.request(kBlkTDiscard, 0, 16, false), kBlkSOk);
}

TEST(virtio_blk_indirect_and_split_segments) {
    TempImage img(64 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted));
    // Read 3 sectors into three uneven pieces, status sharing the last descriptor.
    r.ram.put<uint32_t>(kHdr, kBlkTIn);
    r.ram.put<uint64_t>(kHdr + 8, 5);
    r.qs[0].add_indirect(0x1f0000, {{kHdr, 16, false}, {kData, 100, true}, {kData + 0x1000, 1000, true},
                                    {kData + 0x2000, 437, true}});
    r.drv.notify(0);
    auto u = r.qs[0].get_used();
    CHECK(u.has_value());
    if (u) CHECK_EQ(u->second, 1537u);
    CHECK_EQ(r.ram.get<uint8_t>(kData + 0x2000 + 436), kBlkSOk);
    CHECK(std::memcmp(r.ram.at(kData), img.contents.data() + 5 * 512, 100) == 0);
    CHECK(std::memcmp(r.ram.at(kData + 0x1000), img.contents.data() + 5 * 512 + 100, 1000) == 0);
    CHECK(std::memcmp(r.ram.at(kData + 0x2000), img.contents.data() + 5 * 512 + 1100, 436) == 0);
}

TEST(virtio_blk_malformed_chains) {
    TempImage img(64 * 512);
    BlkRig r(img.path, false);
    CHECK(r.bring_up(kWanted, 8));
    auto& q = r.qs[0];
    // A loop: 0 -> 1 -> 0.
    q.write_desc(0, kHdr, 16, kDescNext, 1);
    q.write_desc(1, kStatus, 1, kDescNext | kDescWrite, 0);
    q.publish(0);
    // Data outside guest RAM.
    q.next_desc = 2;
    r.ram.put<uint32_t>(kHdr, kBlkTOut);
    q.add_chain({{kHdr, 16, false}, {0xfff00000, 512, false}, {kStatus, 1, true}});
    // Nested indirect.
    r.ram.put<uint64_t>(0x1f0000, 0x1f1000);
    r.ram.put<uint32_t>(0x1f0008, 16);
    r.ram.put<uint16_t>(0x1f000c, kDescIndirect);
    q.write_desc(q.next_desc % 8, 0x1f0000, 16, kDescIndirect, 0);
    q.publish(q.next_desc++ % 8);
    // No status byte at all, and a header that is too short.
    q.add_chain({{kHdr, 16, false}});
    q.add_chain({{kHdr, 8, false}, {kStatus, 1, true}});
    r.drv.notify(0);
    int used = 0;
    while (auto u = q.get_used()) ++used;
    CHECK_EQ(used, 5);
    CHECK_EQ(r.ram.get<uint8_t>(kStatus), kBlkSIoErr);  // from the short header
    CHECK(img.read_all() == img.contents);
    // Still serving after all that.
    CHECK_EQ(r.request(kBlkTIn, 0, 512, true), kBlkSOk);
}

// (c) Block request parsing: random chains built over random RAM.
FUZZ_TARGET(virtio_blk_request_fuzz) {
    if (size < 8) return;
    constexpr size_t kRam = 64 * 1024;
    static vtest::FakeRam ram{kRam};
    static std::shared_ptr<BlockDevice> dev[2];
    if (!dev[0]) {
        char p[] = "/tmp/virtio_blk_fuzz_XXXXXX";
        int fd = mkstemp(p);
        unlink(p);
        (void)!ftruncate(fd, 32 * 512);
        dev[0] = std::make_shared<BlockDevice>(fd, false, "fuzz");
        dev[1] = std::make_shared<BlockDevice>(dup(fd), true, "fuzz-ro");
    }
    for (size_t i = 0; i < 4096 && i < kRam; ++i) ram.base[i] = data[i % size];
    DescriptorChain c;
    c.head = 0;
    // Each 6 input bytes: a segment at a random spot with a random length.
    for (size_t i = 1; i + 6 <= size && c.segments.size() < 64; i += 6) {
        uint64_t gpa = (data[i] | data[i + 1] << 8) % kRam;
        uint32_t len = (data[i + 2] | data[i + 3] << 8) % 2048;
        if (data[i + 4] & 0x80) len = 16;
        bool w = data[i + 5] & 1;
        auto s = ram.mem.span(gpa, len);
        if (!s || len == 0) continue;
        c.segments.push_back({gpa, len, w, *s});
    }
    uint32_t used = 0;
    dev[data[0] & 1]->process_request(c, used);
    if (used > c.writable_len()) std::abort();
}
