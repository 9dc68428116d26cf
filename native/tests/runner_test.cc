// The VM runner's pure parts: flags (`npm run vm -- ...`), CONFIG.json, the
// JSON reader of the control socket, the serial output ring and input queue.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "runner/args.h"
#include "runner/json.h"
#include "runner/serial_buffers.h"

namespace {

using runner::Options;

// The message of the std::invalid_argument `fn` throws ("" if none).
template <typename F>
std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

// CHECK_EQ prints numbers; strings get their own.
#define CHECK_STR(a, b)                                                                                  \
    do {                                                                                                 \
        std::string _a = (a), _b = (b);                                                                  \
        if (_a != _b) ::check::fail(__FILE__, __LINE__, std::string(#a) + ": '" + _a + "' != '" + _b + "'"); \
    } while (0)

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string args_error(std::vector<std::string> a) {
    return error_of([&] { runner::parse_args(a); });
}

// Writes `text` to a temporary file, parses it as CONFIG.json.
struct ConfigFile {
    std::string path;
    explicit ConfigFile(const std::string& text) {
        char tmpl[] = "/tmp/runner-test-XXXXXX";
        int fd = ::mkstemp(tmpl);
        CHECK(fd >= 0);
        path = tmpl;
        CHECK_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
        ::close(fd);
    }
    ~ConfigFile() { ::unlink(path.c_str()); }
    Options parse() const { return runner::parse_config_file(path); }
    std::string error() const {
        return error_of([&] { parse(); });
    }
};

std::string ring_of(runner::OutputRing& r) { return r.contents(); }
void push(runner::OutputRing& r, const std::string& s) { r.push(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

}  // namespace

TEST(runner_args_every_option) {
    Options o = runner::parse_args({"--kernel", "/k", "--initrd=/i", "--cmdline", "console=ttyS0", "--disk", "/a.img",
                                    "--disk", "/b.img,ro", "--vcpus", "2", "--memory", "128", "--serial", "unix:/tmp/s",
                                    "--vnc", "unix:/tmp/v", "--net", "tap:tap0,mac=52:54:00:00:00:01", "--framebuffer",
                                    "800x600", "--control", "unix:/tmp/c", "--pid-file", "/tmp/p", "--name", "web1"});
    const auto& m = o.machine;
    CHECK_STR(m.kernel_path, "/k");
    CHECK_STR(m.initrd_path, "/i");
    CHECK_STR(m.cmdline, "console=ttyS0");
    CHECK_EQ(m.disks.size(), size_t{2});
    CHECK_STR(m.disks[0].path, "/a.img");
    CHECK(!m.disks[0].readonly);
    CHECK_STR(m.disks[1].path, "/b.img");
    CHECK(m.disks[1].readonly);
    CHECK_EQ(m.vcpus, 2u);
    CHECK_EQ(m.ram_mib, 128u);
    CHECK_STR(o.serial, "unix");
    CHECK_STR(o.serial_path, "/tmp/s");
    CHECK_STR(o.vnc_path, "/tmp/v");
    CHECK_STR(m.tap, "tap0");
    CHECK_STR(m.mac, "52:54:00:00:00:01");
    CHECK_EQ(m.fb_width, 800u);
    CHECK_EQ(m.fb_height, 600u);
    CHECK_STR(o.control_path, "/tmp/c");
    CHECK_STR(o.pid_file, "/tmp/p");
    CHECK_STR(o.name, "web1");
    CHECK(!o.help);
}

TEST(runner_args_defaults) {
    Options o = runner::parse_args({"--kernel", "/k"});
    CHECK_EQ(o.machine.ram_mib, 256u);
    CHECK_EQ(o.machine.vcpus, 1u);
    CHECK_STR(o.serial, "stdio");
    CHECK_STR(o.machine.cmdline, "");
    CHECK_EQ(o.machine.fb_width, 1024u);
    CHECK_EQ(o.machine.fb_height, 768u);
    CHECK(o.machine.disks.empty());
    CHECK(o.machine.tap.empty());
    Options n = runner::parse_args({"--kernel", "/k", "--fb", "none", "--mem=64", "--serial", "none"});
    CHECK_EQ(n.machine.fb_width, 0u);
    CHECK_EQ(n.machine.fb_height, 0u);
    CHECK_EQ(n.machine.ram_mib, 64u);
    CHECK_STR(n.serial, "none");
    CHECK(runner::parse_args({"--help"}).help);
    CHECK(runner::parse_args({"-h", "--frob"}).help);  // help wins over what follows
}

TEST(runner_args_rejects_bad_arguments_in_one_line) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{}, "--kernel FILE is required"},
        {{"--kernel"}, "needs a value"},
        {{"--kernel", "/k", "--vcpus", "two"}, "whole number"},
        {{"--kernel", "/k", "--memory", "-1"}, "whole number"},
        {{"--kernel", "/k", "--memory", "99999999999"}, "whole number"},
        {{"--kernel", "/k", "--disk", "/a,rx"}, "unknown option"},
        {{"--kernel", "/k", "--disk", ",ro"}, "empty path"},
        {{"--kernel", "/k", "--serial", "tcp:1"}, "stdio"},
        {{"--kernel", "/k", "--serial", "unix:"}, "stdio"},
        {{"--kernel", "/k", "--vnc", "/tmp/v"}, "unix:PATH"},
        {{"--kernel", "/k", "--control", "tcp:1"}, "unix:PATH"},
        {{"--kernel", "/k", "--net", "user"}, "tap:NAME"},
        {{"--kernel", "/k", "--fb", "800"}, "WIDTHxHEIGHT"},
        {{"--kernel", "/k", "--fb", "800x600x2"}, "WIDTHxHEIGHT"},
        {{"--kernel", "/k", "--frob"}, "unknown argument '--frob'"},
        {{"--kernel", "/k", "stray"}, "unknown argument 'stray'"},
        {{"--kernel", "/k", "--memory", "8"}, "config: memoryMiB: memory: at least 16 MiB"},
        {{"--kernel", "/k", "--memory", "2000000"}, "config: memoryMiB: too big"},
        {{"--kernel", "/k", "--vcpus", "0"}, "vcpus"},
        {{"--kernel", "/k", "--vcpus", "65"}, "vcpus"},
        {{"--kernel", "/k", "--fb", "4000x100"}, "framebuffer"},
        {{"--kernel", "/k", "--fb", "100x2000"}, "framebuffer"},
        {{"--kernel", "/k", "--net", "tap:t,mac=zz"}, "MAC"},
        {{"--kernel", "/k", "--net", "tap:abcdefghijklmnop"}, "at most 15"},
    };
    for (const auto& [args, want] : bad) {
        std::string e = args_error(args);
        if (!contains(e, want)) check::fail(__FILE__, __LINE__, "args error '" + e + "' lacks '" + want + "'");
        CHECK(!contains(e, "\n"));
    }
}

TEST(runner_config_file_as_the_agent_writes_it) {
    ConfigFile f(R"({
      "id": "vm1", "name": "test", "memoryMiB": 64, "vcpus": 2, "kernel": "/k", "initrd": "/i", "cmdline": "quiet",
      "disks": [{"path": "/d.img"}, {"path": "/e.img", "readonly": true}],
      "net": {"tap": "tap7", "mac": "52:54:00:00:00:07"},
      "framebuffer": {"width": 640, "height": 480},
      "serial": "unix:/run/s", "control": "unix:/run/c", "vnc": "unix:/run/v", "pidFile": "/run/pid",
      "someday": {"new": ["keys"]}
    })");
    Options o = f.parse();
    CHECK_STR(o.name, "test");
    CHECK_EQ(o.machine.ram_mib, 64u);
    CHECK_EQ(o.machine.vcpus, 2u);
    CHECK_STR(o.machine.kernel_path, "/k");
    CHECK_STR(o.machine.initrd_path, "/i");
    CHECK_STR(o.machine.cmdline, "quiet");
    CHECK_EQ(o.machine.disks.size(), size_t{2});
    CHECK(!o.machine.disks[0].readonly);
    CHECK(o.machine.disks[1].readonly);
    CHECK_STR(o.machine.tap, "tap7");
    CHECK_STR(o.machine.mac, "52:54:00:00:00:07");
    CHECK_EQ(o.machine.fb_width, 640u);
    CHECK_STR(o.serial, "unix");
    CHECK_STR(o.serial_path, "/run/s");
    CHECK_STR(o.control_path, "/run/c");
    CHECK_STR(o.vnc_path, "/run/v");
    CHECK_STR(o.pid_file, "/run/pid");

