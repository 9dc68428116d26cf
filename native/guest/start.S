/*
 * PVH entry, long-mode switch, AP trampoline and the few CPL0 stubs.
 *
 * Everything here runs at CPL0, which PVM hosts emulate one instruction at a
 * time (~1.8 us each), so it is kept to the bare minimum: page tables, GDT and
 * TSS are static data, the IDT is filled in later by CPL3 code (it is plain
 * user-accessible memory), and the BSP drops to CPL3 with IOPL=3 right away.
 */
#define KCODE32 0x08
#define KCODE64 0x10
#define KDATA   0x18
#define UDATA   0x20
#define UCODE64 0x28
#define TSSSEL  0x30

/* ---- PVH ELF note: 32-bit physical entry point (XEN_ELFNOTE_PHYS32_ENTRY) */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18          /* namesz, descsz, type */
	.asciz "Xen"
	.balign 4
	.quad pvh_entry         /* 8 bytes like Linux; a 4-byte reader sees the same value */

	.section .text.boot, "ax"
	.code32
	.globl pvh_entry
/* PVH: protected mode, paging off, flat DS/ES/SS, EBX = hvm_start_info. */
pvh_entry:
	movl %ebx, boot_info_paddr
	xorl %esi, %esi                 /* esi = 0: bootstrap processor */
	jmp common32

/* APs arrive here from the real-mode trampoline with stale real-mode DS. */
ap_entry32:
	movl $KDATA, %eax
	movl %eax, %ds
	movl $1, %esi                   /* esi = 1: application processor */
common32:
	lgdt gdt_ptr
	movl $KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $0xC0000080, %ecx          /* EFER */
	rdmsr
	orl $0x100, %eax                /* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax           /* PG | PE */
	movl %eax, %cr0
	ljmp $KCODE64, $entry64

	.code64
entry64:
	testl %esi, %esi
	jnz ap_park
	movq $kstack_top, %rsp
	/* The TSS base cannot be split into descriptor fields by the assembler. */
	movl $tss, %eax
	movw %ax, gdt + TSSSEL + 2
	shrl $16, %eax
	movb %al, gdt + TSSSEL + 4
	movb %ah, gdt + TSSSEL + 7
	movb $0x89, gdt + TSSSEL + 5    /* not busy: a reset may not reload the image */
	movw $TSSSEL, %ax
	ltr %ax
	lidt idt_ptr
	/* To CPL3 with IOPL=3 (port I/O, cli/sti allowed) and IF=0. */
	pushq $(UDATA | 3)
	pushq $ustack_top
	pushq $0x3002
	pushq $(UCODE64 | 3)
	pushq $user_entry
	iretq

ap_park:
	lidt idt_ptr
	lock incl ap_count
1:	cli
	hlt
	jmp 1b

/* ---- CPL3 entry: everything else is C. */
	.text
user_entry:
	call guest_main
1:	jmp 1b

/* ---- Halt "system call". PVM delivers neither `int $N` (#UD) nor SYSCALL
 * from CPL3 to a non-PVM guest's CPL0 the architectural way, but it does
 * deliver exceptions through the IDT, so the call is a ud2 at a known
 * address and the #UD handler recognises it. It waits for an interrupt
 * unless one arrived since the main loop cleared irq_pending (on PVM, CPL3
 * always runs with IF=1, so one may already have been taken). The sti
 * shadow covers hlt. */
	.globl sys_halt
sys_halt:
sys_halt_ud2:
	ud2
	ret

ud_entry:
	cmpq $sys_halt_ud2, (%rsp)
	jne exc6
	cmpb $0, irq_pending
	jne 1f
	sti
	hlt
	cli
1:	addq $2, (%rsp)                 /* resume after the ud2 */
	iretq

/* ---- Device interrupts. Handlers run emulated on PVM: a handful of
 * instructions. Clearing IF in the saved RFLAGS returns to ud_entry
 * with interrupts off. Edge-triggered sources (COM1, keyboard): EOI here.
 * Level-triggered (virtio): no EOI here, so the still-asserted line cannot
 * re-enter; the main loop acknowledges the device, then writes the EOI. */
	.globl irq_edge_entry, irq_level_entry, spurious_entry
irq_edge_entry:
	movb $1, irq_pending
	pushq %rax
	xorl %eax, %eax
	movabsl %eax, 0xFEE000B0        /* LAPIC EOI */
	andb $0xFD, 25(%rsp)            /* RFLAGS.IF (bit 9) in the frame */
	popq %rax
	iretq

irq_level_entry:
	movb $1, irq_pending
	movb $1, irq_level_pending
	andb $0xFD, 17(%rsp)
	iretq

spurious_entry:
	andb $0xFD, 17(%rsp)
	iretq

/* ---- CPU exceptions: report and stop (debug aid; never expected). */
.macro EXC n
exc\n:
	.if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp exc_common
.endm
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC \n
	.endr
exc_common:
	movq %rsp, %rdi
	andq $-16, %rsp
	call fault_report
1:	cli
	hlt
	jmp 1b

	.section .rodata
	.balign 8
	.globl exc_table
exc_table:
	.irp n, 0,1,2,3,4,5
	.quad exc\n
	.endr
	.quad ud_entry
	.irp n, 7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc\n
	.endr

/* ---- AP trampoline, copied below 1 MiB by guest code (position independent:
 * it addresses its own data through CS, which the SIPI sets to page<<8). */
	.section .rodata
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_gdt_ptr - ap_tramp_start)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $KCODE32, $ap_entry32
	.balign 4
ap_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:
	.code64

/* ---- Static descriptor tables and page tables. */
	.data
	.balign 16
gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF        /* 0x08 code32 */
	.quad 0x00AF9A000000FFFF        /* 0x10 code64 */
	.quad 0x00CF92000000FFFF        /* 0x18 data */
	.quad 0x00CFF2000000FFFF        /* 0x20 user data */
	.quad 0x00AFFA000000FFFF        /* 0x28 user code64 */
	.word tss_end - tss - 1, 0      /* 0x30 TSS: limit, base filled at boot */
	.byte 0, 0x89, 0, 0
	.quad 0
gdt_end:
	.balign 4
	.word 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
	.balign 4
	.word 0
idt_ptr:
	.word 256 * 16 - 1
	.quad idt

	.balign 16
tss:
	.long 0
	.quad kstack_top                /* RSP0 */
	.fill 0x66 - 12, 1, 0
	.word 0x68                      /* I/O bitmap offset */
	/* All ports allowed. IOPL=3 is enough on hardware, but PVM runs CPL3
	 * with IOPL=0 and emulates port I/O after checking this bitmap. */
	.fill 8192, 1, 0
	.byte 0xFF
tss_end:

	.balign 8
	.globl boot_info_paddr, ap_count, irq_pending, irq_level_pending
boot_info_paddr:
	.quad 0
ap_count:
	.long 0
irq_pending:
	.byte 0
irq_level_pending:
	.byte 0

	.balign 4096
	.globl idt
idt:
	.fill 256 * 16, 1, 0

/* Identity map of 0..4 GiB with 2 MiB pages, present|writable|user. */
	.balign 4096
pml4:
	.quad pdpt + 7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0007, pd + 0x1007, pd + 0x2007, pd + 0x3007
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) | 0x87
	.set i, i + 1
	.endr

/* Stacks live outside .bss so that clearing .bss from C cannot hit them. */
	.section .stack, "aw", @nobits
	.balign 4096
	.skip 16384
kstack_top:
	.skip 65536
	.globl ustack_top
ustack_top:
