#include "vmm/machine.h"

#include "vmm/dirty.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "boot/boot.h"
#include "core/irq.h"
#include "core/platform.h"
#include "devices/debugcon.h"
#include "devices/i8042.h"
#include "devices/pm.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/vbe.h"
#include "kvm/cpuid.h"
#include "kvm/system.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "virtio/block.h"
#include "virtio/input.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"

namespace vmm {

struct Machine::VcpuSlot {
    std::unique_ptr<kvm::Vcpu> cpu;
    std::thread thread;
    std::atomic<uint64_t> exits{0}, io_exits{0}, mmio_exits{0};
};

namespace {

// Intel VMX wants these two pages below 4 GiB and outside RAM/devices.
constexpr uint64_t kIdentityMapAddr = 0xFFFB'C000ULL;
constexpr uint64_t kTssAddr = 0xFFFB'D000ULL;
constexpr uint64_t kPage = 4096;
// ACPI SCI: the conventional GSI 9, the one the FADT's SCI_INT names.
constexpr uint32_t kSciGsi = 9;

uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

std::array<uint8_t, 6> parse_mac(const std::string& s) {
    std::array<uint8_t, 6> m{};
    unsigned v[6];
    char tail;
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        throw std::invalid_argument("bad MAC address '" + s + "' (want xx:xx:xx:xx:xx:xx)");
    for (int i = 0; i < 6; ++i) {
        if (v[i] > 0xff) throw std::invalid_argument("bad MAC address '" + s + "'");
        m[i] = static_cast<uint8_t>(v[i]);
    }
    if (m[0] & 1) throw std::invalid_argument("MAC address '" + s + "' is multicast");
    return m;
}

uint64_t thread_cpu_ns(std::thread& t) {
    if (!t.joinable()) return 0;
    clockid_t cid;
    if (pthread_getcpuclockid(t.native_handle(), &cid) != 0) return 0;
    timespec ts{};
    if (clock_gettime(cid, &ts) != 0) return 0;
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

Machine::Machine(MachineConfig cfg) : cfg_(std::move(cfg)) {
    validate(cfg_);
    sys_ = std::make_unique<kvm::System>();
    vm_ = std::make_unique<kvm::Vm>(*sys_);
    vm_->set_identity_map_addr(kIdentityMapAddr);
    vm_->set_tss_addr(kTssAddr);
    // Memory slots before the irqchip: once KVM has an in-kernel irqchip,
    // every slot change waits for an SRCU grace period (measured: 5-11 ms
    // per slot here, against 0.05 ms before it).
    build_memory();
    vm_->create_irqchip();
    vm_->create_pit2();
    build_devices();
    setup_vcpus();
    boot();
}

Machine::~Machine() {
    stop();
    // Devices with threads of their own stop before memory goes away.
    if (net_) net_->stop();
}

void Machine::build_memory() {
    uint64_t ram = static_cast<uint64_t>(cfg_.ram_mib) << 20;
    uint64_t low = std::min(ram, platform::kMmioHoleStart);
    vm_->add_memory(0, low);
    if (ram > low) vm_->add_memory(platform::kHighMemStart, ram - low);
    if (cfg_.fb_width && cfg_.fb_height) {
        // The slot always covers the largest mode so the guest may switch
        // modes; untouched pages cost nothing (MAP_NORESERVE).
        fb_size_ = page_up(platform::kFramebufferMaxSize);
        const kvm::Slot& s = vm_->add_memory(platform::kFramebufferBase, fb_size_, true);
        fb_slot_ = s.id;
        fb_host_ = s.host;
        mode_ = {fb_host_, fb_size_, cfg_.fb_width, cfg_.fb_height, cfg_.fb_width * 4, 32, true};
    }
    mem_ = vm_->memory();
}

void Machine::build_devices() {
    kvm::Vm* vm = vm_.get();
    // KVM_IRQ_LINE failures would mean a broken VM: report, don't throw
    // through device code.
    IrqLine::Setter setter = [this, vm](uint32_t gsi, bool level) {
        try {
            vm->irq_line(gsi, level);
        } catch (const std::exception& e) {
            request_exit(ExitKind::VmmError, e.what());
        }
    };
    auto add_pio = [this](uint64_t base, uint64_t len, std::shared_ptr<Device> d) {
        if (!pio_.add(base, len, d)) throw std::logic_error(std::string("port window clash: ") + d->name());
        devices_.push_back(std::move(d));
    };

    serial_ = std::make_shared<Serial>(IrqLine(platform::kCom1Gsi, setter), [this](const uint8_t* p, size_t n) {
        if (serial_sink_) serial_sink_(p, n);
    });
    serial_->set_on_input_space([this] {
        std::function<void()> cb;
        {
            std::lock_guard<std::mutex> g(mu_);
            cb = serial_space_cb_;
        }
        if (cb) cb();
    });
    add_pio(platform::kCom1Port, Serial::kWindow, serial_);

    i8042_ = std::make_shared<I8042>(IrqLine(platform::kKeyboardGsi, setter), IrqLine(platform::kMouseGsi, setter),
                                     [this] { request_exit(ExitKind::Reset, "guest reset (i8042 command 0xFE)"); });
    add_pio(platform::kI8042Data, I8042::kWindow, i8042_);

    uint64_t ram = static_cast<uint64_t>(cfg_.ram_mib) << 20;
    rtc_ = std::make_shared<Rtc>(IrqLine(platform::kRtcGsi, setter), ram);
    add_pio(platform::kRtcPort, Rtc::kWindow, rtc_);

    if (fb_host_) {
        Vbe::Limits lim;
        lim.max_width = platform::kFramebufferMaxWidth;
        lim.max_height = platform::kFramebufferMaxHeight;
        lim.fb_bytes = fb_size_;
        add_pio(platform::kVbeIndexPort, Vbe::kWindow,
                std::make_shared<Vbe>(cfg_.fb_width, cfg_.fb_height, lim,
                                      [this](uint32_t w, uint32_t h, uint32_t stride) { set_mode(w, h, stride, true); }));
    }

    pm_ = std::make_shared<Pm>(IrqLine(kSciGsi, setter),
                               [this] { request_exit(ExitKind::Poweroff, "guest powered off (ACPI S5)"); });
    add_pio(platform::kPm1aEvtPort, Pm::kWindow, pm_);
    add_pio(platform::kResetPort, ResetRegister::kWindow, std::make_shared<ResetRegister>([this] {
                request_exit(ExitKind::Reset, "guest reset (port 0xCF9)");
            }));
    // Debug console: same sink as COM1, handy for early guest code.
    add_pio(DebugCon::kPort, DebugCon::kWindow, std::make_shared<DebugCon>([this](const uint8_t* p, size_t n) {
                if (serial_sink_) serial_sink_(p, n);
            }));

    // virtio-mmio: a fixed order so slot numbers (and the guest's device
    // names) are stable: disks, net, rng, tablet.
    uint32_t slot = 0;
    auto add_virtio = [&](std::shared_ptr<virtio::VirtioDevice> dev) {
        uint64_t base = platform::kVirtioMmioBase + slot * platform::kVirtioMmioStride;
        auto t = std::make_shared<virtio::MmioTransport>(std::move(dev), mem_,
                                                         IrqLine(platform::kVirtioGsiBase + slot, setter));
        if (!mmio_.add(base, platform::kVirtioMmioStride, t)) throw std::logic_error("virtio window clash");
        devices_.push_back(t);
        virtio_slots_.push_back(slot);
        ++slot;
    };
    for (size_t i = 0; i < cfg_.disks.size(); ++i) {
        std::string err;
        auto d = virtio::BlockDevice::open(cfg_.disks[i].path, cfg_.disks[i].readonly, "disk" + std::to_string(i), &err);
        if (!d) throw std::runtime_error("disk " + cfg_.disks[i].path + ": " + err);
        disks_.push_back(d);
        add_virtio(d);
    }
    if (!cfg_.tap.empty()) {
        std::string name, err;
        int fd = virtio::NetDevice::open_tap(cfg_.tap, &name, &err);
        if (fd < 0) throw std::runtime_error("tap " + cfg_.tap + ": " + err);
        auto mac = cfg_.mac.empty() ? virtio::NetDevice::random_mac() : parse_mac(cfg_.mac);
        net_ = std::make_shared<virtio::NetDevice>(fd, mac);
        add_virtio(net_);
    }
    if (cfg_.rng) {
        rng_ = std::make_shared<virtio::RngDevice>();
        add_virtio(rng_);
    }
    if (cfg_.tablet) {
        tablet_ = std::make_shared<virtio::InputDevice>();
        add_virtio(tablet_);
    }
}

void Machine::setup_vcpus() {
    kvm::CpuidOptions co;
    co.vcpu_count = cfg_.vcpus;
    co.tsc_deadline = sys_->check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    for (uint32_t i = 0; i < cfg_.vcpus; ++i) {
        auto slot = std::make_unique<VcpuSlot>();
        slot->cpu = std::make_unique<kvm::Vcpu>(*vm_, i);
        co.vcpu_index = i;
        slot->cpu->set_cpuid(kvm::make_cpuid(sys_->supported_cpuid(), co));
        vcpus_.push_back(std::move(slot));
    }
    // APs stay in KVM's wait-for-SIPI state (the in-kernel LAPIC puts every
    // vCPU but the BSP, id 0, there); the guest starts them.
}

void Machine::set_mode(uint32_t w, uint32_t h, uint32_t stride, bool enabled) {
    FramebufferInfo info;
    ModeCallback cb;
    {
        std::lock_guard<std::mutex> g(fb_mu_);
        mode_.width = w;
        mode_.height = h;
        mode_.stride = stride;
        mode_.enabled = enabled;
        mode_changed_ = true;
        info = mode_;
    }
    {
        std::lock_guard<std::mutex> g(mu_);
        cb = mode_cb_;
    }
    if (cb) cb(info);
}

void Machine::set_serial_sink(SerialSink s) {
    std::lock_guard<std::mutex> g(mu_);
    if (started_) throw std::logic_error("set_serial_sink after start");
    serial_sink_ = std::move(s);
}

void Machine::set_exit_callback(ExitCallback cb) {
    std::lock_guard<std::mutex> g(mu_);
    exit_cb_ = std::move(cb);
}

void Machine::set_mode_callback(ModeCallback cb) {
    std::lock_guard<std::mutex> g(mu_);
    mode_cb_ = std::move(cb);
}

void Machine::set_serial_space_callback(std::function<void()> cb) {
    std::lock_guard<std::mutex> g(mu_);
    serial_space_cb_ = std::move(cb);
}

void Machine::start() {
    std::unique_lock<std::mutex> g(mu_);
    if (started_) throw std::logic_error("machine already started");
    started_ = true;
    int sig = kvm::kick_signal();
    // The threads must be able to take the kick signal whatever the
    // creating thread blocks.
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, &old);
    threads_running_ = static_cast<uint32_t>(vcpus_.size());
    for (auto& v : vcpus_) {
        VcpuSlot* p = v.get();
        p->thread = std::thread([this, p] { vcpu_loop(*p); });
    }
    io_thread_ = std::thread([this] { io_loop(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Machine::io_loop() {
    pthread_setname_np(pthread_self(), "vmm-io");
    std::unique_lock<std::mutex> g(mu_);
    while (!stopping_) {
        g.unlock();
        int64_t us = rtc_->tick();
        g.lock();
        // Poll at least every 50 ms: a guest write may have armed a timer.
        int64_t wait = (us < 0 || us > 50000) ? 50000 : std::max<int64_t>(us, 100);
        cv_.wait_for(g, std::chrono::microseconds(wait), [this] { return stopping_.load(); });
    }
}

void Machine::vcpu_loop(VcpuSlot& v) {
    char name[16];
    std::snprintf(name, sizeof name, "vcpu%u", v.cpu->id());
    pthread_setname_np(pthread_self(), name);
    try {
        while (!stopping_.load(std::memory_order_acquire)) {
            if (v.cpu->run() == EINTR) continue;  // kicked: the loop condition decides
            ++v.exits;
            handle_exit(v);
        }
    } catch (const std::exception& e) {
        request_exit(ExitKind::VmmError, std::string("vcpu") + std::to_string(v.cpu->id()) + ": " + e.what());
    }
    ExitCallback cb;
    ExitReason r;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (--threads_running_ != 0) return;
        cb = exit_cb_;
        r = reason_;
        cv_.notify_all();
    }
    // The last vCPU out reports: every thread has left KVM_RUN by now.
    if (cb) cb(r);
}

void Machine::handle_exit(VcpuSlot& v) {
    kvm_run* run = v.cpu->run_page();
    switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            ++v.io_exits;
            const auto& io = run->io;
            uint64_t total = static_cast<uint64_t>(io.size) * io.count;
            if (io.size == 0 || io.size > 4 || io.data_offset > v.cpu->run_size() ||
                total > v.cpu->run_size() - io.data_offset) {
                request_exit(ExitKind::VmmError, "malformed KVM_EXIT_IO");
                return;
            }
            uint8_t* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
            // rep ins/outs: `count` items of `size` bytes, back to back.
            for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
                if (io.direction == KVM_EXIT_IO_OUT) pio_.write(io.port, data, io.size);
                else pio_.read(io.port, data, io.size);
            }
            return;
        }
        case KVM_EXIT_MMIO: {
            ++v.mmio_exits;
            auto& m = run->mmio;
            uint32_t len = m.len > sizeof(m.data) ? sizeof(m.data) : m.len;
            if (m.is_write) mmio_.write(m.phys_addr, m.data, len);
            else mmio_.read(m.phys_addr, m.data, len);
            return;
        }
        case KVM_EXIT_HLT:
            // Only without an in-kernel LAPIC; we always have one.
            return;
        case KVM_EXIT_SHUTDOWN:
            request_exit(ExitKind::TripleFault, "triple fault on vcpu" + std::to_string(v.cpu->id()));
            return;
        case KVM_EXIT_SYSTEM_EVENT:
            switch (run->system_event.type) {
                case KVM_SYSTEM_EVENT_SHUTDOWN: request_exit(ExitKind::Poweroff, "guest powered off (system event)"); return;
                case KVM_SYSTEM_EVENT_RESET: request_exit(ExitKind::Reset, "guest reset (system event)"); return;
                default:
                    request_exit(ExitKind::VmmError, "guest crash (system event " + std::to_string(run->system_event.type) + ")");
                    return;
            }
        case KVM_EXIT_INTERNAL_ERROR: {
            auto& ie = run->internal;
            char buf[256];
            int n = std::snprintf(buf, sizeof buf, "KVM internal error on vcpu%u: suberror %u", v.cpu->id(), ie.suberror);
            if (ie.suberror == KVM_INTERNAL_ERROR_EMULATION) {
                n += std::snprintf(buf + n, sizeof buf - n, " (emulation failure)");
                auto& ef = run->emulation_failure;
                if (ef.ndata >= 3 && (ef.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
                    unsigned sz = ef.insn_size > sizeof(ef.insn_bytes) ? sizeof(ef.insn_bytes) : ef.insn_size;
                    n += std::snprintf(buf + n, sizeof buf - n, ", instruction bytes");
                    for (unsigned i = 0; i < sz && n < static_cast<int>(sizeof buf) - 4; ++i)
                        n += std::snprintf(buf + n, sizeof buf - n, " %02x", ef.insn_bytes[i]);
                }
            }
            try {
                kvm_regs r = v.cpu->get_regs();
                if (n < static_cast<int>(sizeof buf))
                    std::snprintf(buf + n, sizeof buf - n, ", rip %#" PRIx64, static_cast<uint64_t>(r.rip));
            } catch (...) {
            }
            request_exit(ExitKind::InternalError, buf);
            return;
        }
        case KVM_EXIT_FAIL_ENTRY: {
            char buf[128];
            std::snprintf(buf, sizeof buf, "KVM entry failed on vcpu%u: hardware reason %#" PRIx64, v.cpu->id(),
                          static_cast<uint64_t>(run->fail_entry.hardware_entry_failure_reason));
            request_exit(ExitKind::FailEntry, buf);
            return;
        }
        case KVM_EXIT_INTR:
            return;
        default:
            request_exit(ExitKind::VmmError, "unexpected KVM exit reason " + std::to_string(run->exit_reason));
            return;
    }
}

void Machine::request_exit(ExitKind kind, std::string message) {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (reason_.kind == ExitKind::None) reason_ = {kind, std::move(message)};
        stopping_.store(true, std::memory_order_release);
        cv_.notify_all();
    }
    kick_all();
}

void Machine::kick_all() {
    std::lock_guard<std::mutex> g(mu_);
    int sig = kvm::kick_signal();
    for (auto& v : vcpus_) {
        v->cpu->request_exit();  // covers a thread about to enter KVM_RUN
        // Threads are joined only under mu_ (join_all), so the handle is valid here.
        if (v->thread.joinable()) pthread_kill(v->thread.native_handle(), sig);
    }
}

void Machine::join_all() {
    // Joining under mu_ would deadlock with threads finishing; take the
    // thread handles out first.
    std::vector<std::thread> ts;
    {
        std::lock_guard<std::mutex> g(mu_);
        for (auto& v : vcpus_)
            if (v->thread.joinable()) ts.push_back(std::move(v->thread));
        if (io_thread_.joinable()) ts.push_back(std::move(io_thread_));
    }
    for (auto& t : ts) t.join();
}

void Machine::stop() {
    request_exit(ExitKind::Stopped, "stopped by request");
    join_all();
}

ExitReason Machine::wait() {
    {
        std::unique_lock<std::mutex> g(mu_);
        if (!started_) throw std::logic_error("wait() before start()");
        cv_.wait(g, [this] { return threads_running_ == 0; });
    }
    join_all();
    return exit_reason();
}

bool Machine::running() const {
    std::lock_guard<std::mutex> g(mu_);
    return started_ && threads_running_ > 0;
}

ExitReason Machine::exit_reason() const {
    std::lock_guard<std::mutex> g(mu_);
    return reason_;
}

size_t Machine::write_serial(const uint8_t* data, size_t n) { return serial_->push_input(data, n); }

void Machine::key_event(uint16_t qnum, bool down) { i8042_->key_event(qnum, down); }

// Pm serializes with the vCPU threads' port accesses on its own mutex; the
// SCI goes through KVM_IRQ_LINE, which any thread may call.
void Machine::power_button() { pm_->power_button(); }

void Machine::pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel) {
    FramebufferInfo fb = framebuffer();
    uint32_t w = fb.width ? fb.width : 1024, h = fb.height ? fb.height : 768;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (tablet_) {
        tablet_->pointer_event(static_cast<uint32_t>(x), static_cast<uint32_t>(y), w, h,
                               static_cast<uint8_t>(buttons & 7), wheel);
        return;
    }
    // No tablet: relative PS/2 motion from the last absolute position.
    uint8_t b = 0;
    if (buttons & 1) b |= I8042::kButtonLeft;
    if (buttons & 2) b |= I8042::kButtonMiddle;
    if (buttons & 4) b |= I8042::kButtonRight;
    int dx, dy;
    {
        std::lock_guard<std::mutex> g(fb_mu_);
        dx = x - last_x_;
        dy = y - last_y_;
        last_x_ = x;
        last_y_ = y;
    }
    i8042_->mouse_event(dx, dy, -wheel, b);
}

FramebufferInfo Machine::framebuffer() const {
    std::lock_guard<std::mutex> g(fb_mu_);
    return mode_;
}

std::vector<std::pair<uint32_t, uint32_t>> Machine::dirty_rows() {
    std::vector<std::pair<uint32_t, uint32_t>> out;
    if (!fb_host_) return out;
    std::lock_guard<std::mutex> g(fb_mu_);
    vm_->get_dirty_log(fb_slot_, dirty_bits_);
    if (!mode_.enabled || mode_.stride == 0 || mode_.height == 0) return out;
    if (mode_changed_) {
        mode_changed_ = false;
        out.emplace_back(0, mode_.height);
        return out;
    }
    return dirty_pages_to_rows(dirty_bits_, mode_.stride, mode_.height);
}

MachineStats Machine::stats() const {
    MachineStats s;
    s.ram_bytes = static_cast<uint64_t>(cfg_.ram_mib) << 20;
    {
        std::lock_guard<std::mutex> g(mu_);
        for (auto& v : vcpus_) {
            VcpuStats vs;
            vs.cpu_ns = thread_cpu_ns(v->thread);
            vs.exits = v->exits.load();
            vs.io_exits = v->io_exits.load();
            vs.mmio_exits = v->mmio_exits.load();
            s.vcpus.push_back(vs);
        }
    }
    for (size_t i = 0; i < disks_.size(); ++i) {
        auto b = disks_[i]->stats();
        s.devices.push_back({"disk" + std::to_string(i),
                             {{"read_bytes", b.read_bytes},
                              {"write_bytes", b.write_bytes},
                              {"read_ops", b.read_ops},
                              {"write_ops", b.write_ops},
                              {"flush_ops", b.flush_ops},
                              {"errors", b.errors}}});
    }
    if (net_) {
        auto n = net_->stats();
        s.devices.push_back({"net0",
                             {{"rx_bytes", n.rx_bytes},
                              {"rx_frames", n.rx_frames},
                              {"tx_bytes", n.tx_bytes},
                              {"tx_frames", n.tx_frames},
                              {"rx_dropped", n.rx_dropped},
                              {"tx_dropped", n.tx_dropped}}});
    }
    if (rng_) s.devices.push_back({"rng0", {{"bytes", rng_->bytes_served()}}});
    return s;
}

}  // namespace vmm

