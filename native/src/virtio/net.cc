#include "virtio/net.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "virtio/queue.h"

namespace vmm::virtio {

namespace {

constexpr uint16_t kNetSLinkUp = 1;
constexpr size_t kMaxIov = 1024;           // IOV_MAX on Linux
constexpr int kRxBudget = 256;             // frames per pass before the lock is dropped

// iovecs over the segments of one direction (writable or not); false if
// there are more segments than one readv/writev can take.
bool gather(const DescriptorChain& c, bool writable, std::vector<iovec>& iov) {
    iov.clear();
    for (const auto& s : c.segments) {
        if (s.writable != writable) continue;
        if (iov.size() == kMaxIov) return false;
        iov.push_back(iovec{s.bytes.data(), s.len});
    }
    return true;
}

}  // namespace

int NetDevice::open_tap(const std::string& ifname, std::string* actual_name, std::string* error) {
    auto fail = [&](const char* what, int fd) {
        if (error) *error = std::string(what) + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return -1;
    };
    if (ifname.size() >= IFNAMSIZ) {
        errno = ENAMETOOLONG;
        return fail("tap name", -1);
    }
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail("open /dev/net/tun", -1);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) return fail("TUNSETIFF", fd);
    int hdr = kNetHdrLen;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) return fail("TUNSETVNETHDRSZ", fd);
    // No offloads negotiated with the guest, so none on the TAP either.
    if (::ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) return fail("TUNSETOFFLOAD", fd);
    if (actual_name) actual_name->assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
    return fd;
}

std::array<uint8_t, 6> NetDevice::random_mac() {
    std::array<uint8_t, 6> m{};
    if (::getrandom(m.data(), m.size(), 0) != static_cast<ssize_t>(m.size())) m = {0, 0x16, 0x3e, 1, 2, 3};
    m[0] = static_cast<uint8_t>((m[0] & 0xfe) | 0x02);  // unicast, locally administered
    return m;
}

NetDevice::NetDevice(int fd, std::array<uint8_t, 6> mac) : fd_(fd), mac_(mac) {
    int fl = ::fcntl(fd_, F_GETFL);
    if (fl >= 0) ::fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    tx_buf_.reserve(kNetHdrLen + kNetMaxFrame);
    rx_thread_ = std::thread([this] { rx_loop(); });
}

NetDevice::~NetDevice() { stop(); }

void NetDevice::stop() {
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true);
    kick_rx_thread();
    if (rx_thread_.joinable()) rx_thread_.join();
    // Under the device mutex: a TX notify or RX kick from a vCPU still running
    // must see -1, never a closed fd number the process may already reuse.
    std::lock_guard<std::mutex> g(mutex());
    if (fd_ >= 0) ::close(fd_);
    if (event_fd_ >= 0) ::close(event_fd_);
    fd_ = event_fd_ = -1;
}

void NetDevice::kick_rx_thread() {
    uint64_t one = 1;
    if (event_fd_ >= 0) (void)!::write(event_fd_, &one, sizeof one);
}

uint64_t NetDevice::features() const {
    return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx | kNetFMac | kNetFStatus;
}

void NetDevice::read_config(uint64_t offset, uint8_t* data, uint32_t size) {
    // struct virtio_net_config: mac[6], status (le16). Later fields are absent (0).
    uint8_t cfg[8] = {};
    std::memcpy(cfg, mac_.data(), 6);
    cfg[6] = kNetSLinkUp;
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t o = offset + i;
        data[i] = (o >= offset && o < sizeof cfg) ? cfg[o] : 0;
    }
}

void NetDevice::activate(Transport& t) {
    transport_ = &t;
    kick_rx_thread();
}

void NetDevice::reset() { transport_ = nullptr; }

void NetDevice::on_queue_notify(uint16_t index) {
    if (!transport_) return;
    if (index == kNetRxQueue) kick_rx_thread();  // new buffers: resume reading the backend
    else if (index == kNetTxQueue) process_tx();
}

