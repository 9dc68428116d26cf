// Bochs/QEMU debug console: port 0xE9, every byte written goes to on_output;
// reads return 0xE9 so a guest can detect it. Register at kPort with kWindow.
// on_output is called WITHOUT the device mutex, on the writing vCPU thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"

namespace vmm {

class DebugCon : public Device {
public:
    static constexpr uint16_t kPort = 0xE9;
    static constexpr uint64_t kWindow = 1;
    using OutputFn = std::function<void(const uint8_t* data, size_t n)>;

    explicit DebugCon(OutputFn on_output);

    const char* name() const override { return "debugcon"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

private:
    std::mutex mu_;
    OutputFn on_output_;
};

}  // namespace vmm