namespace vmm {

namespace {

std::vector<uint8_t> read_file(const std::string& path, const char* what) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw boot::BootError(std::string(what) + " " + path + ": " + std::strerror(errno));
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    bool err = std::ferror(f);
    std::fclose(f);
    if (err) throw boot::BootError(std::string(what) + " " + path + ": read error");
    return out;
}

kvm_segment to_kvm(const boot::Segment& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present;
    k.dpl = s.dpl;
    k.db = s.db;
    k.s = s.s;
    k.l = s.l;
    k.g = s.g;
    k.avl = s.avl;
    k.unusable = s.unusable;
    return k;
}

}  // namespace

void Machine::boot() {
    boot::BootConfig bc;
    bc.ram_bytes = static_cast<uint64_t>(cfg_.ram_mib) << 20;
    bc.vcpus = cfg_.vcpus;
    bc.kernel = cfg_.kernel.empty() ? read_file(cfg_.kernel_path, "kernel") : cfg_.kernel;
    if (!cfg_.initrd.empty()) bc.initrd = cfg_.initrd;
    else if (!cfg_.initrd_path.empty()) bc.initrd = read_file(cfg_.initrd_path, "initrd");
    bc.cmdline = cfg_.cmdline;
    if (fb_host_) bc.fb = {platform::kFramebufferBase, cfg_.fb_width, cfg_.fb_height, cfg_.fb_width * 4};
    for (uint32_t slot : virtio_slots_)
        bc.virtio.push_back({platform::kVirtioMmioBase + slot * platform::kVirtioMmioStride, platform::kVirtioMmioStride,
                             platform::kVirtioGsiBase + slot});

    boot::BootResult br = boot::load(mem_, bc);
    boot_summary_ = br.summary;
    const boot::CpuState& c = br.bsp;
    kvm::Vcpu& bsp = *vcpus_.at(0)->cpu;

    kvm_sregs s = bsp.get_sregs();  // keeps KVM's APIC base and the rest
    s.cs = to_kvm(c.cs);
    s.ds = to_kvm(c.ds);
    s.es = to_kvm(c.es);
    s.fs = to_kvm(c.fs);
    s.gs = to_kvm(c.gs);
    s.ss = to_kvm(c.ss);
    s.tr = to_kvm(c.tr);
    s.ldt = to_kvm(c.ldt);
    s.gdt.base = c.gdt_base;
    s.gdt.limit = c.gdt_limit;
    s.idt.base = c.idt_base;
    s.idt.limit = c.idt_limit;
    s.cr0 = c.cr0;
    s.cr3 = c.cr3;
    s.cr4 = c.cr4;
    s.efer = c.efer;
    bsp.set_sregs(s);

    kvm_regs r{};
    r.rip = c.rip;
    r.rsp = c.rsp;
    r.rbx = c.rbx;
    r.rsi = c.rsi;
    r.rflags = c.rflags | 0x2;  // bit 1 is reserved-one
    bsp.set_regs(r);

    kvm_fpu f{};
    f.fcw = 0x37f;      // x87 default control word (FNINIT)
    f.mxcsr = 0x1f80;   // SSE default: all exceptions masked
    bsp.set_fpu(f);
    // IA32_MISC_ENABLE: fast strings, as firmware leaves it.
    bsp.set_msrs({{0x1a0, 1}});
}

}  // namespace vmm
