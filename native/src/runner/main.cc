// kvmvmm-runner: the VM process, one per VM (what the host agent spawns and
// what `npm run vm` runs). No Node: vmm::Machine and the RFB server linked
// into a small program.
//
//   kvmvmm-runner --kernel FILE [--memory MiB] [--serial stdio|none|unix:PATH]
//                 [--control unix:PATH] [--pid-file FILE] ...   (args.h kUsage)
//   kvmvmm-runner CONFIG.json        (what the agent writes, args.h)
//
// Exit: one line on stderr, `vm: <reason>: <message>`, and the code of the
// reason: 0 poweroff, 10 reset, 11 triple-fault, 12 internal-error,
// 13 fail-entry, 14 vmm-error, 15 stopped (signal, Ctrl-A x or "stop");
// 2 bad arguments, config or kernel (one `error: ...` line, nothing ran);
// 1 unexpected failure. (server/vm/config.ts EXIT_CODES mirrors them.)
//
// Control socket (--control unix:PATH): JSON lines. Each request is one
// object on one line (at most 64 KiB); each gets exactly one reply line, in
// order. Unknown keys are ignored; a missing number counts as 0.
//   {"cmd":"status"}       -> {"ok":true,"state":"running"|"exited","exit":null|{"reason","message"},
//                              "pid","framebuffer":null|{width,height,stride,bpp,enabled,size},
//                              "stats":{"vcpus":[{cpuNs,exits,ioExits,mmioExits}],"devices":{...},
//                              "ramBytes"},"vnc":null|{clients,accepted,closedBad,collections,
//                              changedRects,missedRects,updates,updateBytes,cpuNs,lastUpdateBytes,
//                              lastUpdateRects,lastUpdateCpuNs,cutTextBytes},"rssBytes"}
//   {"cmd":"stop"}         -> {"ok":true}; the VM ends now (exit 15, "stopped")
//   {"cmd":"powerbutton"}  -> {"ok":true}; presses the ACPI power button
//                             (PM1 PWRBTN_STS + SCI): a guest that handles it
//                             shuts down and powers off (exit 0). A guest that
//                             ignores it keeps running: the caller decides
//                             when to fall back to "stop" or SIGTERM.
//   {"cmd":"key","qnum":N,"down":true|false}
//                          -> {"ok":true}; a PS/2 key (QEMU qnum: set-1 make
//                             code, 0x80|code for E0-prefixed keys)
//   {"cmd":"pointer","x":X,"y":Y,"buttons":B,"wheel":W}
//                          -> {"ok":true}; absolute framebuffer pixels,
//                             buttons bit0 left, bit1 middle, bit2 right
//   anything else          -> {"ok":false,"error":"bad JSON"|"unknown cmd"}
//
// Serial: with stdio the terminal is COM1 (raw mode on a tty; Ctrl-A x
// quits); with unix:PATH up to 32 clients attach (one more is told "too
// many serial clients" and closed) and each first gets the last 256 KiB of
// output. Signals: SIGTERM, SIGINT, SIGHUP stop the VM.
//
// One thread runs a poll() loop over stdin, the unix sockets, a signalfd and
// an eventfd the vCPU threads bump when they have serial output, input space
// or the exit reason for it. The vCPU threads never block on this loop.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kvm/system.h"
#include "rfb/machine_display.h"
#include "rfb/server.h"
#include "runner/args.h"
#include "runner/json.h"
#include "runner/serial_buffers.h"
#include "vmm/machine.h"

namespace {

using runner::Options;

constexpr size_t kRingBytes = 256 * 1024;        // config.ts SERIAL_RING_BYTES
constexpr size_t kSerialBacklogMax = 4 << 20;    // loop stalled: drop beyond this (as the addon does)
constexpr size_t kClientOutMax = 1 << 20;        // a serial client this far behind is dropped
constexpr size_t kMaxSerialClients = 32;         // as the VNC server's (rfb::Server::kMaxClients)
constexpr char kTooManySerial[] = "too many serial clients\n";
constexpr size_t kControlLineMax = 65536;

int exit_code(vmm::ExitKind k) {
    switch (k) {
        case vmm::ExitKind::Poweroff: return 0;
        case vmm::ExitKind::Reset: return 10;
        case vmm::ExitKind::TripleFault: return 11;
        case vmm::ExitKind::InternalError: return 12;
        case vmm::ExitKind::FailEntry: return 13;
        case vmm::ExitKind::VmmError: return 14;
        case vmm::ExitKind::Stopped: return 15;
        case vmm::ExitKind::None: break;
    }
    return 1;
}

// One line on stderr: a message never spans lines.
void line(const std::string& msg) {
    std::string s;
    for (char c : msg) s += (c == '\n' || c == '\r') ? ' ' : c;
    s += '\n';
    if (::write(2, s.data(), s.size()) < 0) {
    }
}

bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd pf{fd, POLLOUT, 0};
                ::poll(&pf, 1, 1000);
                continue;
            }
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// What the vCPU threads hand to the loop.
struct Events {
    std::mutex mu;
    std::vector<uint8_t> serial;
    uint64_t dropped = 0;
    bool space = false;
    bool exited = false;
    vmm::ExitReason exit;
    int fd = -1;  // eventfd
    void wake() {
        uint64_t one = 1;
        if (::write(fd, &one, sizeof one) < 0) {
        }
    }
};

struct Client {
    int fd;
    bool control;
    std::string in, out;
};

int listen_unix(const std::string& path, std::string* err) {
    sockaddr_un a{};
    if (path.size() >= sizeof a.sun_path) {
        *err = "path too long";
        return -1;
    }
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
        *err = std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return -1;
    }
    return fd;
}

std::string num(uint64_t v) { return std::to_string(v); }

uint64_t rss_bytes() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, rss = 0;
    int n = std::fscanf(f, "%lu %lu", &size, &rss);
    std::fclose(f);
    return n == 2 ? static_cast<uint64_t>(rss) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

class Runner {
public:
    explicit Runner(Options o) : o_(std::move(o)) {}

