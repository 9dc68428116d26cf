// N-API surface over vmm::Machine (node-addon-api, C++ exceptions).
//
//   const vm = new Vm(config); vm.onSerial(buf => ...); vm.onExit(r => ...);
//   vm.start(); vm.writeSerial(buf); vm.keyEvent(q, down); vm.stop();
//
// Every event from native threads (serial bytes, mode change, serial input
// space, exit) goes through ONE thread-safe function so JS sees them in the
// order they happened; serial output is batched into one Buffer per wakeup.
#include <napi.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "boot/boot.h"
#include "kvm/system.h"
#include "rfb/machine_display.h"  // rfb: VNC server
#include "rfb/server.h"
#include "vmm/machine.h"

namespace {

using vmm::Machine;

constexpr size_t kSerialBacklogMax = 4 << 20;  // JS stalled: drop beyond this

std::string get_string(const Napi::Object& o, const char* key, const std::string& def = "") {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("config.") + key + " must be a string");
    return v.As<Napi::String>().Utf8Value();
}

uint32_t get_u32(const Napi::Object& o, const char* key, uint32_t def) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("config.") + key + " must be a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d)))
        throw Napi::RangeError::New(o.Env(), std::string("config.") + key + " must be a non-negative integer");
    return static_cast<uint32_t>(d);
}

bool get_bool(const Napi::Object& o, const char* key, bool def) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return def;
    return v.ToBoolean().Value();
}

// A path string or the bytes themselves (Buffer / Uint8Array).
void get_image(const Napi::Object& o, const char* key, std::string& path, std::vector<uint8_t>& bytes) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (v.IsString()) {
        path = v.As<Napi::String>().Utf8Value();
    } else if (v.IsTypedArray()) {
        auto a = v.As<Napi::Uint8Array>();
        bytes.assign(a.Data(), a.Data() + a.ByteLength());
    } else {
        throw Napi::TypeError::New(o.Env(), std::string("config.") + key + " must be a path or a Buffer");
    }
}

vmm::MachineConfig parse_config(const Napi::Object& o) {
    vmm::MachineConfig c;
    c.ram_mib = get_u32(o, "memoryMiB", c.ram_mib);
    c.vcpus = get_u32(o, "vcpus", c.vcpus);
    get_image(o, "kernel", c.kernel_path, c.kernel);
    get_image(o, "initrd", c.initrd_path, c.initrd);
    c.cmdline = get_string(o, "cmdline");
    Napi::Value disks = o.Get("disks");
    if (disks.IsArray()) {
        auto a = disks.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) {
            Napi::Value d = a.Get(i);
            if (!d.IsObject()) throw Napi::TypeError::New(o.Env(), "config.disks[] must be {path, readonly}");
            auto dobj = d.As<Napi::Object>();
            c.disks.push_back({get_string(dobj, "path"), get_bool(dobj, "readonly", false)});
        }
    } else if (!disks.IsUndefined() && !disks.IsNull()) {
        throw Napi::TypeError::New(o.Env(), "config.disks must be an array");
    }
    Napi::Value net = o.Get("net");
    if (net.IsObject()) {
        auto n = net.As<Napi::Object>();
        c.tap = get_string(n, "tap");
        c.mac = get_string(n, "mac");
        if (c.tap.empty()) throw Napi::TypeError::New(o.Env(), "config.net.tap must name a TAP interface");
    }
    Napi::Value fb = o.Get("framebuffer");
    if (fb.IsNull() || (fb.IsBoolean() && !fb.ToBoolean().Value())) {
        c.fb_width = c.fb_height = 0;
    } else if (fb.IsObject()) {
        auto f = fb.As<Napi::Object>();
        c.fb_width = get_u32(f, "width", c.fb_width);
        c.fb_height = get_u32(f, "height", c.fb_height);
    }
    c.rng = get_bool(o, "rng", c.rng);
    c.tablet = get_bool(o, "tablet", c.tablet);
    return c;
}

Napi::Object mode_object(Napi::Env env, const vmm::FramebufferInfo& f) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("width", f.width);
    o.Set("height", f.height);
    o.Set("stride", f.stride);
    o.Set("bpp", f.bpp);
    o.Set("enabled", f.enabled);
    o.Set("size", static_cast<double>(f.size));
    return o;
}

