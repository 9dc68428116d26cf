/* Bochs VBE linear framebuffer: text console (8x16 font, scrolling, cursor)
 * and the `draw` test pattern. */
#include "guest.h"

#define FG 0x00AAAAAAu
#define BG 0x00000000u
#define MAX_COLS (1920 / 8)
#define MAX_ROWS (1080 / 16)

static volatile uint32_t *fb;
static uint32_t width, height, stride; /* stride in pixels */
static int cols, rows, cx, cy;
static bool suspended;
static char text[MAX_ROWS][MAX_COLS];

static uint16_t vbe_read(uint16_t index) { outw(VBE_INDEX, index); return inw(VBE_DATA); }
static void vbe_write(uint16_t index, uint16_t v) { outw(VBE_INDEX, index); outw(VBE_DATA, v); }

enum { VBE_ID = 0, VBE_XRES = 1, VBE_YRES = 2, VBE_BPP = 3, VBE_ENABLE = 4, VBE_VIRT_WIDTH = 6 };

static void draw_cell(int x, int y) {
    unsigned char c = (unsigned char)text[y][x];
    const uint8_t *g = (c >= 32 && c < 127) ? font_bits[c - 32] : font_bits[0];
    volatile uint32_t *p = fb + (uint64_t)y * 16 * stride + (uint64_t)x * 8;
    bool cursor = (x == cx && y == cy);
    for (int r = 0; r < 16; r++, p += stride) {
        uint8_t bits = g[r];
        if (cursor && r >= 14) bits = 0xFF; /* underline cursor */
        for (int b = 0; b < 8; b++) p[b] = (bits & (0x80 >> b)) ? FG : BG;
    }
}

static void redraw_all(void) {
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < width; x++) fb[(uint64_t)y * stride + x] = BG;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++)
            if (text[y][x] != ' ' || (x == cx && y == cy)) draw_cell(x, y);
}

bool fb_init(void) {
    uint16_t id = vbe_read(VBE_ID);
    if ((id & 0xFFF0) != 0xB0C0) return false;
    if (!(vbe_read(VBE_ENABLE) & 1) || vbe_read(VBE_BPP) != 32 || !vbe_read(VBE_XRES) || !vbe_read(VBE_YRES)) {
        /* Nobody set a mode: pick one (linear framebuffer enabled). */
        vbe_write(VBE_ENABLE, 0);
        vbe_write(VBE_XRES, 1024);
        vbe_write(VBE_YRES, 768);
        vbe_write(VBE_BPP, 32);
        vbe_write(VBE_ENABLE, 0x41);
    }
    /* QEMU's VGA models blank the screen until the attribute controller's
     * "palette address source" bit is set; harmless where no VGA exists. */
    inb(0x3DA);
    outb(0x3C0, 0x20);
    width = vbe_read(VBE_XRES);
    height = vbe_read(VBE_YRES);
    stride = vbe_read(VBE_VIRT_WIDTH);
    if (stride < width) stride = width;
    if (vbe_read(VBE_BPP) != 32 || width < 8 || height < 16 || width > 1920 || height > 1080 ||
        (uint64_t)stride * 4 * height > FB_MAX_SIZE)
        return false;
    fb = (volatile uint32_t *)FB_BASE;
    cols = (int)(width / 8);
    rows = (int)(height / 16);
    memset(text, ' ', sizeof text);
    font_init();
    redraw_all();
    return true;
}

static void scroll(void) {
    memmove(text[0], text[1], sizeof text - sizeof text[0]);
    memset(text[rows - 1], ' ', sizeof text[0]);
    cy = rows - 1;
    if (suspended) return;
    /* Move the pixels up one text row, then clear the last one. */
    uint64_t line = (uint64_t)16 * stride;
    for (uint64_t i = 0; i < (uint64_t)(rows - 1) * line; i++) fb[i] = fb[i + line];
    for (int x = 0; x < cols; x++) draw_cell(x, rows - 1);
}

void fbcon_putc(char c) {
    if (!fb) return;
    int ox = cx, oy = cy;
    bool wrap = false;
    if (c == '\n') {
        cx = 0;
        wrap = true;
    } else if (c == '\r') {
        cx = 0;
    } else if (c == '\b') {
        if (cx > 0) cx--;
    } else {
        text[cy][cx] = c;
        if (++cx >= cols) { cx = 0; wrap = true; }
    }
    if (wrap && ++cy >= rows) {
        scroll();
        oy--; /* the old cursor cell moved up with the text */
    }
    if (suspended) return;
    if (oy >= 0) draw_cell(ox, oy);
    draw_cell(cx, cy);
}

void fbcon_suspend(void) { suspended = fb != 0; }

void fbcon_resume(void) {
    if (!suspended) return;
    suspended = false;
    redraw_all();
}

/* pixel(x,y) = ((x*255/(w-1)) << 16) | ((y*255/(h-1)) << 8) | ((x^y) & 0xFF)
 * checksum = FNV-1a 32-bit over each visible pixel as 4 little-endian bytes,
 * rows top to bottom, x = 0..w-1 (padding beyond the width excluded). */
bool fb_draw_pattern(uint32_t *checksum) {
    if (!fb) return false;
    uint32_t h = 0x811C9DC5u;
    for (uint32_t y = 0; y < height; y++) {
        volatile uint32_t *row = fb + (uint64_t)y * stride;
        uint32_t g = y * 255 / (height - 1);
        for (uint32_t x = 0; x < width; x++) {
            uint32_t px = ((x * 255 / (width - 1)) << 16) | (g << 8) | ((x ^ y) & 0xFF);
            row[x] = px;
            for (int i = 0; i < 4; i++) {
                h ^= (px >> (8 * i)) & 0xFF;
                h *= 0x01000193u;
            }
        }
    }
    *checksum = h;
    return true;
}
