/* virtio-net: one hello frame on request, then echo every received frame
 * back with source and destination MAC swapped. */
#include "guest.h"

#define NET_F_MAC (1u << 5)
#define HDR 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define BUF 2048

static bool present, echo;
static struct vdev dev;
static struct vq rxq, txq;
static uint8_t mac[6];
static uint8_t rxbuf[VQ_SIZE][BUF] __attribute__((aligned(64)));
static uint8_t txbuf[VQ_SIZE][BUF] __attribute__((aligned(64)));

bool net_present(void) { return present; }

static void rx_post(uint16_t id) {
    rxq.avail.ring[rxq.avail.idx % rxq.num] = id;
    mb();
    rxq.avail.idx++;
}

bool net_attach(struct vdev *d) {
    uint32_t feat;
    dev = *d;
    if (!virtio_begin(&dev, NET_F_MAC, &feat)) return false;
    if (!virtio_queue(&dev, 0, &rxq) || !virtio_queue(&dev, 1, &txq)) return false;
    for (int i = 0; i < 6; i++) mac[i] = (feat & NET_F_MAC) ? mmio_read8(dev.base + 0x100 + i) : (uint8_t)(i ? 0 : 2);
    for (uint16_t i = 0; i < rxq.num; i++) {
        rxq.desc[i] = (struct virtq_desc){(uintptr_t)rxbuf[i], BUF, VIRTQ_DESC_F_WRITE, 0};
        rx_post(i);
    }
    txq.avail.flags = 1; /* no interrupt for transmitted frames */
    virtio_ready(&dev);
    virtio_notify(&dev, 0);
    irq_route_gsi(dev.gsi, true, false);
    present = true;
    return true;
}

/* Reclaim transmitted buffers; send if a slot is free (else drop). */
static bool tx(const uint8_t *frame, uint32_t len) {
    if (len > BUF - HDR) return false;
    while (txq.last_used != *(volatile uint16_t *)&txq.used.idx) txq.last_used++;
    if ((uint16_t)(txq.avail.idx - txq.last_used) >= txq.num) return false;
    uint16_t id = txq.avail.idx % txq.num;
    memset(txbuf[id], 0, HDR);
    memcpy(txbuf[id] + HDR, frame, len);
    txq.desc[id] = (struct virtq_desc){(uintptr_t)txbuf[id], HDR + len, 0, 0};
    txq.avail.ring[id] = id;
    mb();
    txq.avail.idx++;
    return true; /* the caller notifies once per batch */
}

bool net_send_hello(void) {
    static const char payload[] = "guest-net-ok";
    uint8_t f[14 + sizeof payload - 1];
    memset(f, 0xFF, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x88;
    f[13] = 0xB5;
    memcpy(f + 14, payload, sizeof payload - 1);
    if (!present || !tx(f, sizeof f)) return false;
    virtio_notify(&dev, 1);
    echo = true;
    return true;
}

bool net_poll(void) {
    if (!present) return false;
    bool did = virtio_ack_irq(&dev) != 0;
    bool reposted = false, sent = false;
    while (rxq.last_used != *(volatile uint16_t *)&rxq.used.idx) {
        mb();
        uint32_t id = rxq.used.ring[rxq.last_used % rxq.num].id;
        uint32_t len = rxq.used.ring[rxq.last_used % rxq.num].len;
        rxq.last_used++;
        if (id >= rxq.num) continue;
        if (echo && len >= HDR + 14 && len <= BUF) {
            uint8_t *f = rxbuf[id] + HDR, t[6];
            memcpy(t, f, 6);
            memcpy(f, f + 6, 6);
            memcpy(f + 6, t, 6);
            sent |= tx(f, len - HDR);
        }
        rx_post((uint16_t)id);
        reposted = did = true;
    }
    if (sent) virtio_notify(&dev, 1);
    if (reposted) virtio_notify(&dev, 0);
    return did;
}