class VmWrap : public Napi::ObjectWrap<VmWrap> {
public:
    static Napi::Function Init(Napi::Env env) {
        return DefineClass(env, "Vm",
                           {
                               InstanceMethod("start", &VmWrap::Start),
                               InstanceMethod("stop", &VmWrap::Stop),
                               InstanceMethod("writeSerial", &VmWrap::WriteSerial),
                               InstanceMethod("onSerial", &VmWrap::OnSerial),
                               InstanceMethod("onSerialSpace", &VmWrap::OnSerialSpace),
                               InstanceMethod("onExit", &VmWrap::OnExit),
                               InstanceMethod("onModeChange", &VmWrap::OnModeChange),
                               InstanceMethod("keyEvent", &VmWrap::KeyEvent),
                               InstanceMethod("pointerEvent", &VmWrap::PointerEvent),
                               InstanceMethod("powerButton", &VmWrap::PowerButton),
                               InstanceMethod("framebuffer", &VmWrap::Framebuffer),
                               InstanceMethod("framebufferInfo", &VmWrap::FramebufferInfo),
                               InstanceMethod("collectDirty", &VmWrap::CollectDirty),
                               InstanceMethod("stats", &VmWrap::Stats),
                               // rfb: VNC server
                               InstanceMethod("startVnc", &VmWrap::StartVnc),
                               InstanceMethod("stopVnc", &VmWrap::StopVnc),
                               InstanceMethod("vncStats", &VmWrap::VncStats),
                               InstanceMethod("vncCutText", &VmWrap::VncCutText),
                               InstanceMethod("exitReason", &VmWrap::ExitReasonJs),
                               InstanceAccessor("bootSummary", &VmWrap::BootSummary, nullptr),
                               StaticMethod("isPvmHost", &VmWrap::IsPvmHost),
                               StaticMethod("pvmNotice", &VmWrap::PvmNotice),
                               StaticMethod("e820", &VmWrap::E820),
                           });
    }

    explicit VmWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VmWrap>(info) {
        Napi::Env env = info.Env();
        if (!info[0].IsObject()) throw Napi::TypeError::New(env, "new Vm(config): config object expected");
        vmm::MachineConfig cfg = parse_config(info[0].As<Napi::Object>());
        try {
            machine_ = std::make_shared<Machine>(std::move(cfg));
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());  // one line from config/boot/kvm
        }
        events_ = std::make_shared<Events>();
    }

    ~VmWrap() override {
        // Native threads may still post events: stop them before the
        // thread-safe function goes away.
        vnc_.reset();  // rfb: its thread reads the framebuffer and sends input
        if (machine_) machine_->stop();
        release_tsfn();
    }

