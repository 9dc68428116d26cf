// The RFB server of one VM: one thread ("vmm-vnc") with epoll over the
// listening unix socket, the clients, a timerfd (collection tick) and an
// eventfd (wake-up / stop).
//
// Change tracking: while some client waits for an update, ONE collector runs
// every kIntervalNs (12 ms; every 2 ms for 100 ms after client input, so an
// echoed key shows fast; every 33 ms after a second without change): it takes the
// display's dirty rows (KVM dirty log), copies each dirty row once, compares
// it with the server's shadow framebuffer, turns the differences into exact
// rectangles and adds them to every client's damage (collect.h). When the
// guest scrolled, clients that take CopyRect get the move as a CopyRect plus
// only the rows it does not explain. Clients are encoded
// from the shadow, never from guest memory, so what was compared is what is
// sent. A client gets its next update only after the previous one has been
// written out (a stalled client costs at most one frame of memory).
//
// Stopping (the VM exited, or the owner shuts the server down) first gives
// the viewers the last picture: one more collection (the guest's memory is
// still mapped), then the pending update to every client that asks for one,
// within kFinalUpdateNs in all; input is ignored meanwhile, and a stalled
// client only costs that bound.
//
//   rfb::Server s(display, "vm name");
//   s.listen_unix("/run/vm.vnc", &err);   // or add_client(fd)
//   s.start();  ...  s.stop();            // the destructor stops too
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rfb/collect.h"
#include "rfb/session.h"

namespace vmm::rfb {

// What the server needs from the machine (vmm::Machine via MachineDisplay,
// or a fake in tests). Called on the server thread only, except input.
class Display : public InputSink {
public:
    virtual Surface surface() = 0;
    // Row ranges [first, end) written since the previous call.
    virtual std::vector<std::pair<uint32_t, uint32_t>> dirty_rows() = 0;
};

struct ServerStats {
    uint64_t clients = 0;          // connected now
    uint64_t accepted = 0, closed_bad = 0;
    uint64_t collections = 0, changed_rects = 0;
    uint64_t missed_rects = 0;     // changes found by the safety sweep, not the dirty log
    uint64_t moves = 0;            // collections that found a scroll (a Move)
    uint64_t copy_rects = 0;       // CopyRect rectangles sent, all clients
    uint64_t updates = 0, update_bytes = 0;
    uint64_t cpu_ns = 0;           // the server thread's CPU time
    uint64_t last_update_bytes = 0, last_update_rects = 0;
    uint64_t last_update_cpu_ns = 0;  // encode time of the last update
    uint64_t cut_text_bytes = 0;   // length of the latest ClientCutText
};

class Server {
public:
    static constexpr uint64_t kIntervalNs = 12'000'000;    // collection tick
    static constexpr uint64_t kFastIntervalNs = 2'000'000;  // for a moment after input
    static constexpr uint64_t kFastWindowNs = 100'000'000;
    static constexpr uint64_t kIdleIntervalNs = 33'000'000;  // nothing changed for kIdleAfterNs
    static constexpr uint64_t kIdleAfterNs = 1'000'000'000;
    static constexpr size_t kMaxClients = 32;
    static constexpr uint64_t kFinalUpdateNs = 100'000'000;  // stop(): time for the last update

    using Log = std::function<void(const std::string&)>;

    explicit Server(Display& display, std::string name = "kvmpanel", Log log = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Before start(): listen on a unix socket (an old socket file is replaced; mode 0600).
    bool listen_unix(const std::string& path, std::string* err);
    void start();
    // Joins the server thread, sends the last update (at most final_ns, 0:
    // none, see above), then closes every client and the socket. The display
    // must still be readable. The destructor calls stop().
    void stop(uint64_t final_ns = kFinalUpdateNs);
    // Adopts a connected socket (e.g. one end of a socketpair). Any thread.
    void add_client(int fd);
    // Ask for a collection soon (e.g. the guest changed mode). Any thread.
    void wake();

    ServerStats stats() const;
    // The latest ClientCutText of any client (the UI offers paste-as-typing).
    std::string cut_text() const;

private:
    struct Client {
        int fd = -1;
        std::unique_ptr<Session> session;
        size_t sent = 0;  // bytes of session->out() already written
        bool want_out = false;  // EPOLLOUT registered
    };

    // Sessions report input here (server thread): forwards to the display
    // and remembers when, to collect faster while the guest reacts.
    struct InputProxy : InputSink {
        Server* s;
        explicit InputProxy(Server* srv) : s(srv) {}
        void key_event(uint16_t qnum, bool down) override;
        void pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel) override;
    };

    void run();
    void new_client(int fd);
    void accept_all();
    void drain_adds();
    void client_readable(Client& c);
    bool flush(Client& c);  // false: closed
    void close_client(int fd, std::string why, bool bad);  // why by value: it may live in the session
    void collect();
    void service();  // updates for clients that can take one
    void arm();      // timer for the next collection if anyone waits
    void final_update(uint64_t budget_ns);  // after the thread has gone
    uint64_t now_ns() const;

    Display& display_;
    std::string name_;
    Log log_;
    int ep_ = -1, listen_fd_ = -1, timer_fd_ = -1, event_fd_ = -1;
    std::string path_;
    std::thread thread_;
    std::atomic<bool> stopping_{false}, wake_{false};
    bool final_ = false;  // in final_update(): client input is dropped
    InputProxy proxy_{this};

    mutable std::mutex mu_;  // adds_, stats_, cut_text_
    std::vector<int> adds_;
    ServerStats stats_;
    std::string cut_text_;

    // Server thread only.
    std::map<int, Client> clients_;
    Collector col_;  // the shadow and change detection
    uint64_t last_collect_ = 0, armed_at_ = 0, last_input_ = 0, last_change_ = 0;
    uint64_t collections_ = 0, changed_rects_ = 0, missed_rects_ = 0, moves_ = 0;
};

}  // namespace vmm::rfb