    int run() {
        ::prctl(PR_SET_NAME, "kvmpanel-vm", 0, 0, 0);
        ::signal(SIGPIPE, SIG_IGN);
        // Blocked before any thread exists, so only the signalfd sees them.
        sigset_t sigs;
        sigemptyset(&sigs);
        for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
        pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
        sfd_ = ::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        ev_->fd = efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (sfd_ < 0 || efd_ < 0) return fail(1, std::string("error: ") + std::strerror(errno));

        try {
            m_ = std::make_unique<vmm::Machine>(o_.machine);
        } catch (const std::exception& e) {
            return fail(2, std::string("error: ") + e.what());  // the one line a bad config gets
        }
        if (kvm::System::is_pvm_host()) line(std::string("note: ") + kvm::System::pvm_notice());
        auto ev = ev_;
        m_->set_serial_sink([ev](const uint8_t* p, size_t n) {
            std::lock_guard<std::mutex> g(ev->mu);
            if (ev->serial.size() + n > kSerialBacklogMax) {
                ev->dropped += n;
                return;
            }
            bool was_empty = ev->serial.empty();
            ev->serial.insert(ev->serial.end(), p, p + n);
            if (was_empty) ev->wake();  // one wakeup per batch
        });
        m_->set_serial_space_callback([ev] {
            std::lock_guard<std::mutex> g(ev->mu);
            ev->space = true;
            ev->wake();
        });
        m_->set_exit_callback([ev](const vmm::ExitReason& r) {
            std::lock_guard<std::mutex> g(ev->mu);
            ev->exited = true;
            ev->exit = r;
            ev->wake();
        });

        if (o_.serial == "stdio") {
            stdin_open_ = true;
            stdin_flags_ = ::fcntl(0, F_GETFL);
            if (stdin_flags_ >= 0) ::fcntl(0, F_SETFL, stdin_flags_ | O_NONBLOCK);
            if (::isatty(0) && ::tcgetattr(0, &saved_tty_) == 0) {
                termios raw = saved_tty_;
                ::cfmakeraw(&raw);
                raw.c_oflag |= OPOST | ONLCR;  // keep the VMM's own lines readable
                ::tcsetattr(0, TCSANOW, &raw);
                tty_raw_ = true;
                line("serial: this terminal is COM1 (Ctrl-A x quits)");
            }
        } else if (o_.serial == "unix") {
            std::string err;
            serial_lfd_ = listen_unix(o_.serial_path, &err);
            if (serial_lfd_ < 0) {
                line("error: serial socket " + o_.serial_path + ": " + err);
                stop_after_start_ = true;
            }
        }
        if (!o_.vnc_path.empty()) {
            // The RFB server runs on its own thread (vmm-vnc).
            std::string err;
            try {
                vnc_display_ = std::make_unique<vmm::rfb::MachineDisplay>(*m_);
                vnc_ = std::make_unique<vmm::rfb::Server>(*vnc_display_, o_.name.empty() ? "vm" : o_.name);
                if (!vnc_->listen_unix(o_.vnc_path, &err)) throw std::runtime_error("vnc socket " + o_.vnc_path + ": " + err);
            } catch (const std::exception& e) {
                vnc_.reset();
                return fail(2, std::string("error: ") + e.what());
            }
        }
        if (!o_.control_path.empty()) {
            std::string err;
            control_lfd_ = listen_unix(o_.control_path, &err);
            if (control_lfd_ < 0) {
                line("error: control socket " + o_.control_path + ": " + err);
                stop_after_start_ = true;
            }
        }
        if (!o_.pid_file.empty()) {
            FILE* f = std::fopen(o_.pid_file.c_str(), "w");
            if (f) {
                std::fprintf(f, "%d\n", static_cast<int>(::getpid()));
                std::fclose(f);
            }
        }
        try {
            m_->start();
            if (vnc_) vnc_->start();
        } catch (const std::exception& e) {
            return fail(1, std::string("error: ") + e.what());
        }
        if (stop_after_start_) m_->stop();
        return loop();
    }

private:
    int fail(int code, const std::string& msg) {
        cleanup();
        line(msg);
        return code;
    }

    void cleanup() {
        vnc_.reset();  // its thread reads the framebuffer: gone before the machine
        if (tty_raw_) ::tcsetattr(0, TCSANOW, &saved_tty_);
        tty_raw_ = false;
        // A terminal shares its file description with stdout and the shell.
        if (stdin_flags_ >= 0) ::fcntl(0, F_SETFL, stdin_flags_);
        stdin_flags_ = -1;
        for (auto& [fd, c] : clients_) {
            if (!c.out.empty()) {
                ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
            }
            ::close(fd);
        }
        clients_.clear();
        if (serial_lfd_ >= 0) {
            ::close(serial_lfd_);
            ::unlink(o_.serial_path.c_str());
            serial_lfd_ = -1;
        }
        if (control_lfd_ >= 0) {
            ::close(control_lfd_);
            ::unlink(o_.control_path.c_str());
            control_lfd_ = -1;
        }
        if (!o_.pid_file.empty()) ::unlink(o_.pid_file.c_str());
    }

