#include "virtio/block.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "virtio/queue.h"

namespace vmm::virtio {

namespace {

constexpr uint64_t kSector = 512;
constexpr uint32_t kMaxDiscardSectors = 0x3fffff;  // 2 GiB - 512 per range
constexpr uint32_t kMaxDiscardSeg = 1;

struct ReqHeader {
    uint32_t type;
    uint32_t ioprio;
    uint64_t sector;
};
static_assert(sizeof(ReqHeader) == 16);

struct DiscardRange {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;  // bit 0: unmap (write-zeroes only)
};
static_assert(sizeof(DiscardRange) == 16);

bool full_pread(int fd, uint8_t* p, size_t n, uint64_t off) {
    while (n) {
        ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r; n -= r; off += r;
    }
    return true;
}

bool full_pwrite(int fd, const uint8_t* p, size_t n, uint64_t off) {
    while (n) {
        ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r; n -= r; off += r;
    }
    return true;
}

// [sector, sector + count) inside a disk of `cap` sectors, without overflow.
bool in_range(uint64_t sector, uint64_t count, uint64_t cap) {
    return sector <= cap && count <= cap - sector;
}

}  // namespace

std::shared_ptr<BlockDevice> BlockDevice::open(const std::string& path, bool read_only,
                                               const std::string& serial, std::string* error) {
    int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        if (error) *error = "open " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    return std::make_shared<BlockDevice>(fd, read_only, serial);
}

BlockDevice::BlockDevice(int fd, bool read_only, std::string serial)
    : fd_(fd), read_only_(read_only), serial_(std::move(serial)), capacity_(0) {
    if (serial_.size() > kBlkIdBytes) serial_.resize(kBlkIdBytes);
    struct stat st{};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0) {
        uint64_t bytes = static_cast<uint64_t>(st.st_size);
        if (S_ISBLK(st.st_mode)) {
            off_t end = ::lseek(fd_, 0, SEEK_END);
            bytes = end > 0 ? static_cast<uint64_t>(end) : 0;
        }
        capacity_ = bytes / kSector;  // a trailing partial sector is not exposed
    }
}

BlockDevice::~BlockDevice() {
    if (fd_ >= 0) ::close(fd_);
}

uint64_t BlockDevice::features() const {
    uint64_t f = kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kBlkFSegMax | kBlkFBlkSize |
                 kBlkFFlush;
    if (read_only_) f |= kBlkFRo;
    else f |= kBlkFDiscard | kBlkFWriteZeroes;
    return f;
}

void BlockDevice::read_config(uint64_t offset, uint8_t* data, uint32_t size) {
    // struct virtio_blk_config, up to write_zeroes_may_unmap.
    uint8_t cfg[0x3c] = {};
    auto put32 = [&](size_t off, uint32_t v) { std::memcpy(cfg + off, &v, 4); };
    std::memcpy(cfg + 0x00, &capacity_, 8);
    put32(0x0c, kBlkSegMax);
    put32(0x14, kSector);  // blk_size
    put32(0x24, kMaxDiscardSectors);
    put32(0x28, kMaxDiscardSeg);
    put32(0x2c, 8);  // discard alignment in sectors: 4 KiB, what hole punching frees
    put32(0x30, kMaxDiscardSectors);
    put32(0x34, kMaxDiscardSeg);
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t o = offset + i;
        data[i] = (o >= offset && o < sizeof cfg) ? cfg[o] : 0;
    }
}

void BlockDevice::activate(Transport& t) {
    transport_ = &t;
    acked_ = t.acked_features();
}

void BlockDevice::reset() {
    transport_ = nullptr;
    acked_ = 0;
}

void BlockDevice::on_queue_notify(uint16_t index) {
    if (index == 0 && transport_) process_queue();
}

void BlockDevice::process_queue() {
    Queue& q = transport_->queue(0);
    for (;;) {
        while (auto c = q.pop()) {
            uint32_t used = 0;
            process_request(*c, used);
            q.add_used(c->head, used);
        }
        if (!q.enable_notification()) break;
    }
    transport_->signal_used(0);
}

