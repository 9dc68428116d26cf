#include "core/device.h"

#include <algorithm>
#include <cstring>

namespace vmm {

bool Bus::add(uint64_t base, uint64_t len, std::shared_ptr<Device> dev) {
    if (len == 0 || base + len < base) return false;
    for (const auto& e : entries_) {
        if (base < e.base + e.len && e.base < base + len) return false;
    }
    entries_.push_back({base, len, std::move(dev), std::make_shared<std::mutex>()});
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.base < b.base; });
    return true;
}

const Bus::Entry* Bus::find(uint64_t addr) const {
    // Few devices per VM: a linear scan beats a map here.
    for (const auto& e : entries_) {
        if (addr >= e.base && addr - e.base < e.len) return &e;
    }
    return nullptr;
}

bool Bus::read(uint64_t addr, uint8_t* data, uint32_t size) {
    const Entry* e = find(addr);
    if (!e) {
        std::memset(data, 0xff, size);
        return false;
    }
    std::lock_guard<std::mutex> g(*e->lock);
    e->dev->read(addr - e->base, data, size);
    return true;
}

bool Bus::write(uint64_t addr, const uint8_t* data, uint32_t size) {
    const Entry* e = find(addr);
    if (!e) return false;
    std::lock_guard<std::mutex> g(*e->lock);
    e->dev->write(addr - e->base, data, size);
    return true;
}

}  // namespace vmm