    int loop() {
        std::vector<pollfd> pf;
        std::vector<int> client_fds;
        for (;;) {
            pf.clear();
            client_fds.clear();
            pf.push_back({efd_, POLLIN, 0});
            pf.push_back({sfd_, POLLIN, 0});
            pf.push_back({stdin_open_ && !input_blocked_ ? 0 : -1, POLLIN, 0});
            pf.push_back({serial_lfd_, POLLIN, 0});
            pf.push_back({control_lfd_, POLLIN, 0});
            for (auto& [fd, c] : clients_) {
                short want = 0;
                if (c.control || !input_blocked_) want |= POLLIN;
                if (!c.out.empty()) want |= POLLOUT;
                pf.push_back({fd, want, 0});
                client_fds.push_back(fd);
            }
            if (::poll(pf.data(), pf.size(), -1) < 0) {
                if (errno == EINTR) continue;
                m_->stop();
            }
            if (pf[1].revents) on_signal();
            if (pf[2].revents) on_stdin();
            if (pf[3].revents & POLLIN) accept_client(serial_lfd_, false);
            if (pf[4].revents & POLLIN) accept_client(control_lfd_, true);
            for (size_t i = 0; i < client_fds.size(); ++i)
                if (pf[5 + i].revents) on_client(client_fds[i], pf[5 + i].revents);
            if (pf[0].revents) {
                uint64_t n;
                if (::read(efd_, &n, sizeof n) < 0) {
                }
                if (on_events()) return finish();
            }
        }
    }

    // Returns true once the VM has exited.
    bool on_events() {
        std::vector<uint8_t> serial;
        bool space, exited;
        {
            std::lock_guard<std::mutex> g(ev_->mu);
            serial.swap(ev_->serial);
            space = ev_->space;
            exited = ev_->exited;
            exit_ = ev_->exit;
            ev_->space = false;
        }
        if (!serial.empty()) output(serial.data(), serial.size());
        if (space) flush_input();
        return exited;
    }

    int finish() {
        m_->wait();  // every vCPU thread has left; joins
        exited_ = true;
        cleanup();
        line(std::string("vm: ") + vmm::exit_kind_name(exit_.kind) + ": " + exit_.message);
        return exit_code(exit_.kind);
    }

    void output(const uint8_t* p, size_t n) {
        ring_.push(p, n);
        if (o_.serial == "stdio") {
            if (!stdout_broken_ && !write_all(1, p, n)) stdout_broken_ = true;
            return;
        }
        for (auto& [fd, c] : clients_) {
            if (c.control) continue;
            // A client that cannot keep up loses the connection, never the VM its speed.
            if (c.out.size() > kClientOutMax) {
                drop_.push_back(fd);
                continue;
            }
            c.out.append(reinterpret_cast<const char*>(p), n);
        }
        drop_clients();
    }

    void push_input(const char* p, size_t n) {
        pending_.push(p, n);
        flush_input();
    }

    // Bytes the UART refused wait in pending_, in order, until it has space
    // again; meanwhile no more input is read.
    void flush_input() {
        input_blocked_ = !pending_.flush([this](const uint8_t* p, size_t n) { return m_->write_serial(p, n); });
    }

    void on_signal() {
        signalfd_siginfo si;
        while (::read(sfd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        }
        m_->stop();
    }

    void on_stdin() {
        char buf[4096];
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            stdin_open_ = false;  // EOF: the VM keeps running
            return;
        }
        if (!tty_raw_) return push_input(buf, static_cast<size_t>(n));
        // Ctrl-A x leaves, as in QEMU's -nographic; Ctrl-A Ctrl-A sends one Ctrl-A.
        std::string out;
        for (ssize_t i = 0; i < n; ++i) {
            char b = buf[i];
            if (saw_ctrl_a_) {
                saw_ctrl_a_ = false;
                if (b == 'x') {
                    m_->stop();
                    return;
                }
                out += b;
            } else if (b == 0x01) {
                saw_ctrl_a_ = true;
            } else {
                out += b;
            }
        }
        if (!out.empty()) push_input(out.data(), out.size());
    }

