/* The few libc pieces the compiler and the guest need, plus TSC timing. */
#include "guest.h"

void *memset(void *d, int c, size_t n) {
    uint8_t *p = d;
    while (n--) *p++ = (uint8_t)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--) *p++ = *q++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    uint8_t *p = d;
    const uint8_t *q = s;
    if (p < q) {
        while (n--) *p++ = *q++;
    } else {
        while (n--) p[n] = q[n];
    }
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}
size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b) return (uint8_t)*a - (uint8_t)*b;
        if (!*a) return 0;
    }
    return 0;
}

uint64_t parse_num(const char **sp) {
    const char *s = *sp;
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        for (;; s++) {
            char c = *s;
            if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
            else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v = v * 16 + (uint64_t)(c - 'A' + 10);
            else break;
        }
    } else {
        while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    }
    if (*s == 'K' || *s == 'k') { v <<= 10; s++; }
    else if (*s == 'M' || *s == 'm') { v <<= 20; s++; }
    else if (*s == 'G' || *s == 'g') { v <<= 30; s++; }
    *sp = s;
    return v;
}

/* TSC frequency from CPUID (hypervisor timing leaf, then 0x15/0x16). Without
 * one we assume 3 GHz: only delays and timeouts depend on it. */
static uint64_t tsc_khz = 3000000;

void timer_init(void) {
    uint32_t r[4];
    cpuid(1, 0, r);
    if (r[2] & (1u << 31)) {
        cpuid(0x40000000, 0, r);
        if (r[0] >= 0x40000010) {
            cpuid(0x40000010, 0, r);
            if (r[0]) { tsc_khz = r[0]; return; }
        }
    }
    cpuid(0, 0, r);
    uint32_t max = r[0];
    if (max >= 0x15) {
        cpuid(0x15, 0, r);
        if (r[0] && r[1] && r[2]) { tsc_khz = (uint64_t)r[2] * r[1] / r[0] / 1000; return; }
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, r);
        if (r[0] & 0xFFFF) { tsc_khz = (uint64_t)(r[0] & 0xFFFF) * 1000; return; }
    }
}

uint64_t now_us(void) { return rdtsc() * 1000 / tsc_khz; }

void delay_us(uint64_t us) {
    uint64_t end = rdtsc() + us * tsc_khz / 1000;
    while (rdtsc() < end) cpu_relax();
}
