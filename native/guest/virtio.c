/* virtio-mmio (version 2, "modern") transport and device discovery. */
#include "guest.h"

enum {
    MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, DEV_FEATURES = 0x010, DEV_FEATURES_SEL = 0x014,
    DRV_FEATURES = 0x020, DRV_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034,
    QUEUE_NUM = 0x038, QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, INT_STATUS = 0x060, INT_ACK = 0x064,
    STATUS = 0x070, QUEUE_DESC = 0x080, QUEUE_DRIVER = 0x090, QUEUE_DEVICE = 0x0A0,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_FAILED = 0x80 };

static uint32_t rd(struct vdev *d, uint32_t off) { return mmio_read32(d->base + off); }
static void wr(struct vdev *d, uint32_t off, uint32_t v) { mmio_write32(d->base + off, v); }

/* Reset and negotiate: VIRTIO_F_VERSION_1 plus the wanted low feature bits. */
bool virtio_begin(struct vdev *d, uint32_t want_lo, uint32_t *got_lo) {
    wr(d, STATUS, 0);
    for (int i = 0; i < 1000 && rd(d, STATUS); i++) cpu_relax();
    wr(d, STATUS, S_ACK);
    wr(d, STATUS, S_ACK | S_DRIVER);
    wr(d, DEV_FEATURES_SEL, 1);
    uint32_t hi = rd(d, DEV_FEATURES);
    wr(d, DEV_FEATURES_SEL, 0);
    uint32_t lo = rd(d, DEV_FEATURES);
    if (!(hi & 1)) { wr(d, STATUS, S_FAILED); return false; }
    *got_lo = lo & want_lo;
    wr(d, DRV_FEATURES_SEL, 1);
    wr(d, DRV_FEATURES, 1);
    wr(d, DRV_FEATURES_SEL, 0);
    wr(d, DRV_FEATURES, *got_lo);
    wr(d, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(rd(d, STATUS) & S_FEATURES_OK)) { wr(d, STATUS, S_FAILED); return false; }
    return true;
}

bool virtio_queue(struct vdev *d, uint32_t index, struct vq *q) {
    wr(d, QUEUE_SEL, index);
    uint32_t max = rd(d, QUEUE_NUM_MAX);
    if (!max || rd(d, QUEUE_READY)) return false;
    memset(q, 0, sizeof *q);
    q->num = max < VQ_SIZE ? (uint16_t)max : VQ_SIZE;
    wr(d, QUEUE_NUM, q->num);
    uint64_t desc = (uintptr_t)q->desc, drv = (uintptr_t)&q->avail, dev = (uintptr_t)&q->used;
    wr(d, QUEUE_DESC, (uint32_t)desc);
    wr(d, QUEUE_DESC + 4, (uint32_t)(desc >> 32));
    wr(d, QUEUE_DRIVER, (uint32_t)drv);
    wr(d, QUEUE_DRIVER + 4, (uint32_t)(drv >> 32));
    wr(d, QUEUE_DEVICE, (uint32_t)dev);
    wr(d, QUEUE_DEVICE + 4, (uint32_t)(dev >> 32));
    wr(d, QUEUE_READY, 1);
    return true;
}

void virtio_ready(struct vdev *d) { wr(d, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK); }

void virtio_notify(struct vdev *d, uint32_t index) {
    mb();
    wr(d, QUEUE_NOTIFY, index);
}

uint32_t virtio_ack_irq(struct vdev *d) {
    uint32_t s = rd(d, INT_STATUS);
    if (s) wr(d, INT_ACK, s);
    return s;
}

static void probe(uint64_t base, uint32_t gsi) {
    struct vdev d = {base, gsi};
    if (rd(&d, MAGIC) != 0x74726976 || rd(&d, VERSION) != 2) return;
    uint32_t id = rd(&d, DEVICE_ID);
    if (id == 2 && !blk_present) blk_attach(&d);
    else if (id == 1 && !net_present()) net_attach(&d);
}

/* `virtio_mmio.device=<size>@<base>:<gsi>` entries on the command line win
 * (QEMU microvm adds them with acpi=off); otherwise our fixed slots. */
void virtio_discover(const char *cmdline) {
    static const char key[] = "virtio_mmio.device=";
    bool any = false;
    for (const char *p = cmdline; p && *p; p++) {
        if ((p != cmdline && p[-1] != ' ') || strncmp(p, key, sizeof key - 1)) continue;
        const char *s = p + sizeof key - 1;
        parse_num(&s);
        if (*s++ != '@') continue;
        uint64_t base = parse_num(&s);
        if (*s++ != ':') continue;
        uint32_t gsi = (uint32_t)parse_num(&s);
        if (base && base < 0x100000000ull) { probe(base, gsi); any = true; }
    }
    if (any) return;
    for (uint32_t i = 0; i < VIRTIO_MMIO_SLOTS; i++)
        probe(VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE, VIRTIO_GSI_BASE + i);
}