    ConfigFile minimal(R"({"memoryMiB": 32, "vcpus": 1, "kernel": "/k", "framebuffer": null})");
    Options m = minimal.parse();
    CHECK_STR(m.serial, "stdio");
    CHECK_EQ(m.machine.fb_width, 0u);
}

TEST(runner_config_file_errors_are_one_line) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"{", "not valid JSON"},
        {"[]", "config: (root): expected an object"},
        {R"({"vcpus": 1, "kernel": "/k"})", "config: memoryMiB: required"},
        {R"({"memoryMiB": 4, "vcpus": 1, "kernel": "/k"})", "config: memoryMiB: memory: at least 16 MiB"},
        {R"({"memoryMiB": 64.5, "vcpus": 1, "kernel": "/k"})", "config: memoryMiB: expected an integer"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": 5})", "config: kernel: wrong type"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": ""})", "config: kernel: empty"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "disks": [{}]})", "config: disks.0.path: required"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "disks": [1]})", "config: disks.0: expected an object"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "serial": "tcp:1"})", "config: serial"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "vnc": "/v"})", "config: vnc: expected unix:PATH"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "net": {}})", "config: net.tap: required"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "framebuffer": {"width": 0, "height": 1}})", "framebuffer"},
        {R"({"memoryMiB": 64, "vcpus": 1, "kernel": "/k", "framebuffer": 3})", "config: framebuffer: wrong type"},
    };
    for (const auto& [text, want] : bad) {
        std::string e = ConfigFile(text).error();
        if (!contains(e, want)) check::fail(__FILE__, __LINE__, "config error '" + e + "' lacks '" + want + "'");
        CHECK(!contains(e, "\n"));
    }
    std::string missing = error_of([] { runner::parse_config_file("/nonexistent/vm.json"); });
    CHECK(contains(missing, "/nonexistent/vm.json"));
}