uint8_t BlockDevice::process_request(const DescriptorChain& c, uint32_t& used_len) {
    used_len = 0;
    // Status: the last byte of the last segment, which must be device-writable.
    if (c.segments.empty() || !c.segments.back().writable) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        return 0xff;
    }
    const Segment& last = c.segments.back();
    uint8_t* status = last.bytes.data() + last.len - 1;
    uint64_t readable = c.readable_len();
    uint64_t writable = c.writable_len() - 1;  // data bytes before the status byte

    uint8_t st = kBlkSIoErr;
    uint32_t data_written = 0;
    ReqHeader h{};
    if (readable < sizeof h || c.read(0, &h, sizeof h) != sizeof h) {
        st = kBlkSIoErr;
    } else {
        uint64_t in_data = readable - sizeof h;
        switch (h.type) {
            case kBlkTIn:
                st = in_data == 0 ? do_read(h.sector, c, writable, data_written) : kBlkSIoErr;
                break;
            case kBlkTOut:
                st = writable == 0 ? do_write(h.sector, c, in_data) : kBlkSIoErr;
                break;
            case kBlkTFlush:
                flush_ops_.fetch_add(1, std::memory_order_relaxed);
                st = ::fdatasync(fd_) == 0 ? kBlkSOk : kBlkSIoErr;
                break;
            case kBlkTGetId: {
                uint8_t id[kBlkIdBytes] = {};
                std::memcpy(id, serial_.data(), serial_.size());
                uint64_t n = writable < kBlkIdBytes ? writable : kBlkIdBytes;
                data_written = static_cast<uint32_t>(c.write(0, id, n));
                st = kBlkSOk;
                break;
            }
            case kBlkTDiscard:
                st = (acked_ & kBlkFDiscard) && writable == 0 ? do_discard(c, in_data, false) : kBlkSUnsupp;
                break;
            case kBlkTWriteZeroes:
                st = (acked_ & kBlkFWriteZeroes) && writable == 0 ? do_discard(c, in_data, true) : kBlkSUnsupp;
                break;
            default:
                st = kBlkSUnsupp;
        }
    }
    if (st != kBlkSOk) errors_.fetch_add(1, std::memory_order_relaxed);
    *status = st;
    used_len = data_written + 1;
    return st;
}

uint8_t BlockDevice::do_read(uint64_t sector, const DescriptorChain& c, uint64_t len, uint32_t& written) {
    if (len % kSector != 0 || !in_range(sector, len / kSector, capacity_)) return kBlkSIoErr;
    uint64_t off = sector * kSector;
    uint64_t left = len;
    for (const auto& s : c.segments) {
        if (!s.writable || left == 0) continue;
        uint64_t n = s.len < left ? s.len : left;  // the status byte is not data
        if (!full_pread(fd_, s.bytes.data(), n, off)) return kBlkSIoErr;
        off += n;
        left -= n;
        written += static_cast<uint32_t>(n);
    }
    read_ops_.fetch_add(1, std::memory_order_relaxed);
    read_bytes_.fetch_add(len, std::memory_order_relaxed);
    return kBlkSOk;
}

uint8_t BlockDevice::do_write(uint64_t sector, const DescriptorChain& c, uint64_t len) {
    if (read_only_) return kBlkSIoErr;
    if (len % kSector != 0 || !in_range(sector, len / kSector, capacity_)) return kBlkSIoErr;
    uint64_t off = sector * kSector;
    uint64_t skip = sizeof(ReqHeader);
    for (const auto& s : c.segments) {
        if (s.writable) continue;
        if (skip >= s.len) { skip -= s.len; continue; }
        uint64_t n = s.len - skip;
        if (!full_pwrite(fd_, s.bytes.data() + skip, n, off)) return kBlkSIoErr;
        off += n;
        skip = 0;
    }
    write_ops_.fetch_add(1, std::memory_order_relaxed);
    write_bytes_.fetch_add(len, std::memory_order_relaxed);
    return kBlkSOk;
}

uint8_t BlockDevice::do_discard(const DescriptorChain& c, uint64_t len, bool zeroes) {
    if (read_only_) return kBlkSIoErr;
    if (len == 0 || len % sizeof(DiscardRange) != 0 || len / sizeof(DiscardRange) > kMaxDiscardSeg)
        return kBlkSIoErr;
    // Validate every range before touching the file.
    std::vector<DiscardRange> ranges(len / sizeof(DiscardRange));
    for (size_t i = 0; i < ranges.size(); ++i) {
        DiscardRange& r = ranges[i];
        c.read(sizeof(ReqHeader) + i * sizeof r, &r, sizeof r);
        if (r.flags & ~(zeroes ? 1u : 0u)) return kBlkSUnsupp;
        if (r.num_sectors > kMaxDiscardSectors || !in_range(r.sector, r.num_sectors, capacity_)) return kBlkSIoErr;
    }
    for (const auto& r : ranges) {
        off_t off = static_cast<off_t>(r.sector * kSector);
        off_t n = static_cast<off_t>(uint64_t{r.num_sectors} * kSector);
        if (n == 0) continue;
        if (!zeroes) {
            // Discard is a hint: a filesystem without hole punching just keeps the data.
            ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n);
            continue;
        }
        if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, n) == 0) continue;
        if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n) == 0) continue;
        static const uint8_t zero[64 * 1024] = {};
        for (off_t done = 0; done < n;) {
            size_t chunk = static_cast<size_t>(std::min<off_t>(n - done, sizeof zero));
            if (!full_pwrite(fd_, zero, chunk, static_cast<uint64_t>(off + done))) return kBlkSIoErr;
            done += static_cast<off_t>(chunk);
        }
    }
    discard_ops_.fetch_add(1, std::memory_order_relaxed);
    return kBlkSOk;
}

BlockStats BlockDevice::stats() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return BlockStats{r(read_bytes_), r(write_bytes_), r(read_ops_), r(write_ops_),
                      r(flush_ops_), r(discard_ops_), r(errors_)};
}

}  // namespace vmm::virtio
