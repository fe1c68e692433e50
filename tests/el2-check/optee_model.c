/* SPDX-License-Identifier: GPL-2.0-only */
/* tests/el2-check/optee_model.c: OP-TEE 4.10's reads, see optee_model.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optee_model.h"

unsigned long optee_model_entries, optee_model_lists;

static char why[320];

#define VIOLATION(...) (snprintf(why, sizeof(why), __VA_ARGS__), (const char *)why)

/*
 * No OP-TEE heap holds this many page addresses (32 MiB): the malloc() of
 * msg_param_mobj_from_noncontig() fails and OP-TEE reads no list. Only a
 * null-unaware reader can get there (Xen bounds every list it accepts).
 */
#define MODEL_MAX_ENTRIES   (1ULL << 22)

static const char *owner_name(enum sim_owner o)
{
    static const char *const names[] = {
        [SIM_UNMAPPED] = "nobody (not RAM)", [SIM_MEDIATOR] = "the mediator",
        [SIM_CLIENT] = "the client", [SIM_OTHER] = "another domain",
        [SIM_XEN] = "Xen", [SIM_LENT] = "Xen (lent)",
    };

    return o <= SIM_LENT ? names[o] : "?";
}

struct entries {
    uint64_t *v;
    size_t n, size;
};

static void push(struct entries *e, uint64_t v)
{
    if ( e->n == e->size )
    {
        e->size = e->size ? 2 * e->size : 512;
        e->v = realloc(e->v, e->size * sizeof(*e->v));
        if ( !e->v )
            sim_fatal("out of host memory");
    }
    e->v[e->n++] = v;
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * A page list at buf_ptr for size bytes, read as msg_param_extract_pages()
 * does. Returns a violation, or NULL with the entries in e; *refused when
 * OP-TEE reads nothing at all (e->n == 0).
 *
 * OP-TEE's own refusals count only before it reads anything: a first list
 * page that is not non-secure RAM. A list in pages Xen lent is Xen's word:
 * every next pointer OP-TEE follows must be a page Xen lent for this check,
 * every entry a page-aligned client page Xen holds (check_held()), even where
 * OP-TEE would refuse the entry itself, since on another layout it would not.
 */
static const char *walk_list(const struct sim *s, const char *what,
                             uint64_t buf_ptr, uint64_t size,
                             struct entries *e, int *refused)
{
    uint64_t offset = buf_ptr & TSD_PAGE_MASK, list = buf_ptr & ~TSD_PAGE_MASK;
    uint64_t plus, num, cnt;
    const uint8_t *va;
    unsigned int idx = 0;

    e->n = 0;
    *refused = 1;
    if ( __builtin_add_overflow(size, offset, &plus) )
        return NULL;                            /* ADD_OVERFLOW: refused */
    /* size_plus_offs == 0 wraps to 2^52 pages, as in OP-TEE. */
    num = (plus - 1) / TSD_PAGE_SIZE + 1;
    if ( num > MODEL_MAX_ENTRIES )
        return NULL;                            /* malloc() fails */
    if ( !sim_lent_by_check(s, list) )
    {
        if ( !sim_is_ram(s, list) )
            return NULL;                        /* not non-secure DDR */
        return VIOLATION("%s: OP-TEE reads a page list at %#llx, a page of "
                         "%s, not one Xen lent for this check", what,
                         (unsigned long long)list,
                         owner_name(sim_owner_of(s, list)));
    }
    *refused = 0;
    optee_model_lists++;
    va = sim_page(s, list);
    for ( cnt = 0; cnt < num; cnt++, idx++ )
    {
        uint64_t page;

        if ( idx == TSD_PL_ENTRIES )
        {
            uint64_t next = tsd_get64(va, TSD_PL_ENTRIES * 8);

            if ( !sim_lent_by_check(s, next) )
                return VIOLATION("%s: entry %llu: OP-TEE follows the next "
                                 "pointer to %#llx, a page of %s, not one "
                                 "Xen lent for this check", what,
                                 (unsigned long long)cnt,
                                 (unsigned long long)next,
                                 owner_name(sim_owner_of(s, next & ~TSD_PAGE_MASK)));
            optee_model_lists++;
            va = sim_page(s, next);
            idx = 0;
        }
        page = tsd_get64(va, idx * 8);
        if ( page & TSD_PAGE_MASK )
            return VIOLATION("%s: entry %llu of Xen's list, %#llx, is not page "
                             "aligned", what, (unsigned long long)cnt,
                             (unsigned long long)page);
        push(e, page);
    }
    optee_model_entries += e->n;
    return NULL;
}

/* Every page in e is the client's and held for param, one hold per use. */
static const char *check_held(const struct sim *s, const char *what,
                              unsigned int param, struct entries *e)
{
    struct entries h = { 0 };
    size_t i, j = 0;
    const char *bad = NULL;

    for ( i = 0; i < s->nholds; i++ )
        if ( s->holds[i].param == param )
            push(&h, s->holds[i].maddr);
    qsort(e->v, e->n, sizeof(*e->v), cmp64);
    if ( h.n )
        qsort(h.v, h.n, sizeof(*h.v), cmp64);
    for ( i = 0; i < e->n && !bad; i++ )
    {
        enum sim_owner o = sim_owner_of(s, e->v[i]);

        while ( j < h.n && h.v[j] < e->v[i] )
            j++;
        if ( o != SIM_CLIENT )
            bad = VIOLATION("%s: OP-TEE uses page %#llx, a page of %s, not "
                            "of the client", what, (unsigned long long)e->v[i],
                            owner_name(o));
        else if ( j == h.n || h.v[j] != e->v[i] )
            bad = VIOLATION("%s: OP-TEE uses client page %#llx more often "
                            "than Xen holds it for parameter %u", what,
                            (unsigned long long)e->v[i], param);
        else
            j++;
    }
    free(h.v);
    return bad;
}

/* A physical range OP-TEE maps as it is (core_pbuf_is(CORE_MEM_NON_SEC)). */
static const char *check_range(const struct sim *s, const char *what,
                               unsigned int param, uint64_t pa, uint64_t size)
{
    struct entries e = { 0 };
    uint64_t end, p;
    const char *bad;

    if ( !size )
        return NULL;        /* core_pbuf_is(): "Empty buffers complies with anything" */
    if ( __builtin_add_overflow(pa, size - 1, &end) ||
         (end >> 12) - (pa >> 12) >= MODEL_MAX_ENTRIES )
        return NULL;
    for ( p = pa & ~TSD_PAGE_MASK; p <= end; p += TSD_PAGE_SIZE )
    {
        if ( !sim_is_ram(s, p) )
        {
            free(e.v);
            return NULL;                        /* refused as a whole */
        }
        push(&e, p);
        if ( p + TSD_PAGE_SIZE < p )
            break;
    }
    bad = check_held(s, what, param, &e);
    free(e.v);
    return bad;
}

/* A page list a reader without a null case follows. */
static const char *check_list(const struct sim *s, const char *what,
                              unsigned int param, uint64_t buf_ptr,
                              uint64_t size, size_t *named)
{
    struct entries e = { 0 };
    const char *bad;
    int refused;

    bad = walk_list(s, what, buf_ptr, size, &e, &refused);
    if ( !bad && !refused )
        bad = check_held(s, what, param, &e);
    if ( named )
        *named += e.n;
    free(e.v);
    return bad;
}

/*
 * Parameters [0, n) of msg as OP-TEE's generic readers see them. *named is
 * the number of page-list entries, which must be every reference Xen took.
 */
static const char *read_params(const struct sim *s, const char *ctx,
                               const uint8_t *msg, unsigned int n,
                               size_t *named)
{
    char what[64];
    unsigned int i;
    const char *bad;

    for ( i = 0; i < n; i++ )
    {
        unsigned int p = TSD_ARG_HDR + i * TSD_PARAM_SIZE;
        uint64_t attr = tsd_get64(msg, p), buf_ptr = tsd_get64(msg, p + 8);
        uint64_t size = tsd_get64(msg, p + 16);

        snprintf(what, sizeof(what), "%s parameter %u", ctx, i);
        switch ( attr & 0xff )
        {
        case MSG_ATTR_TYPE_TMEM_INPUT:
        case MSG_ATTR_TYPE_TMEM_OUTPUT:
        case MSG_ATTR_TYPE_TMEM_INOUT:
            if ( !buf_ptr )
                break;                          /* set_tmem_param(): null */
            if ( attr & MSG_ATTR_NONCONTIG )
                bad = check_list(s, what, i, buf_ptr, size, named);
            else
                bad = check_range(s, what, i, buf_ptr, size);
            if ( bad )
                return bad;
            break;
        default:
            break;                              /* no address */
        }
    }
    return NULL;
}

const char *optee_read_arg(const struct sim *s, const uint8_t *arg,
                           unsigned int size, unsigned int rpc_params)
{
    uint32_t cmd = tsd_get32(arg, 0), n = tsd_get32(arg, TSD_ARG_NUM_PARAMS);
    size_t named = 0;
    const char *bad;
    unsigned int i, end;

    if ( n > TSD_MAX_PARAMS || size != TSD_ARG_SIZE(n) )
        return VIOLATION("argument: OP-TEE reads %u parameters (%u bytes), Xen "
                         "checked %u bytes", n,
                         n > TSD_MAX_PARAMS ? 0 : TSD_ARG_SIZE(n), size);
    end = size + (rpc_params ? TSD_ARG_SIZE(rpc_params) : 0);
    if ( end > TSD_PAGE_SIZE )
        return VIOLATION("argument: %u bytes with the RPC argument, past the "
                         "lent page", end);
    for ( i = size; i < TSD_PAGE_SIZE; i++ )
        if ( arg[i] )
            return VIOLATION("argument: byte %u after the argument is %#x, "
                             "not zero", i, arg[i]);

    bad = read_params(s, "argument", arg, n, &named);
    if ( bad )
        return bad;
    if ( named != s->nholds )
        return VIOLATION("argument: Xen holds %zu references, OP-TEE's page "
                         "lists name %zu", s->nholds, named);

    if ( cmd == MSG_CMD_REGISTER_SHM && n == 1 &&
         tsd_get64(arg, TSD_ARG_HDR) ==
         (MSG_ATTR_TYPE_TMEM_OUTPUT | MSG_ATTR_NONCONTIG) )
    {
        bad = check_list(s, "REGISTER_SHM (register_shm)", 0,
                         tsd_get64(arg, TSD_ARG_HDR + 8),
                         tsd_get64(arg, TSD_ARG_HDR + 16), NULL);
        if ( bad )
            return bad;
    }
    if ( cmd == MSG_CMD_LEND_PROTMEM && n == 2 &&
         tsd_get64(arg, TSD_ARG_HDR) == MSG_ATTR_TYPE_VALUE_INPUT &&
         tsd_get64(arg, TSD_ARG_HDR + TSD_PARAM_SIZE) ==
         MSG_ATTR_TYPE_TMEM_INPUT )
    {
        bad = check_range(s, "LEND_PROTMEM (lend_protmem)", 1,
                          tsd_get64(arg, TSD_ARG_HDR + TSD_PARAM_SIZE + 8),
                          tsd_get64(arg, TSD_ARG_HDR + TSD_PARAM_SIZE + 16));
        if ( bad )
            return bad;
    }
    return NULL;
}

const char *optee_read_rpc_answer(const struct sim *s, const uint8_t *msg)
{
    uint32_t cmd = tsd_get32(msg, 0), ret = tsd_get32(msg, TSD_ARG_RET);
    uint32_t n = tsd_get32(msg, TSD_ARG_NUM_PARAMS);
    size_t named = 0;
    const char *bad;

    if ( n > TSD_MAX_PARAMS )
        return VIOLATION("RPC answer: %u parameters", n);
    bad = read_params(s, "RPC answer", msg, n, &named);
    if ( bad )
        return bad;
    if ( named != s->nholds )
        return VIOLATION("RPC answer: Xen holds %zu references, OP-TEE's page "
                         "lists name %zu", s->nholds, named);

    /* thread_rpc_alloc() -> get_rpc_alloc_res(). */
    if ( cmd == RPC_CMD_SHM_ALLOC && !ret && n == 1 )
    {
        uint64_t attr = tsd_get64(msg, TSD_ARG_HDR);
        uint64_t p = tsd_get64(msg, TSD_ARG_HDR + 8);
        uint64_t sz = tsd_get64(msg, TSD_ARG_HDR + 16);

        if ( attr == MSG_ATTR_TYPE_TMEM_OUTPUT && !(p & TSD_PAGE_MASK) &&
             sz <= TSD_PAGE_SIZE )
            /* rpc_shm_mobj_alloc(): one page of dynamic SHM at p. */
            bad = check_range(s, "SHM_ALLOC answer (rpc_shm_mobj_alloc)", 0,
                              p, TSD_PAGE_SIZE);
        else if ( attr == (MSG_ATTR_TYPE_TMEM_OUTPUT | MSG_ATTR_NONCONTIG) )
            bad = check_list(s, "SHM_ALLOC answer (msg_param_mobj_from_noncontig)",
                             0, p, sz, NULL);
    }
    return bad;
}