void NetDevice::process_tx() {
    Queue& q = transport_->queue(kNetTxQueue);
    std::vector<iovec> iov;
    for (;;) {
        while (auto c = q.pop()) {
            uint64_t len = c->readable_len();
            bool ok = len >= kNetHdrLen && len <= kNetHdrLen + kNetMaxFrame && c->writable_len() == 0;
            if (ok) {
                ssize_t r;
                if (gather(*c, false, iov)) {
                    r = ::writev(fd_, iov.data(), static_cast<int>(iov.size()));
                } else {  // too many pieces for one writev: flatten
                    tx_buf_.resize(len);
                    c->read(0, tx_buf_.data(), len);
                    r = ::write(fd_, tx_buf_.data(), len);
                }
                // A full TAP queue (EAGAIN) drops the frame, like a NIC would.
                ok = r == static_cast<ssize_t>(len);
            }
            if (ok) {
                tx_frames_.fetch_add(1, std::memory_order_relaxed);
                tx_bytes_.fetch_add(len - kNetHdrLen, std::memory_order_relaxed);
            } else {
                tx_dropped_.fetch_add(1, std::memory_order_relaxed);
            }
            q.add_used(c->head, 0);
        }
        if (!q.enable_notification()) break;
    }
    transport_->signal_used(kNetTxQueue);
}

bool NetDevice::rx_pump() {
    if (!transport_ || fd_ < 0) return false;
    Queue& q = transport_->queue(kNetRxQueue);
    if (!q.ready()) return false;
    std::vector<iovec> iov;
    bool want_backend = true;
    for (int budget = kRxBudget; budget > 0; --budget) {
        auto c = q.pop();
        if (!c) {
            if (q.enable_notification()) continue;
            want_backend = false;  // no buffers: leave frames in the TAP until the guest posts some
            break;
        }
        if (c->writable_len() < kNetHdrLen) {  // useless buffer: hand it back empty
            q.add_used(c->head, 0);
            continue;
        }
        gather(*c, true, iov);  // beyond 1024 pieces the tail just stays unused
        ssize_t n = ::readv(fd_, iov.data(), static_cast<int>(iov.size()));
        if (n < 0) {
            q.undo_pop();
            break;  // EAGAIN: backend drained; poll() tells us when more arrives
        }
        if (static_cast<size_t>(n) < kNetHdrLen) {  // runt message, not a frame
            q.undo_pop();
            rx_dropped_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        // Without MRG_RXBUF num_buffers must be 1; the TAP leaves those bytes alone.
        uint16_t one = 1;
        c->write(10, &one, sizeof one);
        // Counted before the used-ring release: whoever sees the buffer sees the count.
        rx_frames_.fetch_add(1, std::memory_order_relaxed);
        rx_bytes_.fetch_add(n - kNetHdrLen, std::memory_order_relaxed);
        q.add_used(c->head, static_cast<uint32_t>(n));
    }
    transport_->signal_used(kNetRxQueue);
    return want_backend;
}

void NetDevice::rx_loop() {
    bool want_backend = false;
    bool backend_dead = false;
    while (!stopping_.load()) {
        pollfd fds[2] = {{event_fd_, POLLIN, 0}, {fd_, static_cast<short>(want_backend && !backend_dead ? POLLIN : 0), 0}};
        int r = ::poll(fds, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            (void)!::read(event_fd_, &v, sizeof v);
        }
        if (stopping_.load()) break;
        // A hung-up backend would make poll() spin: stop watching it.
        if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) backend_dead = true;
        std::lock_guard<std::mutex> g(mutex());
        want_backend = rx_pump();
    }
}

NetStats NetDevice::stats() const {
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return NetStats{r(rx_bytes_), r(rx_frames_), r(tx_bytes_), r(tx_frames_), r(tx_dropped_), r(rx_dropped_)};
}

}  // namespace vmm::virtio
