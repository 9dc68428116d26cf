// virtio-net over a TAP device (virtio 1.x section 5.1). No offloads: the
// 12-byte virtio_net_hdr is passed through unchanged to/from the TAP, which
// is opened with IFF_VNET_HDR and TUNSETVNETHDRSZ 12.
//
// TX runs on the notifying (vCPU) thread. RX runs on one thread per device
// that polls the backend fd and an eventfd; when the guest has posted no RX
// buffers the frame stays in the TAP (no host-side buffering) until the
// guest posts some.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "virtio/virtio.h"

namespace vmm::virtio {

constexpr uint64_t kNetFMac = 1ULL << 5;
constexpr uint64_t kNetFStatus = 1ULL << 16;
constexpr uint32_t kNetHdrLen = 12;
constexpr uint32_t kNetMaxFrame = 65550;  // larger TX frames are dropped
constexpr uint16_t kNetRxQueue = 0;
constexpr uint16_t kNetTxQueue = 1;

struct NetStats {
    uint64_t rx_bytes, rx_frames, tx_bytes, tx_frames, tx_dropped, rx_dropped;
};

class NetDevice : public VirtioDevice {
public:
    // Opens /dev/net/tun and attaches to (or creates) TAP `ifname` (empty:
    // kernel picks tapN) with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header 12,
    // nonblocking. Returns the fd (caller passes it to the constructor) or -1
    // with *error set; *actual_name gets the interface name.
    static int open_tap(const std::string& ifname, std::string* actual_name, std::string* error);

    // Takes ownership of `fd`: a TAP fd from open_tap(), or any datagram fd
    // carrying [12-byte vnet header + ethernet frame] per message (tests use
    // a socketpair(AF_UNIX, SOCK_DGRAM)). Made nonblocking here. Starts the
    // RX thread. `mac` should be locally administered (first byte & 2).
    NetDevice(int fd, std::array<uint8_t, 6> mac);
    ~NetDevice() override;  // stop()s

    // Stops and joins the RX thread and closes the fd. Idempotent; call
    // before tearing the VM down (the destructor does it too).
    void stop();

    uint32_t device_id() const override { return kIdNet; }
    const char* name() const override { return "virtio-net"; }
    uint64_t features() const override;
    uint16_t num_queues() const override { return 2; }
    void read_config(uint64_t offset, uint8_t* data, uint32_t size) override;
    void activate(Transport& t) override;
    void reset() override;
    void on_queue_notify(uint16_t index) override;

    NetStats stats() const;  // lock-free snapshot
    const std::array<uint8_t, 6>& mac() const { return mac_; }

    // A random locally administered unicast MAC.
    static std::array<uint8_t, 6> random_mac();

private:
    void rx_loop();
    // Moves frames from the fd into posted RX chains; returns false when it
    // stopped for lack of guest buffers. Device mutex held.
    bool rx_pump();
    void process_tx();
    void kick_rx_thread();

    int fd_;
    int event_fd_;
    std::array<uint8_t, 6> mac_;
    Transport* transport_ = nullptr;
    std::thread rx_thread_;
    std::atomic<bool> stopping_{false};
    bool stopped_ = false;
    std::vector<uint8_t> tx_buf_;
    std::atomic<uint64_t> rx_bytes_{0}, rx_frames_{0}, tx_bytes_{0}, tx_frames_{0}, tx_dropped_{0}, rx_dropped_{0};
};

}  // namespace vmm::virtio
