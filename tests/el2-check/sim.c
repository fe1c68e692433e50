/* SPDX-License-Identifier: GPL-2.0-only */
/* tests/el2-check/sim.c: the simulated machine of sim.h. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void (*sim_fatal_hook)(const char *msg) __attribute__((noreturn));

void sim_fatal(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ( sim_fatal_hook )
        sim_fatal_hook(msg);
    fprintf(stderr, "el2-check: FINDING: %s\n", msg);
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if ( !p )
    {
        fprintf(stderr, "el2-check: out of host memory\n");
        exit(2);
    }
    return p;
}

void sim_init(struct sim *s, unsigned int nframes)
{
    memset(s, 0, sizeof(*s));
    s->nframes = nframes;
    s->owner = xcalloc(nframes, 1);
    s->data = xcalloc(nframes, sizeof(*s->data));
    s->lend_budget = SIM_UNLIMITED;
    s->cap = TSD_MAX_BUF_PAGES;         /* Xen's TEE_STUBDOM_MAX_PINS */
}

void sim_free(struct sim *s)
{
    unsigned int i;

    for ( i = 0; i < s->nframes; i++ )
        free(s->data[i]);
    for ( i = 0; i < s->nlent; i++ )
        free(s->lent[i]);
    free(s->data);
    free(s->owner);
    free(s->holds);
    memset(s, 0, sizeof(*s));
}

void sim_set(struct sim *s, unsigned int frame, enum sim_owner owner, uint8_t fill)
{
    if ( frame >= s->nframes || owner >= SIM_LENT )
        sim_fatal("test bug: sim_set(%u, %d)", frame, owner);
    s->owner[frame] = owner;
    free(s->data[frame]);
    s->data[frame] = NULL;
    if ( owner == SIM_MEDIATOR )
    {
        s->data[frame] = malloc(TSD_PAGE_SIZE);
        if ( !s->data[frame] )
            sim_fatal("out of host memory");
        memset(s->data[frame], fill, TSD_PAGE_SIZE);
    }
}

static int lent_index(const struct sim *s, uint64_t maddr, unsigned int *i)
{
    uint64_t k;

    if ( maddr < SIM_LENT_BASE )
        return 0;
    k = (maddr - SIM_LENT_BASE) >> 12;
    if ( k >= s->nlent )
        return 0;
    *i = (unsigned int)k;
    return 1;
}

enum sim_owner sim_owner_of(const struct sim *s, uint64_t maddr)
{
    uint64_t frame = maddr >> 12;
    unsigned int i;

    if ( lent_index(s, maddr, &i) )
        return SIM_LENT;
    if ( frame < s->nframes )
        return s->owner[frame];
    return SIM_UNMAPPED;
}

uint8_t *sim_page(const struct sim *s, uint64_t maddr)
{
    uint64_t frame = maddr >> 12;
    unsigned int i;

    if ( lent_index(s, maddr, &i) )
        return s->lent[i];
    if ( frame < s->nframes )
        return s->data[frame];
    return NULL;
}

int sim_lent_by_check(const struct sim *s, uint64_t maddr)
{
    unsigned int i;

    return !(maddr & TSD_PAGE_MASK) && lent_index(s, maddr, &i) &&
           i >= s->check_lent;
}

uint8_t *sim_lend_now(struct sim *s, uint64_t *maddr)
{
    uint8_t *p;

    if ( s->nlent >= SIM_MAX_LENT )
        sim_fatal("more than %u lent pages", SIM_MAX_LENT);
    p = xcalloc(1, TSD_PAGE_SIZE);
    *maddr = SIM_LENT_BASE + ((uint64_t)s->nlent << 12);
    s->lent[s->nlent++] = p;
    return p;
}

void sim_begin_check(struct sim *s)
{
    memset(s->reserved, 0, sizeof(s->reserved));
    memset(s->held, 0, sizeof(s->held));
    s->total_reserved = 0;
    s->nholds = 0;
    s->check_lent = s->nlent;
    s->check_copies = 0;
}

unsigned int sim_holds_of(const struct sim *s, unsigned int param, uint64_t maddr)
{
    unsigned int n = 0;
    size_t i;

    for ( i = 0; i < s->nholds; i++ )
        n += s->holds[i].param == param && s->holds[i].maddr == maddr;
    return n;
}

/* --- struct tsd_check_ops ------------------------------------------------ */

static int sim_copy(void *ctx, uint64_t maddr, unsigned int off, void *dst,
                    unsigned int len)
{
    struct sim *s = ctx;
    uint8_t *page;
    unsigned int i;

    if ( maddr & TSD_PAGE_MASK )
        sim_fatal("copy_from_mediator(%#llx): not page aligned",
                  (unsigned long long)maddr);
    if ( (uint64_t)off + len > TSD_PAGE_SIZE )
        sim_fatal("copy_from_mediator(%#llx, off %u, len %u): past the page",
                  (unsigned long long)maddr, off, len);
    s->check_copies++;
    if ( sim_owner_of(s, maddr) != SIM_MEDIATOR ||
         (s->fault_at && s->check_copies >= s->fault_at) )
    {
        s->refused_copies++;
        return -EPERM;
    }
    page = sim_page(s, maddr);
    memcpy(dst, page + off, len);
    s->copies++;
    s->copied_bytes += len;
    if ( s->race_xor )
        for ( i = 0; i < len; i++ )
            page[off + i] ^= s->race_xor;
    return 0;
}

static int sim_reserve(void *ctx, unsigned int param, unsigned int n)
{
    struct sim *s = ctx;

    if ( param >= TSD_MAX_PARAMS )
        sim_fatal("reserve for parameter %u", param);
    if ( s->total_reserved + n > s->cap )
        return -ENOSPC;
    s->reserved[param] += n;
    s->total_reserved += n;
    return 0;
}

static int sim_hold(void *ctx, unsigned int param, uint64_t maddr)
{
    struct sim *s = ctx;

    if ( param >= TSD_MAX_PARAMS )
        sim_fatal("hold for parameter %u", param);
    if ( maddr & TSD_PAGE_MASK )
        sim_fatal("hold(%#llx): not page aligned", (unsigned long long)maddr);
    if ( s->held[param] >= s->reserved[param] )
        sim_fatal("hold %u of parameter %u, only %u reserved", s->held[param] + 1,
                  param, s->reserved[param]);
    if ( sim_owner_of(s, maddr) != SIM_CLIENT )
    {
        s->refused_holds++;
        return -EPERM;
    }
    if ( s->nholds == s->holds_size )
    {
        s->holds_size = s->holds_size ? 2 * s->holds_size : 1024;
        s->holds = realloc(s->holds, s->holds_size * sizeof(*s->holds));
        if ( !s->holds )
            sim_fatal("out of host memory");
    }
    s->holds[s->nholds].param = param;
    s->holds[s->nholds].maddr = maddr;
    s->nholds++;
    s->held[param]++;
    return 0;
}

static void *sim_lend(void *ctx, uint64_t *maddr)
{
    struct sim *s = ctx;

    if ( s->lend_budget != SIM_UNLIMITED )
    {
        if ( !s->lend_budget )
            return NULL;
        s->lend_budget--;
    }
    return sim_lend_now(s, maddr);
}

const struct tsd_check_ops sim_ops = {
    .copy_from_mediator = sim_copy,
    .reserve = sim_reserve,
    .hold = sim_hold,
    .lend = sim_lend,
};
