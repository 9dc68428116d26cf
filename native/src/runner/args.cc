#include "runner/args.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "runner/json.h"

namespace runner {

const char* const kUsage =
    "usage: npm run vm -- --kernel FILE [--initrd FILE] [--cmdline STR] [--disk FILE[,ro]]...\n"
    "       [--vcpus N] [--memory MiB] [--serial stdio|none|unix:PATH] [--vnc unix:PATH] [--net tap:NAME[,mac=MAC]]\n"
    "       [--framebuffer WxH|none] [--control unix:PATH] [--pid-file FILE] [--name NAME]\n"
    "   or: native/build/kvmvmm-runner with the same flags, or kvmvmm-runner CONFIG.json";

namespace {

using std::invalid_argument;

uint32_t whole(const std::string& flag, const std::string& v) {
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
        throw invalid_argument(flag + ": expected a whole number, got '" + v + "'");
    return static_cast<uint32_t>(std::stoul(v));
}

std::string unix_path(const std::string& flag, const std::string& v) {
    if (v.size() <= 5 || v.compare(0, 5, "unix:") != 0) throw invalid_argument(flag + ": unix:PATH");
    return v.substr(5);
}

}  // namespace

void validate(const Options& o);

Options parse_args(const std::vector<std::string>& argv) {
    Options o;
    vmm::MachineConfig& m = o.machine;
    m.ram_mib = 256;
    m.vcpus = 1;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        std::string flag = a, value;
        bool inline_value = false;
        size_t eq = a.find('=');
        if (a.rfind("--", 0) == 0 && eq != std::string::npos && eq > 0) {
            flag = a.substr(0, eq);
            value = a.substr(eq + 1);
            inline_value = true;
        }
        auto next = [&]() -> std::string {
            if (inline_value) return value;
            if (i + 1 >= argv.size()) throw invalid_argument(flag + " needs a value");
            return argv[++i];
        };
        if (flag == "--kernel") m.kernel_path = next();
        else if (flag == "--initrd") m.initrd_path = next();
        else if (flag == "--cmdline") m.cmdline = next();
        else if (flag == "--disk") {
            std::string v = next();
            size_t c = v.find(',');
            std::string path = v.substr(0, c);
            if (path.empty()) throw invalid_argument("--disk: empty path");
            bool ro = false;
            while (c != std::string::npos) {
                size_t e = v.find(',', c + 1);
                std::string opt = v.substr(c + 1, e == std::string::npos ? std::string::npos : e - c - 1);
                if (opt == "ro") ro = true;
                else if (opt != "rw") throw invalid_argument("--disk: unknown option '" + opt + "' (ro or rw)");
                c = e;
            }
            m.disks.push_back({path, ro});
        } else if (flag == "--vcpus") m.vcpus = whole(flag, next());
        else if (flag == "--memory" || flag == "--mem") m.ram_mib = whole(flag, next());
        else if (flag == "--serial") {
            std::string v = next();
            if (v == "stdio" || v == "none") o.serial = v;
            else {
                if (v.size() <= 5 || v.compare(0, 5, "unix:") != 0) throw invalid_argument("--serial: stdio, none or unix:PATH");
                o.serial = "unix";
                o.serial_path = v.substr(5);
            }
        } else if (flag == "--vnc") o.vnc_path = unix_path(flag, next());
        else if (flag == "--control") o.control_path = unix_path(flag, next());
        else if (flag == "--net") {
            static const std::regex re("^tap:([^,]+)(?:,mac=(.+))?$");
            std::smatch mm;
            std::string v = next();
            if (!std::regex_match(v, mm, re)) throw invalid_argument("--net: tap:NAME[,mac=xx:xx:xx:xx:xx:xx]");
            m.tap = mm[1];
            m.mac = mm[2];
        } else if (flag == "--framebuffer" || flag == "--fb") {
            std::string v = next();
            if (v == "none" || v == "0") m.fb_width = m.fb_height = 0;
            else {
                size_t x = v.find('x');
                if (x == std::string::npos || x == 0 || x + 1 == v.size() ||
                    v.find_first_not_of("0123456789x") != std::string::npos || v.find('x', x + 1) != std::string::npos ||
                    x > 9 || v.size() - x > 10)
                    throw invalid_argument("--framebuffer: WIDTHxHEIGHT or none");
                m.fb_width = static_cast<uint32_t>(std::stoul(v.substr(0, x)));
                m.fb_height = static_cast<uint32_t>(std::stoul(v.substr(x + 1)));
            }
        } else if (flag == "--pid-file") o.pid_file = next();
        else if (flag == "--name") o.name = next();
        else if (flag == "-h" || flag == "--help") {
            o.help = true;
            return o;
        } else throw invalid_argument("unknown argument '" + a + "' (--help lists them)");
    }
    if (m.kernel_path.empty()) throw invalid_argument("--kernel FILE is required");
    validate(o);
    return o;
}

