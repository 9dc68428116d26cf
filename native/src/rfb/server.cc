#include "rfb/server.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace vmm::rfb {

namespace {

uint64_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

void Server::InputProxy::key_event(uint16_t qnum, bool down) {
    if (s->final_) return;  // the machine is going away
    s->last_input_ = s->now_ns();
    s->display_.key_event(qnum, down);
}

void Server::InputProxy::pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel) {
    if (s->final_) return;
    s->last_input_ = s->now_ns();
    s->display_.pointer_event(x, y, buttons, wheel);
}

Server::Server(Display& display, std::string name, Log log)
    : display_(display), name_(std::move(name)), log_(std::move(log)) {
    if (!log_) log_ = [](const std::string& m) { std::fprintf(stderr, "vnc: %s\n", m.c_str()); };
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep_ < 0 || timer_fd_ < 0 || event_fd_ < 0) throw std::runtime_error(std::string("vnc: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = timer_fd_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, timer_fd_, &ev);
    ev.data.fd = event_fd_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, event_fd_, &ev);
}

Server::~Server() {
    stop();
    for (int fd : adds_) ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::close(timer_fd_);
    ::close(event_fd_);
    ::close(ep_);
}

uint64_t Server::now_ns() const {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

bool Server::listen_unix(const std::string& path, std::string* err) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
        if (err) *err = "socket path too long";
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (err) *err = std::strerror(errno);
        return false;
    }
    ::unlink(path.c_str());  // a stale socket from an earlier run
    // Security type None: the socket is the owner's only (0600), and every
    // connection's peer uid is checked too (no window between bind and
    // chmod, and no process-wide umask change).
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc < 0 || ::chmod(path.c_str(), 0600) < 0 || ::listen(fd, 16) < 0) {
        if (err) *err = std::strerror(errno);
        ::close(fd);
        return false;
    }
    listen_fd_ = fd;
    path_ = path;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return true;
}

void Server::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "vmm-vnc");
        run();
    });
}

void Server::stop(uint64_t final_ns) {
    stopping_ = true;
    uint64_t one = 1;
    if (::write(event_fd_, &one, sizeof one) < 0) { /* counter full: already signalled */ }
    if (thread_.joinable()) {
        thread_.join();
        // The thread's state is ours now (clients_, col_): same single owner.
        if (final_ns) final_update(final_ns);
    }
    for (auto& [fd, c] : clients_) ::close(fd);
    clients_.clear();
    if (!path_.empty()) {
        ::unlink(path_.c_str());
        path_.clear();
    }
}

void Server::add_client(int fd) {
    {
        std::lock_guard<std::mutex> g(mu_);
        adds_.push_back(fd);
    }
    uint64_t one = 1;
    if (::write(event_fd_, &one, sizeof one) < 0) { /* already signalled */ }
}

void Server::wake() {
    wake_ = true;
    uint64_t one = 1;
    if (::write(event_fd_, &one, sizeof one) < 0) { /* already signalled */ }
}

ServerStats Server::stats() const {
    std::lock_guard<std::mutex> g(mu_);
    return stats_;
}

std::string Server::cut_text() const {
    std::lock_guard<std::mutex> g(mu_);
    return cut_text_;
}

void Server::run() {
    epoll_event evs[64];
    while (!stopping_) {
        int n = epoll_wait(ep_, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            log_(std::string("epoll: ") + std::strerror(errno));
            break;
        }
        for (int i = 0; i < n && !stopping_; ++i) {
            int fd = evs[i].data.fd;
            uint32_t e = evs[i].events;
            if (fd == event_fd_) {
                uint64_t v;
                while (::read(event_fd_, &v, sizeof v) > 0) {}
                drain_adds();
            } else if (fd == listen_fd_) {
                accept_all();
            } else if (fd == timer_fd_) {
                uint64_t v;
                while (::read(timer_fd_, &v, sizeof v) > 0) {}
                armed_at_ = 0;
                collect();
            } else {
                auto it = clients_.find(fd);
                if (it == clients_.end()) continue;
                if ((e & EPOLLOUT) && !flush(it->second)) continue;
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) client_readable(it->second);
            }
        }
        if (stopping_) break;
        service();
        arm();
        std::lock_guard<std::mutex> g(mu_);
        stats_.cpu_ns = thread_cpu_ns();
        stats_.clients = clients_.size();
        stats_.collections = collections_;
        stats_.changed_rects = changed_rects_;
        stats_.missed_rects = missed_rects_;
        stats_.moves = moves_;
    }
}

