// A very small test harness: TEST(name) { CHECK(cond); CHECK_EQ(a, b); }.
// Tests register themselves; tests/main.cc runs them and prints a summary.
// Fuzz targets register with FUZZ_TARGET(name)(const uint8_t* data, size_t n)
// and are driven by tests/main.cc (`unit_tests --fuzz NAME --seconds S`) or,
// when built with clang, by libFuzzer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case { const char* name; std::function<void()> fn; };
struct Fuzz { const char* name; std::function<void(const uint8_t*, size_t)> fn; };

inline std::vector<Case>& cases() { static std::vector<Case> v; return v; }
inline std::vector<Fuzz>& fuzzers() { static std::vector<Fuzz> v; return v; }
inline int& failures() { static int n = 0; return n; }

struct Register {
    Register(const char* n, std::function<void()> f) { cases().push_back({n, std::move(f)}); }
};
struct RegisterFuzz {
    RegisterFuzz(const char* n, std::function<void(const uint8_t*, size_t)> f) { fuzzers().push_back({n, std::move(f)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
    ++failures();
}

template <typename A, typename B>
std::string describe(const char* ea, const char* eb, const A& a, const B& b) {
    std::ostringstream os;
    os << ea << " == " << eb << " (" << +a << " vs " << +b << ")";
    return os.str();
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST(name)                                                                   \
    static void name();                                                              \
    static ::check::Register CHECK_CAT(reg_, name)(#name, name);                     \
    static void name()
#define FUZZ_TARGET(name)                                                            \
    static void name(const uint8_t* data, size_t size);                              \
    static ::check::RegisterFuzz CHECK_CAT(regf_, name)(#name, name);                \
    static void name(const uint8_t* data, size_t size)
#define CHECK(cond) do { if (!(cond)) ::check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); } while (0)
#define CHECK_EQ(a, b) do { auto _a = (a); auto _b = (b); if (!(_a == _b)) ::check::fail(__FILE__, __LINE__, ::check::describe(#a, #b, _a, _b)); } while (0)
