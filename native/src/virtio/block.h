// virtio-blk over a raw image file (virtio 1.x section 5.2).
//
// Known limit: requests are served synchronously on the thread that wrote
// QueueNotify (a vCPU thread), holding the device mutex; a slow disk stalls
// that vCPU. Good enough for small VMs; an I/O thread would lift it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "virtio/queue.h"
#include "virtio/virtio.h"

namespace vmm::virtio {

// Request types and status values.
constexpr uint32_t kBlkTIn = 0;
constexpr uint32_t kBlkTOut = 1;
constexpr uint32_t kBlkTFlush = 4;
constexpr uint32_t kBlkTGetId = 8;
constexpr uint32_t kBlkTDiscard = 11;
constexpr uint32_t kBlkTWriteZeroes = 13;
constexpr uint8_t kBlkSOk = 0;
constexpr uint8_t kBlkSIoErr = 1;
constexpr uint8_t kBlkSUnsupp = 2;

// Feature bits.
constexpr uint64_t kBlkFSegMax = 1ULL << 2;
constexpr uint64_t kBlkFRo = 1ULL << 5;
constexpr uint64_t kBlkFBlkSize = 1ULL << 6;
constexpr uint64_t kBlkFFlush = 1ULL << 9;
constexpr uint64_t kBlkFDiscard = 1ULL << 13;
constexpr uint64_t kBlkFWriteZeroes = 1ULL << 14;

constexpr uint32_t kBlkSegMax = 126;
constexpr uint32_t kBlkIdBytes = 20;

struct BlockStats {
    uint64_t read_bytes, write_bytes;
    uint64_t read_ops, write_ops, flush_ops, discard_ops, errors;
};

class BlockDevice : public VirtioDevice {
public:
    // Opens `path` (O_RDWR, or O_RDONLY when read_only). `serial` is
    // truncated to 20 bytes for GET_ID. Returns nullptr and sets *error on failure.
    static std::shared_ptr<BlockDevice> open(const std::string& path, bool read_only,
                                             const std::string& serial, std::string* error);
    // Takes ownership of an already-open fd (tests).
    BlockDevice(int fd, bool read_only, std::string serial);
    ~BlockDevice() override;

    uint32_t device_id() const override { return kIdBlock; }
    const char* name() const override { return "virtio-blk"; }
    uint64_t features() const override;
    uint16_t num_queues() const override { return 1; }
    void read_config(uint64_t offset, uint8_t* data, uint32_t size) override;
    void activate(Transport& t) override;
    void reset() override;
    void on_queue_notify(uint16_t index) override;

    uint64_t capacity_sectors() const { return capacity_; }
    bool read_only() const { return read_only_; }
    BlockStats stats() const;  // lock-free snapshot

    // Serves one request chain and returns the status byte written (or 0xff
    // when the chain had no usable status byte). Exposed for the fuzzer.
    uint8_t process_request(const DescriptorChain& chain, uint32_t& used_len);

private:
    uint8_t do_read(uint64_t sector, const DescriptorChain& c, uint64_t data_len, uint32_t& written);
    uint8_t do_write(uint64_t sector, const DescriptorChain& c, uint64_t data_len);
    uint8_t do_discard(const DescriptorChain& c, uint64_t data_len, bool zeroes);
    void process_queue();

    int fd_;
    bool read_only_;
    std::string serial_;
    uint64_t capacity_;  // in 512-byte sectors
    uint64_t acked_ = 0;
    Transport* transport_ = nullptr;
    std::atomic<uint64_t> read_bytes_{0}, write_bytes_{0};
    std::atomic<uint64_t> read_ops_{0}, write_ops_{0}, flush_ops_{0}, discard_ops_{0}, errors_{0};
};

}  // namespace vmm::virtio