void Server::drain_adds() {
    std::vector<int> fds;
    {
        std::lock_guard<std::mutex> g(mu_);
        fds.swap(adds_);
    }
    for (int fd : fds) new_client(fd);
}

void Server::accept_all() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN, or out of fds: try at the next event
        }
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != geteuid() && cred.uid != 0)) {
            log_("refusing a client of uid " + std::to_string(cred.uid));
            ::close(fd);
            continue;
        }
        new_client(fd);
    }
}

void Server::new_client(int fd) {
    if (clients_.size() >= kMaxClients) {
        log_("refusing a client: " + std::to_string(kMaxClients) + " connected");
        ::close(fd);
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    uint32_t w, h;
    if (col_.have()) {
        w = col_.width();
        h = col_.height();
    } else {
        Collector::Geometry g = Collector::geometry(display_.surface());
        w = g.width;
        h = g.height;
    }
    Client& c = clients_[fd];
    c.fd = fd;
    c.session = std::make_unique<Session>(&proxy_, name_, w, h);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    {
        std::lock_guard<std::mutex> g(mu_);
        stats_.accepted++;
    }
    flush(c);
}

void Server::close_client(int fd, std::string why, bool bad) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    clients_.erase(it);
    if (bad) {
        log_("client closed: " + why);
        std::lock_guard<std::mutex> g(mu_);
        stats_.closed_bad++;
    }
}

void Server::client_readable(Client& c) {
    uint8_t buf[65536];
    uint64_t cuts = c.session->cut_text_count();
    // Bounded per wakeup so one chatty client cannot starve the others.
    for (int i = 0; i < 16; ++i) {
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n == 0) return close_client(c.fd, "disconnected", false);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return close_client(c.fd, std::strerror(errno), false);
        }
        if (!c.session->receive(buf, size_t(n))) return close_client(c.fd, c.session->reason(), true);
    }
    if (c.session->cut_text_count() != cuts) {
        std::lock_guard<std::mutex> g(mu_);
        cut_text_ = c.session->cut_text();
        stats_.cut_text_bytes = cut_text_.size();
    }
    flush(c);
}

bool Server::flush(Client& c) {
    std::vector<uint8_t>& out = c.session->out();
    while (c.sent < out.size()) {
        ssize_t n = ::send(c.fd, out.data() + c.sent, out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            close_client(c.fd, std::strerror(errno), false);
            return false;
        }
        c.sent += size_t(n);
    }
    bool pending = c.sent < out.size();
    if (!pending) {
        out.clear();
        if (out.capacity() > (8u << 20)) out.shrink_to_fit();
        c.sent = 0;
    }
    if (pending != c.want_out) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | (pending ? EPOLLOUT : 0u);
        ev.data.fd = c.fd;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        c.want_out = pending;
    }
    return true;
}

void Server::collect() {
    last_collect_ = now_ns();
    ++collections_;
    wake_ = false;
    Surface s = display_.surface();
    std::vector<std::pair<uint32_t, uint32_t>> rows = display_.dirty_rows();
    bool moves = false;  // scroll detection only pays if someone can take a CopyRect
    for (auto& [fd, c] : clients_) moves |= c.session->can_copy();
    bool first = !col_.have();
    Changes ch = col_.collect(s, rows, moves);
    if (ch.reset) {
        // New mode (or the first look): full update for all.
        for (auto& [fd, c] : clients_)
            if (!first || c.session->width() != col_.width() || c.session->height() != col_.height())
                c.session->resize(col_.width(), col_.height());
        return;
    }
    missed_rects_ += ch.missed;
    changed_rects_ += ch.rects.size();
    if (!ch.rects.empty()) last_change_ = last_collect_;
    if (ch.has_move) ++moves_;
    for (auto& [fd, c] : clients_) {
        // A client takes the move only if it is relative to what it holds
        // (Session::move decides); otherwise it gets every change.
        const std::vector<Rect>& rects = ch.has_move && c.session->move(ch.move) ? ch.rest : ch.rects;
        for (const Rect& r : rects) c.session->damage(r);
    }
}