TEST(runner_json_control_requests) {
    auto m = runner::parse_object(R"({"cmd":"key","qnum":30,"down":true,"x":-1.5e1,"s":"a\"\\\/\u0041\u00e9\u20ac"})");
    CHECK(m.has_value());
    CHECK_STR(m->at("cmd").s, "key");
    CHECK_EQ(m->at("qnum").n, 30.0);
    CHECK(m->at("down").b);
    CHECK_EQ(m->at("x").n, -15.0);
    CHECK_STR(m->at("s").s, "a\"\\/A\xc3\xa9\xe2\x82\xac");
    CHECK(!runner::parse_object("[1,2]").has_value());         // not an object
    CHECK(!runner::parse_object(R"({"a":1} x)").has_value());  // trailing bytes
    CHECK(!runner::parse_object(R"({"a":01x})").has_value());
    CHECK(!runner::parse_object("{\"a\":\"\x01\"}").has_value());  // raw control character
    CHECK(!runner::parse_object(R"({"a":"\u12"})").has_value());
    CHECK(!runner::parse_object("").has_value());
    CHECK(runner::parse_object(" { } ").has_value());
    // Nesting is bounded (the control socket is any local client).
    std::string deep(40, '[');
    deep += std::string(40, ']');
    CHECK(!runner::parse_json(deep).has_value());
    std::string ok(20, '[');
    ok += std::string(20, ']');
    CHECK(runner::parse_json(ok).has_value());
    CHECK_STR(runner::json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(runner_output_ring_keeps_the_most_recent_bytes) {
    runner::OutputRing r(8);
    push(r, "abc");
    CHECK_STR(ring_of(r), "abc");
    push(r, "defgh");
    CHECK_STR(ring_of(r), "abcdefgh");
    push(r, "ij");
    CHECK_STR(ring_of(r), "cdefghij");
    push(r, "0123456789");
    CHECK_STR(ring_of(r), "23456789");
    push(r, "x");
    CHECK_STR(ring_of(r), "3456789x");
    push(r, "");
    CHECK_STR(ring_of(r), "3456789x");
    runner::OutputRing none(0);
    push(none, "abc");
    CHECK_STR(ring_of(none), "");
}

TEST(runner_input_queue_waits_for_uart_space_in_order) {
    runner::InputQueue q;
    size_t space = 4;
    std::string got;
    auto uart = [&](const uint8_t* p, size_t n) {
        size_t take = std::min(space, n);
        got.append(reinterpret_cast<const char*>(p), take);
        space -= take;
        return take;
    };
    q.push("hello", 5);
    CHECK(!q.flush(uart));
    q.push("world", 5);
    CHECK(!q.flush(uart));
    CHECK_STR(got, "hell");
    CHECK(!q.empty());
    space = 3;
    CHECK(!q.flush(uart));
    CHECK_STR(got, "hellowo");
    space = 100;
    CHECK(q.flush(uart));
    CHECK_STR(got, "helloworld");
    CHECK(q.empty());
    q.push("", 0);
    CHECK(q.empty());
}

// Control-socket lines come from any local client: whatever they hold, the
// parser answers or refuses without reading out of bounds or recursing deep.
FUZZ_TARGET(fuzz_runner_json) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto v = runner::parse_json(text);
    auto o = runner::parse_object(text);
    if (o) CHECK(v.has_value());
    if (v && v->kind == runner::JsonValue::String) runner::json_quote(v->s);
    // The same bytes as flags: parse or refuse with a one-line message.
    std::vector<std::string> argv;
    std::string cur;
    for (char c : text) {
        if (c == '\0') {
            argv.push_back(cur);
            cur.clear();
        } else cur += c;
    }
    argv.push_back(cur);
    try {
        runner::parse_args(argv);
    } catch (const std::invalid_argument&) {
    }
}
