#include "virtio/queue.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace vmm::virtio {

namespace {

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Desc) == 16);

// Ring indices are shared with vCPUs on other host threads. Addresses were
// checked for alignment in enable(), so atomic_ref on them is well-formed.
uint16_t load_u16(uint8_t* p, std::memory_order mo) {
    return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).load(mo);
}
void store_u16(uint8_t* p, uint16_t v, std::memory_order mo) {
    std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, mo);
}

}  // namespace

uint64_t DescriptorChain::readable_len() const {
    uint64_t n = 0;
    for (const auto& s : segments) if (!s.writable) n += s.len;
    return n;
}

uint64_t DescriptorChain::writable_len() const {
    uint64_t n = 0;
    for (const auto& s : segments) if (s.writable) n += s.len;
    return n;
}

size_t DescriptorChain::read(uint64_t offset, void* dst, size_t len) const {
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    for (const auto& s : segments) {
        if (s.writable || done == len) continue;
        if (offset >= s.len) { offset -= s.len; continue; }
        size_t n = std::min<uint64_t>(s.len - offset, len - done);
        std::memcpy(out + done, s.bytes.data() + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t DescriptorChain::write(uint64_t offset, const void* src, size_t len) const {
    auto* in = static_cast<const uint8_t*>(src);
    size_t done = 0;
    for (const auto& s : segments) {
        if (!s.writable || done == len) continue;
        if (offset >= s.len) { offset -= s.len; continue; }
        size_t n = std::min<uint64_t>(s.len - offset, len - done);
        std::memcpy(s.bytes.data() + offset, in + done, n);
        done += n;
        offset = 0;
    }
    return done;
}

Queue::Queue(uint16_t max_size) : max_size_(max_size ? max_size : 1) {}

bool Queue::enable(const GuestMemory* mem, bool indirect, bool event_idx) {
    ready_ = false;
    if (!mem || size == 0 || size > max_size_ || (size & (size - 1)) != 0) return false;
    if (desc_addr % 16 || avail_addr % 2 || used_addr % 4) return false;
    uint64_t n = size;
    // Event-index words are always counted in, as the spec's sizes do.
    if (!mem->ptr(desc_addr, 16 * n) || !mem->ptr(avail_addr, 6 + 2 * n) || !mem->ptr(used_addr, 6 + 8 * n))
        return false;
    mem_ = mem;
    indirect_ = indirect;
    event_idx_ = event_idx;
    next_avail_ = 0;
    next_used_ = 0;
    signalled_used_ = 0;
    signalled_valid_ = false;
    broken_ = false;
    ready_ = true;
    return true;
}

void Queue::reset() {
    size = 0;
    desc_addr = avail_addr = used_addr = 0;
    mem_ = nullptr;
    ready_ = broken_ = indirect_ = event_idx_ = false;
    next_avail_ = next_used_ = signalled_used_ = 0;
    signalled_valid_ = false;
}

bool Queue::read_avail_idx(uint16_t& out) {
    uint8_t* p = mem_->ptr(avail_addr + 2, 2);
    if (!p) return false;
    // Acquire pairs with the driver's write barrier before it bumps idx:
    // ring entries and descriptors read after this are the published ones.
    out = load_u16(p, std::memory_order_acquire);
    return true;
}

bool Queue::has_available() {
    if (!ready_ || broken_) return false;
    uint16_t idx;
    if (!read_avail_idx(idx)) return false;
    return idx != next_avail_;
}

std::optional<DescriptorChain> Queue::pop() {
    if (!ready_ || broken_) return std::nullopt;
    // At most `size` malformed chains skipped per call, so a driver can't pin us here.
    for (uint32_t tries = 0; tries < size; ++tries) {
        uint16_t avail_idx;
        if (!read_avail_idx(avail_idx)) return std::nullopt;
        uint16_t pending = static_cast<uint16_t>(avail_idx - next_avail_);
        if (pending == 0) return std::nullopt;
        if (pending > size) {  // the driver claims more buffers than the ring holds
            broken_ = true;
            return std::nullopt;
        }
        uint16_t head;
        if (!mem_->load(avail_addr + 4 + 2ULL * (next_avail_ & (size - 1)), head)) return std::nullopt;
        ++next_avail_;
        if (head >= size) {  // cannot even be returned on the used ring
            broken_ = true;
            return std::nullopt;
        }
        DescriptorChain c;
        c.head = head;
        if (parse_chain(head, c)) return c;
        ++malformed_;
        add_used(head, 0);
    }
    return std::nullopt;
}

void Queue::undo_pop() { --next_avail_; }

bool Queue::add_segment(DescriptorChain& c, uint64_t addr, uint32_t len, bool writable, bool& seen_writable) {
    if (!writable && seen_writable) return false;  // readable after writable: not a valid layout
    seen_writable |= writable;
    if (len == 0) return true;
    auto span = mem_->span(addr, len);
    if (!span) return false;
    c.segments.push_back(Segment{addr, len, writable, *span});
    return true;
}

bool Queue::parse_chain(uint16_t head, DescriptorChain& c) {
    bool seen_writable = false;
    uint16_t idx = head;
    // A chain visits each descriptor of the table at most once; more means a loop.
    for (uint32_t count = 1;; ++count) {
        if (count > size) return false;
        Desc d;
        if (!mem_->read(desc_addr + 16ULL * idx, &d, sizeof d)) return false;
        if (d.flags & kDescIndirect) {
            if (!indirect_ || (d.flags & kDescNext)) return false;
            if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > kMaxIndirectEntries) return false;
            if (!mem_->ptr(d.addr, d.len)) return false;
            uint32_t n = d.len / 16;
            uint32_t i = 0;
            for (uint32_t seen = 1;; ++seen) {
                if (seen > n) return false;  // loop inside the table
                Desc e;
                if (!mem_->read(d.addr + 16ULL * i, &e, sizeof e)) return false;
                if (e.flags & kDescIndirect) return false;  // no nesting
                if (!add_segment(c, e.addr, e.len, e.flags & kDescWrite, seen_writable)) return false;
                if (!(e.flags & kDescNext)) return true;
                i = e.next;
                if (i >= n) return false;
            }
        }
        if (!add_segment(c, d.addr, d.len, d.flags & kDescWrite, seen_writable)) return false;
        if (!(d.flags & kDescNext)) return true;
        idx = d.next;
        if (idx >= size) return false;
    }
}

void Queue::add_used(uint16_t head, uint32_t len) {
    if (!ready_) return;
    uint64_t elem = used_addr + 4 + 8ULL * (next_used_ & (size - 1));
    uint32_t e[2] = {head, len};
    if (!mem_->write(elem, e, sizeof e)) return;
    ++next_used_;
    uint8_t* idx = mem_->ptr(used_addr + 2, 2);
    // Release: the element is visible before the index that publishes it.
    if (idx) store_u16(idx, next_used_, std::memory_order_release);
}

bool Queue::needs_interrupt() {
    if (!ready_) return false;
    if (signalled_valid_ && next_used_ == signalled_used_) return false;
    // Order our used->idx store before reading the driver's suppression state.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint16_t old = signalled_used_;
    bool had_old = signalled_valid_;
    signalled_used_ = next_used_;
    signalled_valid_ = true;
    if (!event_idx_) {
        uint16_t flags = 0;
        mem_->load(avail_addr, flags);
        return !(flags & kAvailNoInterrupt);
    }
    uint8_t* p = mem_->ptr(avail_addr + 4 + 2ULL * size, 2);
    if (!p) return true;
    uint16_t used_event = load_u16(p, std::memory_order_relaxed);
    if (!had_old) return true;
    // vring_need_event: did next_used_ step past used_event since the last interrupt?
    return static_cast<uint16_t>(next_used_ - used_event - 1) < static_cast<uint16_t>(next_used_ - old);
}

bool Queue::enable_notification() {
    if (!ready_ || broken_) return false;
    if (event_idx_) {
        uint8_t* p = mem_->ptr(used_addr + 4 + 8ULL * size, 2);
        if (p) store_u16(p, next_avail_, std::memory_order_relaxed);
        // The avail_event store must be visible before we re-read avail->idx,
        // or a buffer added in between would get neither a kick nor a look.
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    return has_available();
}

}  // namespace vmm::virtio