void Server::service() {
    bool need_shadow = false, full = false;
    for (auto& [fd, c] : clients_) {
        if (c.session->has_work()) need_shadow = true;
        if (c.session->wants_full()) full = true;
    }
    // A full-screen request gets the screen as it is now, not as of the
    // last tick (the collector may have been idle).
    if ((need_shadow && !col_.have()) || (full && now_ns() - last_collect_ > 1'000'000)) collect();
    if (!col_.have()) return;
    Frame f = col_.frame();
    std::vector<int> bad;
    for (auto& [fd, c] : clients_) {
        if (!c.session->has_work() || c.sent < c.session->out().size()) continue;
        uint64_t t0 = thread_cpu_ns();
        if (!c.session->update(f)) {
            bad.push_back(fd);
            continue;
        }
        uint64_t t1 = thread_cpu_ns();
        const UpdateStats& us = c.session->stats();
        {
            std::lock_guard<std::mutex> g(mu_);
            stats_.updates++;
            stats_.update_bytes += us.last_bytes;
            stats_.last_update_bytes = us.last_bytes;
            stats_.last_update_rects = us.last_rects;
            stats_.last_update_cpu_ns = t1 - t0;
            stats_.copy_rects += us.last_copies;
        }
        flush(c);  // may close the client: iterate on a copy of nothing else
        if (clients_.find(fd) == clients_.end()) break;  // map changed under us
    }
    for (int fd : bad) close_client(fd, clients_[fd].session->reason(), true);
}

void Server::arm() {
    bool waiting = false;
    for (auto& [fd, c] : clients_)
        if (c.session->wants_update() && c.sent == c.session->out().size()) waiting = true;
    itimerspec its{};
    if (!waiting) {
        if (armed_at_) {
            timerfd_settime(timer_fd_, 0, &its, nullptr);
            armed_at_ = 0;
        }
        return;
    }
    uint64_t now = now_ns();
    // Fast for a moment after input (the guest is about to echo), slower
    // when the screen has been still for a while.
    uint64_t interval = (last_input_ && now - last_input_ < kFastWindowNs) ? kFastIntervalNs
                        : now - last_change_ > kIdleAfterNs                 ? kIdleIntervalNs
                                                                            : kIntervalNs;
    uint64_t at = wake_ ? now : last_collect_ + interval;
    if (at <= now) at = now + 1;  // 0 would disarm
    if (armed_at_ && armed_at_ <= at) return;
    its.it_value.tv_sec = time_t(at / 1'000'000'000ull);
    its.it_value.tv_nsec = long(at % 1'000'000'000ull);
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
    armed_at_ = at;
}

// Without this a viewer never sees what the guest drew just before it
// exited (its last console line): the collector ticks every 12-33 ms, the
// exit comes at once. Runs on stop()'s thread after the join, with a poll()
// loop of its own over the clients that still need something.
void Server::final_update(uint64_t budget_ns) {
    if (clients_.empty()) return;
    final_ = true;
    const uint64_t deadline = now_ns() + budget_ns;
    collect();
    std::vector<pollfd> pf;
    for (;;) {
        service();
        // Still owed: bytes not yet written, or changes the client has not
        // asked for yet (its next request is usually in flight).
        pf.clear();
        for (auto& [fd, c] : clients_) {
            bool unsent = c.sent < c.session->out().size();
            if (unsent || c.session->has_pending()) pf.push_back({fd, short(POLLIN | (unsent ? POLLOUT : 0)), 0});
        }
        uint64_t now = now_ns();
        if (pf.empty() || now >= deadline) break;
        int ms = int((deadline - now + 999'999) / 1'000'000);
        int n = ::poll(pf.data(), nfds_t(pf.size()), ms);
        if (n < 0 && errno != EINTR) break;
        for (const pollfd& p : pf) {
            auto it = clients_.find(p.fd);
            if (it == clients_.end() || !p.revents) continue;
            if ((p.revents & POLLOUT) && !flush(it->second)) continue;
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) client_readable(it->second);
        }
    }
    std::lock_guard<std::mutex> g(mu_);
    stats_.clients = clients_.size();
}

}  // namespace vmm::rfb
