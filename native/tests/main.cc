// Runs every registered TEST, or drives one FUZZ_TARGET with random inputs
// for a bounded time: `unit_tests [--fuzz NAME|all] [--seconds S] [--seed N]`.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "check.h"

static int run_fuzz(const char* which, double seconds, uint64_t seed) {
    int ran_targets = 0;
    for (auto& f : check::fuzzers()) {
        if (std::strcmp(which, "all") != 0 && std::strcmp(which, f.name) != 0) continue;
        ++ran_targets;
        std::mt19937_64 rng(seed);
        std::vector<uint8_t> buf;
        uint64_t inputs = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        while (std::chrono::steady_clock::now() < deadline) {
            for (int batch = 0; batch < 64; ++batch) {
                // Mostly short inputs, sometimes long ones; bytes biased toward
                // boundary values that parsers get wrong.
                size_t n = (rng() % 8 == 0) ? rng() % 4096 : rng() % 256;
                buf.resize(n);
                for (auto& b : buf) {
                    switch (rng() % 8) {
                        case 0: b = 0; break;
                        case 1: b = 0xff; break;
                        case 2: b = 0x80; break;
                        default: b = static_cast<uint8_t>(rng());
                    }
                }
                f.fn(buf.data(), buf.size());
                ++inputs;
            }
        }
        std::printf("fuzz %s: %llu inputs in %.1fs, no crash\n", f.name, static_cast<unsigned long long>(inputs), seconds);
    }
    if (ran_targets == 0) { std::fprintf(stderr, "no fuzz target named %s\n", which); return 2; }
    return 0;
}

int main(int argc, char** argv) {
    const char* fuzz = nullptr;
    double seconds = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--fuzz") && i + 1 < argc) fuzz = argv[++i];
        else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 0);
        else { std::fprintf(stderr, "usage: %s [--fuzz NAME|all] [--seconds S] [--seed N]\n", argv[0]); return 2; }
    }
    if (fuzz) return run_fuzz(fuzz, seconds, seed);

    int passed = 0, failed = 0;
    for (auto& c : check::cases()) {
        int before = check::failures();
        c.fn();
        if (check::failures() == before) { ++passed; std::printf("ok   %s\n", c.name); }
        else { ++failed; std::printf("FAIL %s\n", c.name); }
    }
    std::printf("native unit tests: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
