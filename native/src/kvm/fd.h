// RAII file descriptor and the one error type of the KVM layer.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace kvm {

// Every failing ioctl becomes an exception whose message names the call and
// carries errno's text, so the VM's one-line exit reason says what broke.
class Error : public std::runtime_error {
public:
    Error(const std::string& what, int err)
        : std::runtime_error(what + ": " + std::strerror(err)), errno_(err) {}
    explicit Error(const std::string& what) : std::runtime_error(what), errno_(0) {}
    int err() const { return errno_; }

private:
    int errno_;
};

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace kvm
