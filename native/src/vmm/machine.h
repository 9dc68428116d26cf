// The machine: guest memory, devices on the PIO/MMIO buses, the in-kernel
// irqchip and one thread per vCPU. Knows nothing about Node.
//
//   vmm::Machine m(config);          // builds everything, loads the kernel; throws
//   m.set_serial_sink(...);          // callbacks before start()
//   m.start();
//   ExitReason r = m.wait();         // or on_exit callback
//
// Threading: callbacks run on vCPU threads (serial output, exit, mode
// change) and must be short. Every public method is safe from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/guest_memory.h"
#include "vmm/config.h"
#include "vmm/exit_reason.h"

namespace kvm {
class System;
class Vm;
class Vcpu;
}  // namespace kvm

namespace vmm {

class Serial;
class I8042;
class Rtc;
class Pm;
namespace virtio {
class InputDevice;
class NetDevice;
class BlockDevice;
class RngDevice;
class MmioTransport;
}  // namespace virtio

struct FramebufferInfo {
    uint8_t* base = nullptr;  // host pointer to guest memory (slot start)
    uint64_t size = 0;        // bytes mapped (max mode size)
    uint32_t width = 0, height = 0, stride = 0, bpp = 32;
    bool enabled = false;     // guest has a mode set (or initial mode)
};

struct VcpuStats {
    uint64_t cpu_ns = 0;  // thread CPU time
    uint64_t exits = 0, io_exits = 0, mmio_exits = 0;
};

struct DeviceStat {
    std::string name;
    std::vector<std::pair<std::string, uint64_t>> counters;
};

struct MachineStats {
    std::vector<VcpuStats> vcpus;
    std::vector<DeviceStat> devices;
    uint64_t ram_bytes = 0;
};

class Machine {
public:
    using SerialSink = std::function<void(const uint8_t* data, size_t n)>;
    using ExitCallback = std::function<void(const ExitReason&)>;
    using ModeCallback = std::function<void(const FramebufferInfo&)>;

    explicit Machine(MachineConfig cfg);
    ~Machine();  // stops and joins
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    void set_serial_sink(SerialSink s);
    void set_exit_callback(ExitCallback cb);
    void set_mode_callback(ModeCallback cb);
    // Called when the serial RX buffer drained after being full.
    void set_serial_space_callback(std::function<void()> cb);

    void start();
    // Ends the VM (reason "stopped" unless another one came first); joins.
    void stop();
    // Blocks until every vCPU thread has finished; joins them.
    ExitReason wait();
    bool running() const;
    ExitReason exit_reason() const;

    // Bytes the UART took (the rest: try again later).
    size_t write_serial(const uint8_t* data, size_t n);
    void key_event(uint16_t qnum, bool down);
    // Absolute position in framebuffer pixels; buttons: bit0 left, bit1
    // middle, bit2 right (VNC order); wheel > 0 up.
    void pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel);
    // Presses the ACPI power button (PM1 PWRBTN_STS, SCI if the guest enabled
    // it): an ACPI guest shuts down and powers off. Any thread.
    void power_button();

    FramebufferInfo framebuffer() const;
    // Row ranges [first, last) written since the previous call (merged,
    // ascending); everything after a mode change.
    std::vector<std::pair<uint32_t, uint32_t>> dirty_rows();

    MachineStats stats() const;
    const GuestMemory& memory() const { return mem_; }
    uint32_t vcpu_count() const { return cfg_.vcpus; }
    // One line from the boot layer (kernel kind, load address).
    const std::string& boot_summary() const { return boot_summary_; }

    // Called by devices (and tests): first reason wins, kicks every vCPU.
    void request_exit(ExitKind kind, std::string message);

private:
    struct VcpuSlot;
    void build_memory();
    void build_devices();
    void boot();
    void setup_vcpus();
    void vcpu_loop(VcpuSlot& v);
    void io_loop();
    void handle_exit(VcpuSlot& v);
    void kick_all();
    void join_all();
    void set_mode(uint32_t w, uint32_t h, uint32_t bpp, bool enabled);

    MachineConfig cfg_;
    std::unique_ptr<kvm::System> sys_;
    std::unique_ptr<kvm::Vm> vm_;
    GuestMemory mem_;
    uint32_t fb_slot_ = UINT32_MAX;
    uint8_t* fb_host_ = nullptr;
    uint64_t fb_size_ = 0;

    Bus pio_, mmio_;
    std::shared_ptr<Serial> serial_;
    std::shared_ptr<I8042> i8042_;
    std::shared_ptr<Rtc> rtc_;
    std::shared_ptr<Pm> pm_;
    std::vector<uint32_t> virtio_slots_;
    std::vector<std::shared_ptr<Device>> devices_;  // everything on the buses
    std::shared_ptr<virtio::InputDevice> tablet_;
    std::shared_ptr<virtio::NetDevice> net_;
    std::vector<std::shared_ptr<virtio::BlockDevice>> disks_;
    std::shared_ptr<virtio::RngDevice> rng_;

    std::vector<std::unique_ptr<VcpuSlot>> vcpus_;
    std::thread io_thread_;  // RTC timers
    std::string boot_summary_;

    mutable std::mutex mu_;  // exit reason, mode, callbacks, thread state
    std::condition_variable cv_;
    ExitReason reason_;
    bool started_ = false;
    uint32_t threads_running_ = 0;
    std::atomic<bool> stopping_{false};

    SerialSink serial_sink_;
    ExitCallback exit_cb_;
    ModeCallback mode_cb_;
    std::function<void()> serial_space_cb_;

    mutable std::mutex fb_mu_;
    FramebufferInfo mode_;
    bool mode_changed_ = true;
    std::vector<uint64_t> dirty_bits_;
    int32_t last_x_ = 0, last_y_ = 0;  // PS/2 fallback: absolute -> relative
};

}  // namespace vmm
