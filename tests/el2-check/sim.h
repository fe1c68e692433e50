/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tests/el2-check/sim.h: a simulated machine for Xen's EL2 checks of
 * mediator-built OP-TEE messages (xen/arch/arm/tee/stubdom_check.c).
 *
 * Physical memory is a set of 4 KiB frames, each with an owner: the mediator
 * domain, the call's client guest, another domain, Xen, or nothing (not RAM).
 * Pages Xen lends for a check (page lists, argument copies) are a sixth kind
 * of owner, at SIM_LENT_BASE and up. struct tsd_check_ops is implemented
 * over it as Xen's hook does (hv-patches 0009, ck_*), and each callback
 * asserts the contract stubdom_check.h states for its caller:
 *  - copy_from_mediator: page-aligned maddr, off + len <= 4 KiB; -EPERM for
 *    any page that is not the mediator's;
 *  - reserve: room for n more references, within a per-check cap (-ENOSPC);
 *  - hold: page-aligned maddr, never more holds for a parameter than were
 *    reserved for it (assert); -EPERM for any page that is not the client's;
 *  - lend: a fresh zeroed page of owner SIM_LENT, or NULL past a budget.
 * Every hold and every lent page is recorded, so that a test can compare
 * them with what OP-TEE will read. Mediator and lent pages are separate
 * 4 KiB allocations, so AddressSanitizer reports any access past a page.
 *
 * The simulated mediator can misbehave on purpose: with race_xor set, every
 * copy Xen makes from a mediator page is followed by the mediator changing
 * the bytes just copied (a second vCPU racing Xen's reads); with fault_at
 * set, its pages are gone from that copy of a check on (-EPERM, as when the
 * mediator gives a page back to Xen between two of Xen's copies).
 */
#ifndef TSD_EL2_SIM_H
#define TSD_EL2_SIM_H

#include <stdint.h>
#include <stddef.h>

#include "stubdom_check.h"

enum sim_owner {
    SIM_UNMAPPED,   /* not RAM: OP-TEE maps no page there */
    SIM_MEDIATOR,   /* the mediator domain's RAM */
    SIM_CLIENT,     /* the call's client guest's RAM */
    SIM_OTHER,      /* another domain's RAM */
    SIM_XEN,        /* Xen's own RAM */
    SIM_LENT,       /* a page Xen lent (only at SIM_LENT_BASE and up) */
};
#define SIM_NR_STATIC_OWNERS 5  /* SIM_UNMAPPED .. SIM_XEN */

/* Lent pages are at SIM_LENT_BASE + i * 4 KiB; frames are below it. */
#define SIM_LENT_BASE   0x100000000ULL
#define SIM_MAX_LENT    16384U
#define SIM_UNLIMITED   0xffffffffU

struct sim_hold {
    unsigned int param;
    uint64_t maddr;
};

struct sim {
    unsigned int nframes;       /* frames 0 .. nframes - 1, maddr frame * 4 KiB */
    uint8_t *owner;             /* enum sim_owner of each frame */
    uint8_t **data;             /* contents of mediator frames (else NULL) */

    uint8_t *lent[SIM_MAX_LENT];
    unsigned int nlent;
    unsigned int check_lent;    /* lent[check_lent..nlent) were lent by this check */
    unsigned int lend_budget;   /* pages lend() still gives (SIM_UNLIMITED) */

    unsigned int reserved[TSD_MAX_PARAMS], held[TSD_MAX_PARAMS];
    unsigned long total_reserved;
    unsigned long cap;          /* references a check may reserve in all */
    struct sim_hold *holds;
    size_t nholds, holds_size;

    unsigned long copies, copied_bytes, refused_copies, refused_holds;
    uint8_t race_xor;           /* non-zero: the mediator rewrites what Xen copied */
    unsigned int fault_at;      /* non-zero: copy fault_at of a check and later ones fail */
    unsigned int check_copies;  /* copies tried in the current check */
};

void sim_init(struct sim *s, unsigned int nframes);
void sim_free(struct sim *s);
/* Give frame its owner; a mediator frame gets a 4 KiB page filled with fill. */
void sim_set(struct sim *s, unsigned int frame, enum sim_owner owner, uint8_t fill);
static inline uint64_t sim_maddr(unsigned int frame)
{
    return (uint64_t)frame << 12;
}
enum sim_owner sim_owner_of(const struct sim *s, uint64_t maddr);
/* The contents of the mediator or lent page holding maddr, or NULL. */
uint8_t *sim_page(const struct sim *s, uint64_t maddr);
/* Whether OP-TEE would map the page: any RAM (non-secure), whoever owns it. */
static inline int sim_is_ram(const struct sim *s, uint64_t maddr)
{
    return sim_owner_of(s, maddr) != SIM_UNMAPPED;
}
/* A page lent by the current check (not before it). */
int sim_lent_by_check(const struct sim *s, uint64_t maddr);
/* Lend a page outside any check (OP-TEE's argument page of an earlier call). */
uint8_t *sim_lend_now(struct sim *s, uint64_t *maddr);
/* Start a check: no holds, no reservations; later lends belong to it. */
void sim_begin_check(struct sim *s);
/* How many holds of the current check name maddr for param. */
unsigned int sim_holds_of(const struct sim *s, unsigned int param, uint64_t maddr);

extern const struct tsd_check_ops sim_ops;

/*
 * Stop the program: a callback contract was broken (a finding). When
 * sim_fatal_hook is set (the unit tests), it gets the message instead and
 * must not return (it ends the current test).
 */
void sim_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
extern void (*sim_fatal_hook)(const char *msg) __attribute__((noreturn));

#endif
