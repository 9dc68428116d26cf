#include "virtio/rng.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "virtio/queue.h"

namespace vmm::virtio {

uint64_t RngDevice::features() const { return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx; }

void RngDevice::read_config(uint64_t, uint8_t* data, uint32_t size) {
    std::memset(data, 0, size);  // no configuration space
}

void RngDevice::activate(Transport& t) { transport_ = &t; }

void RngDevice::reset() { transport_ = nullptr; }

void RngDevice::on_queue_notify(uint16_t index) {
    if (index != 0 || !transport_) return;
    Queue& q = transport_->queue(0);
    for (;;) {
        while (auto c = q.pop()) {
            uint32_t filled = 0;
            for (const auto& s : c->segments) {
                if (!s.writable) continue;
                size_t done = 0;
                while (done < s.len) {
                    ssize_t r = ::getrandom(s.bytes.data() + done, s.len - done, 0);
                    if (r < 0 && errno == EINTR) continue;
                    if (r <= 0) break;
                    done += static_cast<size_t>(r);
                }
                filled += static_cast<uint32_t>(done);
                if (done < s.len) break;  // report only what is really random
            }
            bytes_.fetch_add(filled, std::memory_order_relaxed);
            q.add_used(c->head, filled);
        }
        if (!q.enable_notification()) break;
    }
    transport_->signal_used(0);
}

}  // namespace vmm::virtio
