// The VM runner's serial plumbing, apart from main.cc so the unit tests
// reach it:
//   OutputRing  the most recent COM1 output (bounded), replayed to each new
//               serial client so a console opened late shows the boot log;
//   InputQueue  bytes for COM1 that the UART refused wait here, in order,
//               and are retried when the guest drains its receive FIFO.
// Single-threaded: both live on the runner's poll loop.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace runner {

class OutputRing {
public:
    explicit OutputRing(size_t capacity) : buf_(capacity) {}

    void push(const uint8_t* p, size_t n) {
        size_t cap = buf_.size();
        if (!cap) return;
        if (n >= cap) {  // only the tail survives
            p += n - cap;
            n = cap;
        }
        size_t end = (start_ + len_) % cap;
        for (size_t done = 0; done < n;) {
            size_t chunk = std::min(n - done, cap - end);
            std::copy(p + done, p + done + chunk, buf_.begin() + static_cast<long>(end));
            done += chunk;
            end = (end + chunk) % cap;
        }
        len_ += n;
        if (len_ > cap) {
            start_ = (start_ + len_ - cap) % cap;
            len_ = cap;
        }
    }

    std::string contents() const {
        std::string out;
        out.reserve(len_);
        size_t first = std::min(len_, buf_.size() - start_);
        out.append(reinterpret_cast<const char*>(buf_.data()) + start_, first);
        out.append(reinterpret_cast<const char*>(buf_.data()), len_ - first);
        return out;
    }

private:
    std::vector<uint8_t> buf_;
    size_t start_ = 0, len_ = 0;
};

class InputQueue {
public:
    void push(const char* p, size_t n) {
        if (n) pending_.emplace_back(p, n);
    }

    // Hands the queued bytes to `write` (returns how many it took) until it
    // takes less than offered. Returns true when the queue is empty.
    template <typename Write>
    bool flush(Write&& write) {
        while (!pending_.empty()) {
            std::string& head = pending_.front();
            size_t took = write(reinterpret_cast<const uint8_t*>(head.data()), head.size());
            if (took < head.size()) {
                head.erase(0, took);
                return false;
            }
            pending_.pop_front();
        }
        return true;
    }

    bool empty() const { return pending_.empty(); }

private:
    std::deque<std::string> pending_;
};

}  // namespace runner