void validate(const Options& o) {
    const vmm::MachineConfig& m = o.machine;
    // Checked here with the config file's key names, before the machine
    // checks them again (vmm::validate), so both ways read alike.
    if (m.ram_mib < 16) throw invalid_argument("config: memoryMiB: memory: at least 16 MiB");
    if (m.ram_mib > (1u << 20)) throw invalid_argument("config: memoryMiB: too big");
    if (m.vcpus < 1 || m.vcpus > 64) throw invalid_argument("config: vcpus: 1..64");
    if (m.fb_width || m.fb_height) {
        if (m.fb_width < 1 || m.fb_width > 1920) throw invalid_argument("config: framebuffer.width: 1..1920");
        if (m.fb_height < 1 || m.fb_height > 1080) throw invalid_argument("config: framebuffer.height: 1..1080");
    }
    if (!m.tap.empty() && m.tap.size() > 15) throw invalid_argument("config: net.tap: at most 15 characters");
    if (!m.mac.empty() && !std::regex_match(m.mac, std::regex("^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")))
        throw invalid_argument("config: net.mac: bad MAC address");
}

namespace {

using runner::JsonValue;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw invalid_argument("config: " + where + ": " + what);
}

const JsonValue* member(const JsonValue& o, const char* key, JsonValue::Kind kind, const std::string& where, bool required) {
    const JsonValue* v = o.get(key);
    if (!v) {
        if (required) bad(where, "required");
        return nullptr;
    }
    if (v->kind != kind) bad(where, "wrong type");
    return v;
}

uint32_t int_member(const JsonValue& o, const char* key, uint32_t def, bool required) {
    const JsonValue* v = member(o, key, JsonValue::Number, key, required);
    if (!v) return def;
    if (v->n != std::floor(v->n) || v->n < 0 || v->n > 4294967295.0) bad(key, "expected an integer");
    return static_cast<uint32_t>(v->n);
}

std::string str_member(const JsonValue& o, const char* key, const std::string& where, bool required) {
    const JsonValue* v = member(o, key, JsonValue::String, where, required);
    return v ? v->s : std::string();
}

std::string socket_member(const JsonValue& o, const char* key) {
    std::string v = str_member(o, key, key, false);
    if (v.empty()) return v;
    if (v.size() <= 5 || v.compare(0, 5, "unix:") != 0) bad(key, "expected unix:PATH");
    return v.substr(5);
}

}  // namespace

Options parse_config_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw invalid_argument("config " + path + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    auto doc = parse_json(ss.str());
    if (!doc) throw invalid_argument("config " + path + ": not valid JSON");
    if (doc->kind != JsonValue::Object) bad("(root)", "expected an object");
    const JsonValue& c = *doc;
    Options o;
    vmm::MachineConfig& m = o.machine;
    o.name = str_member(c, "name", "name", false);
    m.ram_mib = int_member(c, "memoryMiB", 0, true);
    m.vcpus = int_member(c, "vcpus", 0, true);
    m.kernel_path = str_member(c, "kernel", "kernel", true);
    if (m.kernel_path.empty()) bad("kernel", "empty");
    m.initrd_path = str_member(c, "initrd", "initrd", false);
    m.cmdline = str_member(c, "cmdline", "cmdline", false);
    if (const JsonValue* d = member(c, "disks", JsonValue::Array, "disks", false)) {
        for (size_t i = 0; i < d->items.size(); ++i) {
            const JsonValue& e = d->items[i];
            std::string where = "disks." + std::to_string(i);
            if (e.kind != JsonValue::Object) bad(where, "expected an object");
            std::string p = str_member(e, "path", where + ".path", true);
            if (p.empty()) bad(where + ".path", "empty");
            const JsonValue* ro = member(e, "readonly", JsonValue::Bool, where + ".readonly", false);
            m.disks.push_back({p, ro && ro->b});
        }
    }
    if (const JsonValue* n = member(c, "net", JsonValue::Object, "net", false)) {
        m.tap = str_member(*n, "tap", "net.tap", true);
        if (m.tap.empty()) bad("net.tap", "empty");
        m.mac = str_member(*n, "mac", "net.mac", false);
    }
    if (const JsonValue* fb = c.get("framebuffer")) {
        if (fb->kind == JsonValue::Null) m.fb_width = m.fb_height = 0;
        else if (fb->kind == JsonValue::Object) {
            m.fb_width = int_member(*fb, "width", 0, true);
            m.fb_height = int_member(*fb, "height", 0, true);
            if (!m.fb_width || !m.fb_height) bad("framebuffer", "width and height must be at least 1");
        } else bad("framebuffer", "wrong type");
    }
    if (const JsonValue* s = member(c, "serial", JsonValue::String, "serial", false)) {
        if (s->s == "stdio" || s->s == "none") o.serial = s->s;
        else if (s->s.size() > 5 && s->s.compare(0, 5, "unix:") == 0) {
            o.serial = "unix";
            o.serial_path = s->s.substr(5);
        } else bad("serial", "stdio, none or unix:PATH");
    }
    o.vnc_path = socket_member(c, "vnc");
    o.control_path = socket_member(c, "control");
    o.pid_file = str_member(c, "pidFile", "pidFile", false);
    validate(o);
    return o;
}

}  // namespace runner