    void accept_client(int lfd, bool control) {
        for (;;) {
            int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            Client c{fd, control, {}, {}};
            if (!control) {
                // Bounded like VNC: each serial client may hold 1 MiB of backlog.
                if (serial_clients() >= kMaxSerialClients) {
                    // A fresh socket's buffer takes the one line; never wait for it.
                    ssize_t w = ::send(fd, kTooManySerial, sizeof kTooManySerial - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                    (void)w;
                    ::close(fd);
                    continue;
                }
                c.out = ring_.contents();
            }
            clients_[fd] = std::move(c);
        }
    }

    void on_client(int fd, short revents) {
        auto it = clients_.find(fd);
        if (it == clients_.end()) return;
        Client& c = it->second;
        if (revents & POLLOUT && !c.out.empty()) {
            ssize_t w = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (w > 0) c.out.erase(0, static_cast<size_t>(w));
            else if (w < 0 && errno != EAGAIN) return close_client(fd);
        }
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n <= 0) return close_client(fd);
            if (!c.control) return push_input(buf, static_cast<size_t>(n));
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.size() > kControlLineMax) return close_client(fd);
            size_t nl;
            while ((nl = c.in.find('\n')) != std::string::npos) {
                std::string text = c.in.substr(0, nl);
                c.in.erase(0, nl + 1);
                if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
                c.out += control(text) + "\n";
            }
        }
    }

    size_t serial_clients() const {
        size_t n = 0;
        for (const auto& [fd, c] : clients_) n += !c.control;
        return n;
    }

    void close_client(int fd) {
        ::close(fd);
        clients_.erase(fd);
    }

    void drop_clients() {
        for (int fd : drop_) close_client(fd);
        drop_.clear();
    }

    std::string control(const std::string& text) {
        auto msg = runner::parse_object(text);
        if (!msg) return R"({"ok":false,"error":"bad JSON"})";
        auto get_num = [&](const char* k) -> double {
            auto it = msg->find(k);
            return it != msg->end() && it->second.kind == runner::JsonValue::Number ? it->second.n : 0;
        };
        auto cmd_it = msg->find("cmd");
        std::string cmd = cmd_it != msg->end() && cmd_it->second.kind == runner::JsonValue::String ? cmd_it->second.s : "";
        if (cmd == "status") return status();
        if (cmd == "stop") {
            m_->stop();
            return R"({"ok":true})";
        }
        if (cmd == "key") {
            auto d = msg->find("down");
            bool down = d != msg->end() && d->second.kind == runner::JsonValue::Bool && d->second.b;
            m_->key_event(static_cast<uint16_t>(static_cast<uint32_t>(get_num("qnum")) & 0xffff), down);
            return R"({"ok":true})";
        }
        if (cmd == "powerbutton") {
            m_->power_button();
            return R"({"ok":true})";
        }
        if (cmd == "pointer") {
            m_->pointer_event(static_cast<int32_t>(get_num("x")), static_cast<int32_t>(get_num("y")),
                              static_cast<uint32_t>(get_num("buttons")), static_cast<int32_t>(get_num("wheel")));
            return R"({"ok":true})";
        }
        return R"({"ok":false,"error":"unknown cmd"})";
    }

    std::string status() {
        vmm::ExitReason r = m_->exit_reason();
        bool ended = r.kind != vmm::ExitKind::None && !m_->running();
        std::string s = R"({"ok":true,"state":")" + std::string(ended ? "exited" : "running") + R"(","exit":)";
        s += ended ? R"({"reason":")" + std::string(vmm::exit_kind_name(r.kind)) + R"(","message":)" +
                         runner::json_quote(r.message) + "}"
                   : "null";
        s += R"(,"pid":)" + std::to_string(::getpid()) + R"(,"framebuffer":)";
        vmm::FramebufferInfo f = m_->framebuffer();
        if (!f.base) s += "null";
        else
            s += R"({"width":)" + num(uint64_t{f.width}) + R"(,"height":)" + num(uint64_t{f.height}) + R"(,"stride":)" +
                 num(uint64_t{f.stride}) + R"(,"bpp":)" + num(uint64_t{f.bpp}) + R"(,"enabled":)" +
                 (f.enabled ? "true" : "false") + R"(,"size":)" + num(f.size) + "}";
        vmm::MachineStats st = m_->stats();
        s += R"(,"stats":{"vcpus":[)";
        for (size_t i = 0; i < st.vcpus.size(); ++i) {
            const auto& v = st.vcpus[i];
            s += (i ? "," : "") + std::string(R"({"cpuNs":)") + num(v.cpu_ns) + R"(,"exits":)" + num(v.exits) +
                 R"(,"ioExits":)" + num(v.io_exits) + R"(,"mmioExits":)" + num(v.mmio_exits) + "}";
        }
        s += R"(],"devices":{)";
        for (const auto& d : st.devices) {
            s += runner::json_quote(d.name) + ":{";
            for (size_t i = 0; i < d.counters.size(); ++i)
                s += (i ? "," : "") + runner::json_quote(d.counters[i].first) + ":" + num(d.counters[i].second);
            s += "},";
        }
        uint64_t dropped;
        {
            std::lock_guard<std::mutex> g(ev_->mu);
            dropped = ev_->dropped;
        }
        s += R"("serial":{"droppedBytes":)" + num(dropped) + R"(}},"ramBytes":)" + num(st.ram_bytes) + "}";
        s += R"(,"vnc":)";
        if (!vnc_) s += "null";
        else {
            vmm::rfb::ServerStats v = vnc_->stats();
            s += R"({"clients":)" + num(v.clients) + R"(,"accepted":)" + num(v.accepted) + R"(,"closedBad":)" +
                 num(v.closed_bad) + R"(,"collections":)" + num(v.collections) + R"(,"changedRects":)" +
                 num(v.changed_rects) + R"(,"missedRects":)" + num(v.missed_rects) + R"(,"updates":)" + num(v.updates) +
                 R"(,"updateBytes":)" + num(v.update_bytes) + R"(,"cpuNs":)" + num(v.cpu_ns) + R"(,"lastUpdateBytes":)" +
                 num(v.last_update_bytes) + R"(,"lastUpdateRects":)" + num(v.last_update_rects) +
                 R"(,"lastUpdateCpuNs":)" + num(v.last_update_cpu_ns) + R"(,"cutTextBytes":)" + num(v.cut_text_bytes) +
                 "}";
        }
        s += R"(,"rssBytes":)" + num(rss_bytes()) + "}";
        return s;
    }

    Options o_;
    std::unique_ptr<vmm::Machine> m_;
    std::unique_ptr<vmm::rfb::MachineDisplay> vnc_display_;
    std::unique_ptr<vmm::rfb::Server> vnc_;
    std::shared_ptr<Events> ev_ = std::make_shared<Events>();
    vmm::ExitReason exit_;
    bool exited_ = false;
    int efd_ = -1, sfd_ = -1, serial_lfd_ = -1, control_lfd_ = -1;
    std::map<int, Client> clients_;
    std::vector<int> drop_;
    runner::OutputRing ring_{kRingBytes};
    runner::InputQueue pending_;
    bool input_blocked_ = false;
    bool stdin_open_ = false;
    bool stdout_broken_ = false;
    bool stop_after_start_ = false;
    bool tty_raw_ = false;
    int stdin_flags_ = -1;
    bool saw_ctrl_a_ = false;
    termios saved_tty_{};
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    Options o;
    try {
        // One argument that is not a flag: CONFIG.json (the agent's way).
        if (args.size() == 1 && args[0].rfind("-", 0) != 0) o = runner::parse_config_file(args[0]);
        else o = runner::parse_args(args);
    } catch (const std::exception& e) {
        line(std::string("error: ") + e.what());
        return 2;
    }
    if (o.help) {
        std::printf("%s\n", runner::kUsage);
        return 0;
    }
    Runner r(std::move(o));
    int code = r.run();
    // Skip static destructors: the machine is already joined and torn down.
    std::fflush(stdout);
    ::_exit(code);
}
