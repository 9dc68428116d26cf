/* virtio-blk: the boot counter in sector 0 (format in README.md). Requests
 * are polled (no interrupt): they complete while the notify exits. */
#include "guest.h"

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_F_RO (1u << 5)
static const char magic[8] = {'G', 'U', 'E', 'S', 'T', 'B', 'O', 'T'};

bool blk_present;
uint32_t blk_boots;
static struct vdev dev;
static struct vq q;
static struct { uint32_t type, reserved; uint64_t sector; } req;
static uint8_t sector[512] __attribute__((aligned(512)));
static volatile uint8_t status;

bool blk_attach(struct vdev *d) {
    uint32_t feat;
    dev = *d;
    if (!virtio_begin(&dev, BLK_F_RO, &feat) || !virtio_queue(&dev, 0, &q)) return false;
    q.avail.flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll */
    virtio_ready(&dev);
    blk_present = true;
    return true;
}

/* One request: header, 512-byte data buffer, status byte. Returns the virtio
 * status (0 = OK) or 0xFF on timeout. */
static int blk_rw(bool write, uint64_t lba) {
    req.type = write ? BLK_T_OUT : BLK_T_IN;
    req.reserved = 0;
    req.sector = lba;
    status = 0xFF;
    q.desc[0] = (struct virtq_desc){(uintptr_t)&req, sizeof req, VIRTQ_DESC_F_NEXT, 1};
    q.desc[1] = (struct virtq_desc){(uintptr_t)sector, 512, VIRTQ_DESC_F_NEXT | (write ? 0 : VIRTQ_DESC_F_WRITE), 2};
    q.desc[2] = (struct virtq_desc){(uintptr_t)&status, 1, VIRTQ_DESC_F_WRITE, 0};
    q.avail.ring[q.avail.idx % q.num] = 0;
    mb();
    q.avail.idx++;
    virtio_notify(&dev, 0);
    uint64_t end = now_us() + 5000000;
    while (*(volatile uint16_t *)&q.used.idx == q.last_used) {
        if (now_us() > end) return 0xFF;
        cpu_relax();
    }
    mb();
    q.last_used++;
    return status;
}

/* Sector 0 all zeros or ours: increment and write back. Anything else: leave
 * the disk alone, boots=0. A failed write keeps the value stored on disk. */
void blk_boot_counter(void) {
    if (!blk_present) return;
    if (blk_rw(false, 0) != 0) { con_write("disk: read failed\n"); return; }
    uint32_t old;
    if (memcmp(sector, magic, 8) == 0) {
        memcpy(&old, sector + 8, 4);
    } else {
        for (int i = 0; i < 512; i++)
            if (sector[i]) return; /* foreign data: boots = 0 */
        old = 0;
    }
    memset(sector, 0, sizeof sector);
    memcpy(sector, magic, 8);
    uint32_t next = old + 1;
    memcpy(sector + 8, &next, 4);
    if (blk_rw(true, 0) != 0) { con_write("disk: write failed\n"); blk_boots = old; return; }
    blk_boots = next;
}