private:
    // Shared between native threads and the JS thread.
    struct Events {
        std::mutex mu;
        std::vector<uint8_t> serial;
        uint64_t serial_dropped = 0;
        bool pending = false;  // one wakeup queued
        bool space = false;
        bool mode = false;
        bool exited = false;
        vmm::ExitReason exit;
        Napi::ThreadSafeFunction tsfn;
    };

    void release_tsfn() {
        std::lock_guard<std::mutex> g(events_->mu);
        if (events_->tsfn) {
            events_->tsfn.Release();
            events_->tsfn = Napi::ThreadSafeFunction();
        }
    }

    // JS thread: drain everything that accumulated.
    void deliver(Napi::Env env) {
        std::vector<uint8_t> serial;
        bool space, mode, exited;
        vmm::ExitReason exit;
        {
            std::lock_guard<std::mutex> g(events_->mu);
            events_->pending = false;
            serial.swap(events_->serial);
            space = events_->space;
            mode = events_->mode;
            exited = events_->exited && !exit_delivered_;
            exit = events_->exit;
            events_->space = events_->mode = false;
        }
        Napi::HandleScope scope(env);
        // A throwing JS callback must not swallow the events after it (the
        // exit above all): run every one, then rethrow the first error.
        std::optional<Napi::Error> first;
        auto guarded = [&](auto&& fn) {
            try {
                fn();
            } catch (const Napi::Error& e) {
                if (!first) first = e;
            }
        };
        if (!serial.empty() && !serial_cb_.IsEmpty())
            guarded([&] { serial_cb_.Call(Value(), {Napi::Buffer<uint8_t>::Copy(env, serial.data(), serial.size())}); });
        if (mode && !mode_cb_.IsEmpty())
            guarded([&] { mode_cb_.Call(Value(), {mode_object(env, machine_->framebuffer())}); });
        if (space && !space_cb_.IsEmpty()) guarded([&] { space_cb_.Call(Value(), {}); });
        if (exited) {
            exit_delivered_ = true;
            machine_->wait();  // every vCPU has left; joins (instant)
            release_tsfn();
            if (!exit_cb_.IsEmpty()) {
                guarded([&] {
                    Napi::Object r = Napi::Object::New(env);
                    r.Set("reason", vmm::exit_kind_name(exit.kind));
                    r.Set("message", exit.message);
                    exit_cb_.Call(Value(), {r});
                });
            }
            self_ref_.Reset();  // the VM may be collected now
        }
        if (first) first->ThrowAsJavaScriptException();  // surfaces as uncaughtException
    }

    Napi::Value Start(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (started_) throw Napi::Error::New(env, "Vm already started");
        started_ = true;
        auto ev = events_;
        ev->tsfn = Napi::ThreadSafeFunction::New(
            env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "kvmvmm-events", 0, 1);
        self_ref_ = Napi::Persistent(Value());  // alive while running
        // Called with ev->mu held; at most one wakeup is queued at a time.
        auto post_now = [this, ev] {
            if (ev->pending || !ev->tsfn) return;
            ev->pending = true;
            ev->tsfn.NonBlockingCall([this](Napi::Env env, Napi::Function) { deliver(env); });
        };
        machine_->set_serial_sink([ev, post_now](const uint8_t* p, size_t n) {
            std::lock_guard<std::mutex> g(ev->mu);
            if (ev->serial.size() + n > kSerialBacklogMax) {
                ev->serial_dropped += n;
                return;
            }
            ev->serial.insert(ev->serial.end(), p, p + n);
            post_now();
        });
        machine_->set_serial_space_callback([ev, post_now] {
            std::lock_guard<std::mutex> g(ev->mu);
            ev->space = true;
            post_now();
        });
        machine_->set_mode_callback([ev, post_now](const vmm::FramebufferInfo&) {
            std::lock_guard<std::mutex> g(ev->mu);
            ev->mode = true;
            post_now();
        });
        machine_->set_exit_callback([ev, post_now](const vmm::ExitReason& r) {
            std::lock_guard<std::mutex> g(ev->mu);
            ev->exited = true;
            ev->exit = r;
            post_now();
        });
        try {
            machine_->start();
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());
        }
        return env.Undefined();
    }

    Napi::Value Stop(const Napi::CallbackInfo& info) {
        // Joins the vCPU threads; the exit event follows asynchronously.
        machine_->stop();
        return info.Env().Undefined();
    }

    Napi::Value WriteSerial(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "writeSerial(buf): Buffer expected");
        auto a = info[0].As<Napi::Uint8Array>();
        return Napi::Number::New(env, static_cast<double>(machine_->write_serial(a.Data(), a.ByteLength())));
    }

    static void set_cb(const Napi::CallbackInfo& info, Napi::FunctionReference& ref) {
        if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "callback function expected");
        ref = Napi::Persistent(info[0].As<Napi::Function>());
    }
    Napi::Value OnSerial(const Napi::CallbackInfo& info) { set_cb(info, serial_cb_); return info.Env().Undefined(); }
    Napi::Value OnSerialSpace(const Napi::CallbackInfo& info) { set_cb(info, space_cb_); return info.Env().Undefined(); }
    Napi::Value OnExit(const Napi::CallbackInfo& info) { set_cb(info, exit_cb_); return info.Env().Undefined(); }
    Napi::Value OnModeChange(const Napi::CallbackInfo& info) { set_cb(info, mode_cb_); return info.Env().Undefined(); }

    Napi::Value KeyEvent(const Napi::CallbackInfo& info) {
        uint32_t q = info[0].ToNumber().Uint32Value();
        machine_->key_event(static_cast<uint16_t>(q & 0xffff), info[1].ToBoolean().Value());
        return info.Env().Undefined();
    }

    Napi::Value PointerEvent(const Napi::CallbackInfo& info) {
        machine_->pointer_event(info[0].ToNumber().Int32Value(), info[1].ToNumber().Int32Value(),
                                info[2].ToNumber().Uint32Value(), info.Length() > 3 ? info[3].ToNumber().Int32Value() : 0);
        return info.Env().Undefined();
    }

    Napi::Value PowerButton(const Napi::CallbackInfo& info) {
        machine_->power_button();
        return info.Env().Undefined();
    }

    Napi::Value Framebuffer(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        vmm::FramebufferInfo f = machine_->framebuffer();
        if (!f.base) return env.Null();
        // Zero-copy view of guest memory; the finalizer's shared_ptr keeps
        // the mapping alive as long as JS holds the ArrayBuffer.
        auto* keep = new std::shared_ptr<Machine>(machine_);
        return Napi::ArrayBuffer::New(
            env, f.base, f.size, [](Napi::Env, void*, std::shared_ptr<Machine>* k) { delete k; }, keep);
    }

    Napi::Value FramebufferInfo(const Napi::CallbackInfo& info) {
        vmm::FramebufferInfo f = machine_->framebuffer();
        if (!f.base) return info.Env().Null();
        return mode_object(info.Env(), f);
    }

    // Uint32Array of [firstRow, endRow) pairs changed since the last call.
    Napi::Value CollectDirty(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        std::vector<std::pair<uint32_t, uint32_t>> rows;
        try {
            rows = machine_->dirty_rows();
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());
        }
        auto out = Napi::Uint32Array::New(env, rows.size() * 2);
        for (size_t i = 0; i < rows.size(); ++i) {
            out[i * 2] = rows[i].first;
            out[i * 2 + 1] = rows[i].second;
        }
        return out;
    }

    Napi::Value Stats(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        vmm::MachineStats s = machine_->stats();
        Napi::Object o = Napi::Object::New(env);
        Napi::Array vcpus = Napi::Array::New(env, s.vcpus.size());
        for (size_t i = 0; i < s.vcpus.size(); ++i) {
            Napi::Object v = Napi::Object::New(env);
            v.Set("cpuNs", static_cast<double>(s.vcpus[i].cpu_ns));
            v.Set("exits", static_cast<double>(s.vcpus[i].exits));
            v.Set("ioExits", static_cast<double>(s.vcpus[i].io_exits));
            v.Set("mmioExits", static_cast<double>(s.vcpus[i].mmio_exits));
            vcpus.Set(static_cast<uint32_t>(i), v);
        }
        o.Set("vcpus", vcpus);
        Napi::Object devs = Napi::Object::New(env);
        for (const auto& d : s.devices) {
            Napi::Object c = Napi::Object::New(env);
            for (const auto& kv : d.counters) c.Set(kv.first, static_cast<double>(kv.second));
            devs.Set(d.name, c);
        }
        {
            std::lock_guard<std::mutex> g(events_->mu);
            Napi::Object c = Napi::Object::New(env);
            c.Set("droppedBytes", static_cast<double>(events_->serial_dropped));
            devs.Set("serial", c);
        }
        o.Set("devices", devs);
        o.Set("ramBytes", static_cast<double>(s.ram_bytes));
        return o;
    }

    Napi::Value ExitReasonJs(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        vmm::ExitReason r = machine_->exit_reason();
        if (r.kind == vmm::ExitKind::None) return env.Null();
        Napi::Object o = Napi::Object::New(env);
        o.Set("reason", vmm::exit_kind_name(r.kind));
        o.Set("message", r.message);
        return o;
    }

    Napi::Value BootSummary(const Napi::CallbackInfo& info) {
        return Napi::String::New(info.Env(), machine_->boot_summary());
    }

    static Napi::Value IsPvmHost(const Napi::CallbackInfo& info) {
        return Napi::Boolean::New(info.Env(), kvm::System::is_pvm_host());
    }
    static Napi::Value PvmNotice(const Napi::CallbackInfo& info) {
        return Napi::String::New(info.Env(), kvm::System::pvm_notice());
    }

    // The e820 map every VM of `memoryMiB` gets (boot::build_e820, the
    // same call boot::load makes): [{addr, size, type}], for tests that
    // compare it with what a guest kernel reports.
    static Napi::Value E820(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "e820(memoryMiB): number expected");
        uint32_t mib = info[0].As<Napi::Number>().Uint32Value();
        std::vector<vmm::boot::E820Entry> map;
        try {
            map = vmm::boot::build_e820(static_cast<uint64_t>(mib) << 20);
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());
        }
        Napi::Array out = Napi::Array::New(env, map.size());
        for (size_t i = 0; i < map.size(); ++i) {
            Napi::Object o = Napi::Object::New(env);
            o.Set("addr", static_cast<double>(map[i].addr));
            o.Set("size", static_cast<double>(map[i].size));
            o.Set("type", map[i].type);
            out.Set(static_cast<uint32_t>(i), o);
        }
        return out;
    }

    // ---- rfb: VNC server (begin) ----
    // startVnc(path[, name]): RFB server on a unix socket, its own thread.
    Napi::Value StartVnc(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!info[0].IsString()) throw Napi::TypeError::New(env, "startVnc(socketPath): string expected");
        if (vnc_) throw Napi::Error::New(env, "VNC server already started");
        std::string path = info[0].As<Napi::String>().Utf8Value();
        std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "kvmpanel";
        auto display = std::make_unique<vmm::rfb::MachineDisplay>(*machine_);
        std::unique_ptr<vmm::rfb::Server> server;
        std::string err;
        try {
            server = std::make_unique<vmm::rfb::Server>(*display, name);
        } catch (const std::exception& e) {
            throw Napi::Error::New(env, e.what());
        }
        if (!server->listen_unix(path, &err)) throw Napi::Error::New(env, "vnc socket " + path + ": " + err);
        server->start();
        vnc_display_ = std::move(display);
        vnc_ = std::move(server);
        return env.Undefined();
    }

    Napi::Value StopVnc(const Napi::CallbackInfo& info) {
        vnc_.reset();
        vnc_display_.reset();
        return info.Env().Undefined();
    }

    Napi::Value VncStats(const Napi::CallbackInfo& info) {
        Napi::Env env = info.Env();
        if (!vnc_) return env.Null();
        vmm::rfb::ServerStats s = vnc_->stats();
        Napi::Object o = Napi::Object::New(env);
        o.Set("clients", static_cast<double>(s.clients));
        o.Set("accepted", static_cast<double>(s.accepted));
        o.Set("closedBad", static_cast<double>(s.closed_bad));
        o.Set("collections", static_cast<double>(s.collections));
        o.Set("missedRects", static_cast<double>(s.missed_rects));
        o.Set("updates", static_cast<double>(s.updates));
        o.Set("updateBytes", static_cast<double>(s.update_bytes));
        o.Set("cpuNs", static_cast<double>(s.cpu_ns));
        o.Set("lastUpdateBytes", static_cast<double>(s.last_update_bytes));
        o.Set("lastUpdateRects", static_cast<double>(s.last_update_rects));
        o.Set("lastUpdateCpuNs", static_cast<double>(s.last_update_cpu_ns));
        o.Set("cutTextBytes", static_cast<double>(s.cut_text_bytes));
        return o;
    }
    // The latest ClientCutText any VNC client sent ("" if none).
    Napi::Value VncCutText(const Napi::CallbackInfo& info) {
        std::string latin1 = vnc_ ? vnc_->cut_text() : std::string();
        std::u16string text(latin1.begin(), latin1.end());  // RFB text is ISO 8859-1
        for (size_t i = 0; i < latin1.size(); ++i) text[i] = static_cast<unsigned char>(latin1[i]);
        return Napi::String::New(info.Env(), text);
    }
    // Declared before machine_ would be nicer, but ~VmWrap resets it first.
    std::unique_ptr<vmm::rfb::MachineDisplay> vnc_display_;
    std::unique_ptr<vmm::rfb::Server> vnc_;
    // ---- rfb: VNC server (end) ----

    std::shared_ptr<Machine> machine_;
    std::shared_ptr<Events> events_;
    Napi::FunctionReference serial_cb_, space_cb_, exit_cb_, mode_cb_;
    Napi::ObjectReference self_ref_;
    bool started_ = false;
    bool exit_delivered_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("Vm", VmWrap::Init(env));
    return exports;
}

}  // namespace

NODE_API_MODULE(kvmvmm, Init)
