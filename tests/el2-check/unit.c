/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tests/el2-check/unit.c: unit tests of xen/arch/arm/tee/stubdom_check.c on
 * the simulated machine (sim.h), with OP-TEE's reads modelled by
 * optee_model.h. One line per test, "PASS name" or "FAIL name: why", then
 * "N passed, M failed"; the exit status is 1 when any test failed.
 *
 *   unit [SUBSTRING]     run the tests whose name contains SUBSTRING
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optee_model.h"
#include "sim.h"
#include "stubdom_check.h"

/* --- The machine of every test --------------------------------------------- */

#define NFRAMES     20480
#define F_ARG       1           /* the mediator's argument page */
#define F_LIST      2           /* mediator pages 2..63: page lists */
#define F_MED_END   64
#define F_XEN       70
#define F_OTHER     71
#define F_UNMAPPED  72
#define F_CLIENT    1024        /* client pages 1024 .. NFRAMES - 1 */
#define N_CLIENT    (NFRAMES - F_CLIENT)

#define ATTR_TMEM_IN    MSG_ATTR_TYPE_TMEM_INPUT
#define ATTR_TMEM_OUT   MSG_ATTR_TYPE_TMEM_OUTPUT
#define ATTR_TMEM_INOUT MSG_ATTR_TYPE_TMEM_INOUT
#define NONCONTIG       MSG_ATTR_NONCONTIG
#define TEEC_ORIGIN_COMMS 2U

static struct sim S;
static uint8_t *dst;            /* the lent page Xen copies into */
static uint64_t dst_maddr;
static unsigned int size;       /* tsd_check_arg()'s *size */

static uint64_t client(unsigned int i)
{
    return sim_maddr(F_CLIENT + i);
}

static uint8_t *med(unsigned int frame)
{
    return S.data[frame];
}

static void put32(uint8_t *p, unsigned int off, uint32_t v)
{
    unsigned int i;

    for ( i = 0; i < 4; i++ )
        p[off + i] = v >> (8 * i);
}

static void machine(void)
{
    unsigned int f;

    sim_free(&S);
    sim_init(&S, NFRAMES);
    for ( f = F_ARG; f < F_MED_END; f++ )
        sim_set(&S, f, SIM_MEDIATOR, 0xee);
    sim_set(&S, F_XEN, SIM_XEN, 0);
    sim_set(&S, F_OTHER, SIM_OTHER, 0);
    for ( f = F_CLIENT; f < NFRAMES; f++ )
        sim_set(&S, f, SIM_CLIENT, 0);
    /* Frame 0 and F_UNMAPPED are not RAM (QEMU virt: flash at 0). */
    dst = sim_lend_now(&S, &dst_maddr);
    memset(dst, 0xa5, TSD_PAGE_SIZE);
    sim_begin_check(&S);
}

/* The mediator's argument: a header and parameters in F_ARG. */
static void arg_hdr(uint32_t cmd, uint32_t n)
{
    memset(med(F_ARG), 0, TSD_PAGE_SIZE);
    put32(med(F_ARG), 0, cmd);
    put32(med(F_ARG), 4, 0x11111111);       /* func */
    put32(med(F_ARG), 8, 0x22222222);       /* session */
    put32(med(F_ARG), 16, 0x44444444);      /* pad */
    put32(med(F_ARG), TSD_ARG_NUM_PARAMS, n);
}

static void param_at(uint8_t *msg, unsigned int i, uint64_t attr, uint64_t a,
                     uint64_t b, uint64_t c)
{
    unsigned int p = TSD_ARG_HDR + i * TSD_PARAM_SIZE;

    tsd_put64(msg, p, attr);
    tsd_put64(msg, p + 8, a);
    tsd_put64(msg, p + 16, b);
    tsd_put64(msg, p + 24, c);
}

static void param(unsigned int i, uint64_t attr, uint64_t a, uint64_t b, uint64_t c)
{
    param_at(med(F_ARG), i, attr, a, b, c);
}

/*
 * A page list of n entries in mediator pages first, first + 1, ...: entry i
 * is entry(i), each full page's next pointer names the next page; the rest of
 * each page is junk the mediator left there.
 */
static uint64_t list(unsigned int first, unsigned int n, uint64_t (*entry)(unsigned int))
{
    unsigned int i, page = first;

    memset(med(page), 0xcc, TSD_PAGE_SIZE);
    for ( i = 0; i < n; i++ )
    {
        if ( i && i % TSD_PL_ENTRIES == 0 )
        {
            tsd_put64(med(page), TSD_PL_ENTRIES * 8, sim_maddr(page + 1));
            page++;
            if ( page >= F_MED_END )
                sim_fatal("test bug: list too long");
            memset(med(page), 0xcc, TSD_PAGE_SIZE);
        }
        tsd_put64(med(page), (i % TSD_PL_ENTRIES) * 8, entry(i));
    }
    return sim_maddr(first);
}

static uint64_t client_i(unsigned int i)
{
    return client(i);
}

/* A check of the mediator's argument in F_ARG: a new check each time. */
static int check_arg(unsigned int rpc_params)
{
    sim_begin_check(&S);
    size = 0xdead;
    return tsd_check_arg(&sim_ops, &S, sim_maddr(F_ARG), dst, rpc_params, &size);
}

/* --- Reporting ------------------------------------------------------------- */

static unsigned int passed, failed;
static char failure[512];

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if ( failure[0] )
        return;                                 /* the first failure counts */
    n = snprintf(failure, sizeof(failure), "line %d: ", line);
    va_start(ap, fmt);
    vsnprintf(failure + n, sizeof(failure) - n, fmt, ap);
    va_end(ap);
}

static const char *errname(int rc)
{
    static char buf[32];

    switch ( -rc )
    {
    case 0: return "0";
    case EINVAL: return "-EINVAL";
    case EPERM: return "-EPERM";
    case E2BIG: return "-E2BIG";
    case ENOMEM: return "-ENOMEM";
    case ENOSPC: return "-ENOSPC";
    }
    snprintf(buf, sizeof(buf), "%d", rc);
    return buf;
}

#define EXPECT(c) do { if ( !(c) ) fail(__LINE__, "%s", #c); } while ( 0 )
#define EXPECT_RC(call, want) do {                                            \
        int rc_ = (call);                                                     \
        if ( rc_ != (want) )                                                  \
            fail(__LINE__, "%s = %s, want %s", #call, errname(rc_),          \
                 errname(want));                                              \
    } while ( 0 )
#define EXPECT_EQ64(a, b) do {                                                \
        unsigned long long a_ = (a), b_ = (b);                                \
        if ( a_ != b_ )                                                       \
            fail(__LINE__, "%s = %#llx, want %#llx", #a, a_, b_);             \
    } while ( 0 )
/* What OP-TEE reads of the accepted argument is only the client's. */
#define EXPECT_MODEL_ARG(rpc) do {                                            \
        const char *why_ = optee_read_arg(&S, dst, size, (rpc));              \
        if ( why_ )                                                           \
            fail(__LINE__, "%s", why_);                                       \
    } while ( 0 )

/* --- tsd_classify ---------------------------------------------------------- */

static const char *fid_name(enum tsd_fid f)
{
    static const char *const n[] = {
        "DENIED", "FAST", "CALL", "CALL_RPC", "RESUME", "VM",
    };

    return (unsigned int)f < sizeof(n) / sizeof(n[0]) ? n[f] : "?";
}

/* optee_smc.h, OP-TEE 4.10: every function ID and what Xen must make of it. */
static const struct {
    const char *name;
    uint32_t id;
    enum tsd_fid want;
} fids[] = {
    { "CALLS_COUNT", 0xbf00ff00, TSD_FID_FAST },
    { "CALLS_UID", 0xbf00ff01, TSD_FID_FAST },
    { "CALLS_REVISION", 0xbf00ff03, TSD_FID_FAST },
    { "GET_OS_UUID", 0xb2000000, TSD_FID_FAST },
    { "GET_OS_REVISION", 0xb2000001, TSD_FID_FAST },
    { "RETURN_FROM_RPC", 0x32000003, TSD_FID_RESUME },
    { "CALL_WITH_ARG", 0x32000004, TSD_FID_CALL },
    { "GET_SHM_CONFIG", 0xb2000007, TSD_FID_DENIED },
    { "L2CC_MUTEX", 0xb2000008, TSD_FID_DENIED },
    { "EXCHANGE_CAPABILITIES", 0xb2000009, TSD_FID_FAST },
    { "DISABLE_SHM_CACHE", 0xb200000a, TSD_FID_FAST },
    { "ENABLE_SHM_CACHE", 0xb200000b, TSD_FID_FAST },
    { "BOOT_SECONDARY", 0xb200000c, TSD_FID_DENIED },
    { "VM_CREATED", 0xb200000d, TSD_FID_VM },
    { "VM_DESTROYED", 0xb200000e, TSD_FID_VM },
    { "GET_THREAD_COUNT", 0xb200000f, TSD_FID_FAST },
    { "ENABLE_ASYNC_NOTIF", 0xb2000010, TSD_FID_FAST },
    { "GET_ASYNC_NOTIF_VALUE", 0xb2000011, TSD_FID_FAST },
    { "CALL_WITH_RPC_ARG", 0x32000012, TSD_FID_CALL_RPC },
    { "CALL_WITH_REGD_ARG", 0x32000013, TSD_FID_DENIED },
};
#define NFIDS (sizeof(fids) / sizeof(fids[0]))

static enum tsd_fid want_fid(uint64_t x0)
{
    unsigned int i;

    for ( i = 0; i < NFIDS; i++ )
        if ( x0 == fids[i].id )
            return fids[i].want;
    return TSD_FID_DENIED;
}

static void run_classify_one(unsigned int i)
{
    enum tsd_fid got = tsd_classify(fids[i].id);

    if ( got != fids[i].want )
        fail(__LINE__, "%s, want %s", fid_name(got), fid_name(fids[i].want));
}

/* Each ID with the SMC64 bit, the other call type, or upper bits in x0. */
static void t_classify_variants(void)
{
    unsigned int i;

    for ( i = 0; i < NFIDS; i++ )
    {
        uint64_t id = fids[i].id;
        const uint64_t variants[] = {
            id | 0x40000000,                    /* SMC64 */
            id ^ 0x80000000,                    /* fast <-> yielding */
            id | (1ULL << 32), id | (0xffffffffULL << 32), id | (1ULL << 63),
            id | 0x10000,                       /* SMCCC 1.3 SVE hint bit */
        };
        unsigned int v;

        for ( v = 0; v < sizeof(variants) / sizeof(variants[0]); v++ )
            if ( tsd_classify(variants[v]) != want_fid(variants[v]) )
                fail(__LINE__, "%#llx (from %s) is %s",
                     (unsigned long long)variants[v], fids[i].name,
                     fid_name(tsd_classify(variants[v])));
    }
}

/*
 * Owners 50 (Trusted OS) to 63 (Trusted OS end), fast and yielding, SMC32
 * and SMC64, every function number: only the table's IDs pass.
 */
static void t_classify_sweep(void)
{
    unsigned int owner, fast, smc64, fn;
    unsigned long n = 0;

    for ( owner = 50; owner <= 63; owner++ )
        for ( fast = 0; fast < 2; fast++ )
            for ( smc64 = 0; smc64 < 2; smc64++ )
                for ( fn = 0; fn < 0x10000; fn++ )
                {
                    uint64_t x0 = ((uint64_t)fast << 31) | (smc64 << 30) |
                                  (owner << 24) | fn;

                    n++;
                    if ( tsd_classify(x0) != want_fid(x0) )
                    {
                        fail(__LINE__, "%#llx is %s, want %s",
                             (unsigned long long)x0, fid_name(tsd_classify(x0)),
                             fid_name(want_fid(x0)));
                        return;
                    }
                }
    EXPECT(n == 14UL * 2 * 2 * 0x10000);
}

/* Owners 51-62 (reserved Trusted OS range) for each of OP-TEE's numbers. */
static void t_classify_owners_51_62(void)
{
    unsigned int owner, i;

    for ( owner = 51; owner <= 62; owner++ )
        for ( i = 0; i < NFIDS; i++ )
        {
            uint64_t x0 = (fids[i].id & 0x8000ffffU) | (owner << 24);

            if ( tsd_classify(x0) != TSD_FID_DENIED )
                fail(__LINE__, "%#llx (%s of owner %u) is %s",
                     (unsigned long long)x0, fids[i].name, owner,
                     fid_name(tsd_classify(x0)));
        }
}

/* --- tsd_check_arg: header ------------------------------------------------- */

static void t_arg_not_aligned(void)
{
    static const unsigned int offs[] = { 8, 32, 0x800, 0xfe0, 0xfff };
    unsigned int i;

    for ( i = 0; i < sizeof(offs) / sizeof(offs[0]); i++ )
    {
        arg_hdr(1, 0);
        EXPECT_RC(tsd_check_arg(&sim_ops, &S, sim_maddr(F_ARG) + offs[i], dst,
                                0, &size), -EINVAL);
    }
    EXPECT(S.copies == 0);
}

static void t_arg_not_mediators(void)
{
    const unsigned int frames[] = { F_CLIENT, F_XEN, F_OTHER, F_UNMAPPED, 0 };
    unsigned int i;

    for ( i = 0; i < sizeof(frames) / sizeof(frames[0]); i++ )
        EXPECT_RC(tsd_check_arg(&sim_ops, &S, sim_maddr(frames[i]), dst, 0,
                                &size), -EPERM);
    /* A page Xen lent (dst itself) is not the mediator's either. */
    EXPECT_RC(tsd_check_arg(&sim_ops, &S, dst_maddr, dst, 0, &size), -EPERM);
    EXPECT_RC(tsd_check_arg(&sim_ops, &S, 0xfffffffffffff000ULL, dst, 0, &size),
              -EPERM);
}

static void t_arg_num_params(void)
{
    static const uint32_t bad[] = {
        TSD_MAX_PARAMS + 1, 0x80, 0xff, 0x100, 0x7fffffff, 0x80000000,
        0x80000001, 0xfffffffe, 0xffffffff,
    };
    unsigned int i;

    arg_hdr(1, 0);
    EXPECT_RC(check_arg(0), 0);
    EXPECT(size == TSD_ARG_HDR);
    EXPECT_MODEL_ARG(0);

    arg_hdr(1, TSD_MAX_PARAMS);
    EXPECT_RC(check_arg(0), 0);
    EXPECT(size == TSD_PAGE_SIZE);
    EXPECT(!memcmp(dst, med(F_ARG), TSD_PAGE_SIZE));
    EXPECT_MODEL_ARG(0);

    for ( i = 0; i < sizeof(bad) / sizeof(bad[0]); i++ )
    {
        arg_hdr(1, bad[i]);
        EXPECT_RC(check_arg(0), -EINVAL);
    }
}

/* The RPC argument after the argument must fit in the page too. */
static void t_arg_rpc_room(void)
{
    unsigned int n;

    arg_hdr(1, 4);
    EXPECT_RC(check_arg(4), 0);
    EXPECT(size == TSD_ARG_SIZE(4));
    EXPECT_MODEL_ARG(4);

    /* 32 + 32 * n + 32 + 32 * 4 <= 4096: n <= 122. */
    for ( n = 120; n <= TSD_MAX_PARAMS; n++ )
    {
        arg_hdr(1, n);
        EXPECT_RC(check_arg(4), n <= 122 ? 0 : -EINVAL);
    }
    arg_hdr(1, 0);
    EXPECT_RC(check_arg(TSD_MAX_PARAMS - 1), 0);     /* 32 + 32 + 32 * 126 */
    EXPECT_RC(check_arg(TSD_MAX_PARAMS), -EINVAL);   /* 32 + 4096 */
    EXPECT_RC(check_arg(TSD_MAX_PARAMS + 1), -EINVAL);
    EXPECT_RC(check_arg(0xffffffffU), -EINVAL);
    EXPECT_RC(check_arg(0x80000000U), -EINVAL);
}

/* dst gets the argument as the mediator wrote it, and zeroes after it. */
static void t_arg_copy_and_zero(void)
{
    unsigned int i;

    arg_hdr(0x0, 3);
    param(0, MSG_ATTR_TYPE_VALUE_INPUT | MSG_ATTR_META, 1, 2, 3);
    param(1, MSG_ATTR_TYPE_VALUE_INOUT, 4, 5, 6);
    param(2, MSG_ATTR_TYPE_NONE, 7, 8, 9);
    memset(med(F_ARG) + TSD_ARG_SIZE(3), 0x77, TSD_PAGE_SIZE - TSD_ARG_SIZE(3));
    EXPECT_RC(check_arg(4), 0);
    EXPECT(size == TSD_ARG_SIZE(3));
    EXPECT(!memcmp(dst, med(F_ARG), TSD_ARG_SIZE(3)));
    for ( i = TSD_ARG_SIZE(3); i < TSD_PAGE_SIZE; i++ )
        if ( dst[i] )
        {
            fail(__LINE__, "dst[%u] = %#x after the argument", i, dst[i]);
            break;
        }
    EXPECT_MODEL_ARG(4);
}

/* Xen acts on its copy: the mediator rewriting its page after each copy. */
static void t_arg_racing_mediator(void)
{
    uint8_t want[TSD_PAGE_SIZE];

    arg_hdr(1, 2);
    param(0, ATTR_TMEM_INOUT | NONCONTIG, list(F_LIST, 600, client_i) | 0x10,
          600 * 4096 - 0x10, 0xc00c1e);
    param(1, MSG_ATTR_TYPE_VALUE_INPUT, 1, 2, 3);
    memcpy(want, med(F_ARG), TSD_ARG_SIZE(2));
    S.race_xor = 0xff;
    EXPECT_RC(check_arg(0), 0);
    EXPECT(!memcmp(dst + TSD_ARG_HDR + 32, want + TSD_ARG_HDR + 32, 32));
    EXPECT(tsd_get64(dst, TSD_ARG_HDR + 16) == 600 * 4096 - 0x10);
    EXPECT_EQ64(tsd_get64(dst, TSD_ARG_HDR + 8) & TSD_PAGE_MASK, 0x10);
    EXPECT(S.nholds == 600);
    EXPECT_MODEL_ARG(0);
}

/* The mediator's page gone between two of Xen's copies: -EPERM, no accept. */
static void t_arg_page_gone(void)
{
    unsigned int k;

    arg_hdr(1, 2);
    param(0, MSG_ATTR_TYPE_VALUE_INPUT, 1, 2, 3);
    param(1, ATTR_TMEM_IN | NONCONTIG, list(F_LIST, 1100, client_i), 1100 * 4096, 0);
    for ( k = 1; k <= 5; k++ )
    {
        S.fault_at = k;     /* header, parameters, list pages 1, 2, 3 */
        EXPECT_RC(check_arg(0), -EPERM);
    }
    S.fault_at = 6;
    EXPECT_RC(check_arg(0), 0);
    EXPECT_MODEL_ARG(0);
}

/* --- tsd_check_arg: parameters --------------------------------------------- */

static void t_param_value_rmem_none(void)
{
    static const uint64_t attrs[] = {
        MSG_ATTR_TYPE_NONE, MSG_ATTR_TYPE_VALUE_INPUT, MSG_ATTR_TYPE_VALUE_OUTPUT,
        MSG_ATTR_TYPE_VALUE_INOUT, MSG_ATTR_TYPE_RMEM_INPUT,
        MSG_ATTR_TYPE_RMEM_OUTPUT, MSG_ATTR_TYPE_RMEM_INOUT,
        MSG_ATTR_TYPE_VALUE_INPUT | MSG_ATTR_META,
        MSG_ATTR_TYPE_RMEM_INOUT | (7ULL << 16),     /* cache attribute */
    };
    unsigned int i, n = sizeof(attrs) / sizeof(attrs[0]);

    arg_hdr(1, n);
    /* Address-like values: Xen must not read them as addresses. */
    for ( i = 0; i < n; i++ )
        param(i, attrs[i], sim_maddr(F_XEN), 0xfffffffffffff000ULL, client(1));
    EXPECT_RC(check_arg(0), 0);
    EXPECT(!memcmp(dst, med(F_ARG), TSD_ARG_SIZE(n)));
    EXPECT(S.nholds == 0 && S.nlent == S.check_lent && S.total_reserved == 0);
    EXPECT_MODEL_ARG(0);
}

static void t_param_tmem_null(void)
{
    static const uint64_t attrs[] = {
        ATTR_TMEM_IN, ATTR_TMEM_OUT, ATTR_TMEM_INOUT, ATTR_TMEM_IN | NONCONTIG,
        ATTR_TMEM_OUT | NONCONTIG, ATTR_TMEM_INOUT | NONCONTIG | MSG_ATTR_META,
    };
    unsigned int i, n = sizeof(attrs) / sizeof(attrs[0]);

    arg_hdr(1, n);
    for ( i = 0; i < n; i++ )
        param(i, attrs[i], 0, 0, 0xc00c1e);
    EXPECT_RC(check_arg(0), 0);
    EXPECT(!memcmp(dst, med(F_ARG), TSD_ARG_SIZE(n)));
    EXPECT(S.nholds == 0 && S.nlent == S.check_lent);
    EXPECT_MODEL_ARG(0);
}

static void t_param_tmem_raw(void)
{
    static const uint64_t addrs[] = {
        0x1000, 0x10, 0x4000, 0xfffffffffffff000ULL, 1,
    };
    unsigned int i, t;

    for ( t = ATTR_TMEM_IN; t <= ATTR_TMEM_INOUT; t++ )
    {
        arg_hdr(1, 1);
        param(0, t, client(0), 4096, 0);
        EXPECT_RC(check_arg(0), -EINVAL);
        for ( i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++ )
        {
            param(0, t, addrs[i], 4096, 0);
            EXPECT_RC(check_arg(0), -EINVAL);
        }
    }
    EXPECT(S.nholds == 0);
}

static void t_noncontig_1_page(void)
{
    uint64_t lst = list(F_LIST, 1, client_i), buf_ptr, lent;
    const uint8_t *copy;
    unsigned int i;

    arg_hdr(1, 1);
    param(0, ATTR_TMEM_INOUT | NONCONTIG, lst | 0x123, 100, 0xc00c1e);
    EXPECT_RC(check_arg(0), 0);
    buf_ptr = tsd_get64(dst, TSD_ARG_HDR + 8);
    lent = buf_ptr & ~TSD_PAGE_MASK;
    EXPECT_EQ64(buf_ptr & TSD_PAGE_MASK, 0x123);
    EXPECT(sim_lent_by_check(&S, lent));
    EXPECT(S.nlent - S.check_lent == 1);
    EXPECT(S.nholds == 1 && S.holds[0].maddr == client(0) && S.holds[0].param == 0);
    EXPECT(S.reserved[0] == 1);
    copy = sim_page(&S, lent);
    EXPECT(copy && tsd_get64(copy, 0) == client(0));
    /* Only the entry is copied: the mediator's junk after it is not. */
    for ( i = 8; copy && i < TSD_PAGE_SIZE; i++ )
        if ( copy[i] )
        {
            fail(__LINE__, "lent list byte %u = %#x", i, copy[i]);
            break;
        }
    /* Every other field is the mediator's. */
    EXPECT(tsd_get64(dst, TSD_ARG_HDR) == (ATTR_TMEM_INOUT | NONCONTIG));
    EXPECT(tsd_get64(dst, TSD_ARG_HDR + 16) == 100);
    EXPECT(tsd_get64(dst, TSD_ARG_HDR + 24) == 0xc00c1e);
    EXPECT_MODEL_ARG(0);
}

/* How many entries an offset and size need: (offset + size - 1) / 4K + 1. */
static void t_noncontig_span(void)
{
    static const struct { uint64_t off, size; unsigned int pages; } c[] = {
        { 0, 1, 1 }, { 0, 4096, 1 }, { 0, 4097, 2 }, { 0xfff, 1, 1 },
        { 0xfff, 2, 2 }, { 5, 0, 1 }, { 0x800, 8192, 3 }, { 1, 4095, 1 },
        { 1, 4096, 2 },
    };
    unsigned int i;

    for ( i = 0; i < sizeof(c) / sizeof(c[0]); i++ )
    {
        sim_begin_check(&S);
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, list(F_LIST, 3, client_i) | c[i].off,
              c[i].size, 0);
        EXPECT_RC(check_arg(0), 0);
        if ( S.nholds != c[i].pages )
            fail(__LINE__, "offset %#llx size %#llx: %zu holds, want %u",
                 (unsigned long long)c[i].off, (unsigned long long)c[i].size,
                 S.nholds, c[i].pages);
        EXPECT_MODEL_ARG(0);
    }
    /* No page at all: offset 0, size 0. */
    arg_hdr(1, 1);
    param(0, ATTR_TMEM_IN | NONCONTIG, list(F_LIST, 3, client_i), 0, 0);
    EXPECT_RC(check_arg(0), -EINVAL);
}

/* n entries: ceil(n / 511) lent pages chained by Xen's own next pointers. */
static void noncontig_n(unsigned int n, unsigned int offset)
{
    unsigned int want_pages = (n + TSD_PL_ENTRIES - 1) / TSD_PL_ENTRIES, i;
    uint64_t lst = list(F_LIST, n, client_i), p;

    sim_begin_check(&S);
    arg_hdr(1, 1);
    param(0, ATTR_TMEM_OUT | NONCONTIG, lst | offset,
          (uint64_t)n * 4096 - offset, 0xc00c1e);
    EXPECT_RC(check_arg(0), 0);
    if ( S.nlent - S.check_lent != want_pages )
        fail(__LINE__, "%u entries: %u lent pages, want %u", n,
             S.nlent - S.check_lent, want_pages);
    if ( S.nholds != n )
        fail(__LINE__, "%u entries: %zu holds", n, S.nholds);
    p = tsd_get64(dst, TSD_ARG_HDR + 8);
    EXPECT_EQ64(p & TSD_PAGE_MASK, offset);
    p &= ~TSD_PAGE_MASK;
    for ( i = 0; i < want_pages && !failure[0]; i++ )
    {
        const uint8_t *page = sim_page(&S, p);
        uint64_t next;

        if ( !sim_lent_by_check(&S, p) || !page )
        {
            fail(__LINE__, "list page %u at %#llx not lent", i, (unsigned long long)p);
            break;
        }
        next = tsd_get64(page, TSD_PL_ENTRIES * 8);
        if ( i + 1 < want_pages )
        {
            /* Xen's pointer, not the mediator's (F_LIST + i + 1). */
            if ( next == sim_maddr(F_LIST + i + 1) || !sim_lent_by_check(&S, next) )
                fail(__LINE__, "list page %u: next %#llx", i, (unsigned long long)next);
        }
        else if ( next )
            fail(__LINE__, "last list page: next %#llx, want 0", (unsigned long long)next);
        p = next;
    }
    EXPECT_MODEL_ARG(0);
}

static void t_noncontig_511(void) { noncontig_n(511, 0); }
static void t_noncontig_512(void) { noncontig_n(512, 0x40); }
static void t_noncontig_1023(void) { noncontig_n(1023, 0xff8); }

static uint64_t client_mod(unsigned int i)
{
    return client(i % N_CLIENT);
}

static void t_noncontig_limit(void)
{
    uint64_t lst = list(F_LIST, TSD_MAX_BUF_PAGES + 1, client_mod);
    static const struct { uint64_t off, size; int rc; } c[] = {
        { 0, (uint64_t)TSD_MAX_BUF_PAGES * 4096, 0 },
        { 0xfff, (uint64_t)TSD_MAX_BUF_PAGES * 4096 - 0xfff, 0 },
        { 1, (uint64_t)TSD_MAX_BUF_PAGES * 4096, -E2BIG },
        { 0, (uint64_t)TSD_MAX_BUF_PAGES * 4096 + 1, -E2BIG },
        { 0, 0xffffffffffffffffULL, -E2BIG },
        { 0xfff, 0xfffffffffffff001ULL, -E2BIG },   /* offset + size wraps */
        { 0x800, 0xfffffffffffff800ULL, -E2BIG },   /* to 0 */
        { 0, 1ULL << 63, -E2BIG },
        { 0, 0x100000000ULL * 4096, -E2BIG },       /* 2^32 pages */
    };
    unsigned int i;

    for ( i = 0; i < sizeof(c) / sizeof(c[0]); i++ )
    {
        sim_begin_check(&S);
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, lst | c[i].off, c[i].size, 0);
        EXPECT_RC(check_arg(0), c[i].rc);
        if ( !c[i].rc )
        {
            EXPECT(S.nholds == TSD_MAX_BUF_PAGES);
            EXPECT_MODEL_ARG(0);
        }
        else
            EXPECT(S.nholds == 0 && S.total_reserved == 0);
    }
}

static void t_noncontig_misaligned_entry(void)
{
    static const uint64_t low[] = { 1, 8, 0x800, 0xfff };
    unsigned int i;

    for ( i = 0; i < sizeof(low) / sizeof(low[0]); i++ )
    {
        uint64_t lst = list(F_LIST, 600, client_i);

        /* The last entry, in the second list page. */
        tsd_put64(med(F_LIST + 1), (599 - TSD_PL_ENTRIES) * 8, client(599) | low[i]);
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, lst, 600 * 4096, 0);
        EXPECT_RC(check_arg(0), -EINVAL);
    }
}

static void t_noncontig_misaligned_next(void)
{
    static const uint64_t low[] = { 1, 8, 0x800, 0xfff };
    unsigned int i;

    for ( i = 0; i < sizeof(low) / sizeof(low[0]); i++ )
    {
        uint64_t lst = list(F_LIST, 1100, client_i);

        tsd_put64(med(F_LIST + 1), TSD_PL_ENTRIES * 8, sim_maddr(F_LIST + 2) | low[i]);
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, lst, 1100 * 4096, 0);
        EXPECT_RC(check_arg(0), -EINVAL);
    }
    /* A next pointer Xen does not need is not looked at. */
    list(F_LIST, 511, client_i);
    tsd_put64(med(F_LIST), TSD_PL_ENTRIES * 8, 0x123);
    arg_hdr(1, 1);
    param(0, ATTR_TMEM_IN | NONCONTIG, sim_maddr(F_LIST), 511 * 4096, 0);
    EXPECT_RC(check_arg(0), 0);
    EXPECT_MODEL_ARG(0);
}

static void t_noncontig_list_not_mediators(void)
{
    const uint64_t pages[] = {
        client(0), sim_maddr(F_XEN), sim_maddr(F_OTHER), sim_maddr(F_UNMAPPED),
        dst_maddr, 0x7ffffffff000ULL,
    };
    unsigned int i;

    for ( i = 0; i < sizeof(pages) / sizeof(pages[0]); i++ )
    {
        /* As the first list page. */
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, pages[i] | 0x10, 4096, 0);
        EXPECT_RC(check_arg(0), -EPERM);
        /* As a later one, through a next pointer. */
        list(F_LIST, 600, client_i);
        tsd_put64(med(F_LIST), TSD_PL_ENTRIES * 8, pages[i]);
        param(0, ATTR_TMEM_IN | NONCONTIG, sim_maddr(F_LIST), 600 * 4096, 0);
        EXPECT_RC(check_arg(0), -EPERM);
    }
}

static void t_noncontig_entry_not_clients(void)
{
    const uint64_t pages[] = {
        sim_maddr(F_XEN), sim_maddr(F_OTHER), sim_maddr(F_UNMAPPED), 0,
        sim_maddr(F_ARG), dst_maddr, 0xfffffffffffff000ULL,
    };
    unsigned int i;

    for ( i = 0; i < sizeof(pages) / sizeof(pages[0]); i++ )
    {
        uint64_t lst = list(F_LIST, 3, client_i);

        tsd_put64(med(F_LIST), 8, pages[i]);
        arg_hdr(1, 1);
        param(0, ATTR_TMEM_IN | NONCONTIG, lst, 3 * 4096, 0);
        EXPECT_RC(check_arg(0), -EPERM);
    }
}

static void t_attr_unknown_bits(void)
{
    static const uint64_t types[] = {
        MSG_ATTR_TYPE_NONE, MSG_ATTR_TYPE_VALUE_INPUT, MSG_ATTR_TYPE_RMEM_INPUT,
        ATTR_TMEM_IN,
    };
    unsigned int b, t;

    for ( t = 0; t < sizeof(types) / sizeof(types[0]); t++ )
        for ( b = 8; b < 64; b++ )
        {
            int known = b == 8 || b == 9 || (b >= 16 && b <= 18);

            if ( known )
                continue;
            arg_hdr(1, 1);
            param(0, types[t] | (1ULL << b), 0, 0, 0);
            if ( check_arg(0) != -EINVAL )
                fail(__LINE__, "attr %#llx accepted",
                     (unsigned long long)(types[t] | (1ULL << b)));
        }
    /* The unknown types. */
    for ( t = 0; t < 0x100; t++ )
    {
        int known = t <= 3 || (t >= 5 && t <= 7) || (t >= 9 && t <= 0xb);

        arg_hdr(1, 1);
        param(0, t, 0, 0, 0);
        if ( (check_arg(0) == 0) != known )
            fail(__LINE__, "type %#x %s", t, known ? "refused" : "accepted");
    }
}

static void t_attr_noncontig_not_tmem(void)
{
    static const uint64_t types[] = {
        MSG_ATTR_TYPE_NONE, MSG_ATTR_TYPE_VALUE_INPUT, MSG_ATTR_TYPE_VALUE_OUTPUT,
        MSG_ATTR_TYPE_VALUE_INOUT, MSG_ATTR_TYPE_RMEM_INPUT,
        MSG_ATTR_TYPE_RMEM_OUTPUT, MSG_ATTR_TYPE_RMEM_INOUT,
    };
    unsigned int t;

    for ( t = 0; t < sizeof(types) / sizeof(types[0]); t++ )
    {
        arg_hdr(1, 1);
        param(0, types[t] | NONCONTIG, list(F_LIST, 1, client_i), 4096, 0);
        EXPECT_RC(check_arg(0), -EINVAL);
    }
}

/* A refused parameter after an accepted one: the whole argument fails. */
static void t_params_later_refused(void)
{
    arg_hdr(1, 3);
    param(0, ATTR_TMEM_IN | NONCONTIG, list(F_LIST, 2, client_i), 8192, 0);
    param(1, MSG_ATTR_TYPE_VALUE_INPUT, 0, 0, 0);
    param(2, ATTR_TMEM_IN, client(5), 4096, 0);
    EXPECT_RC(check_arg(0), -EINVAL);
}

static void t_reserve_and_lend_fail(void)
{
    uint64_t lst = list(F_LIST, 600, client_i);

    arg_hdr(1, 2);
    param(0, ATTR_TMEM_IN | NONCONTIG, lst, 300 * 4096, 0);
    param(1, ATTR_TMEM_IN | NONCONTIG, lst, 300 * 4096, 0);
    S.cap = 600;
    EXPECT_RC(check_arg(0), 0);
    param(1, ATTR_TMEM_IN | NONCONTIG, lst, 300 * 4096 + 1, 0);
    EXPECT_RC(check_arg(0), -ENOSPC);
    S.cap = TSD_MAX_BUF_PAGES;

    arg_hdr(1, 1);
    param(0, ATTR_TMEM_IN | NONCONTIG, lst, 600 * 4096, 0);
    S.lend_budget = 1;
    EXPECT_RC(check_arg(0), -ENOMEM);
    S.lend_budget = 0;
    EXPECT_RC(check_arg(0), -ENOMEM);
    S.lend_budget = 2;
    EXPECT_RC(check_arg(0), 0);
    S.lend_budget = SIM_UNLIMITED;
}

/* --- Finding F1: a null TMEM where OP-TEE has no null case ---------------- */

/*
 * OP-TEE's register_shm() (entry_std.c) passes buf_ptr to
 * msg_param_mobj_from_noncontig() without a null case: a TMEM_OUTPUT |
 * NONCONTIG with buf_ptr 0 makes OP-TEE read a page list at physical
 * address 0. Where RAM starts at 0 that page is Xen's or any domain's.
 */
static void t_f1_register_shm_null(void)
{
    sim_set(&S, 0, SIM_XEN, 0);
    arg_hdr(MSG_CMD_REGISTER_SHM, 1);
    param(0, ATTR_TMEM_OUT | NONCONTIG, 0, 8 * 4096, 0xc00c1e);
    if ( check_arg(0) == 0 )
        EXPECT_MODEL_ARG(0);
}

/* lend_protmem() (CFG_CORE_DYN_PROTMEM) takes a TMEM_INPUT's buf_ptr 0 as an address. */
static void t_f1_lend_protmem_null(void)
{
    sim_set(&S, 0, SIM_OTHER, 0);
    arg_hdr(MSG_CMD_LEND_PROTMEM, 2);
    param(0, MSG_ATTR_TYPE_VALUE_INPUT, 1, 0, 0);
    param(1, ATTR_TMEM_IN, 0, 16 * 4096, 0xc00c1e);
    if ( check_arg(0) == 0 )
        EXPECT_MODEL_ARG(0);
}

/* --- tsd_check_rpc_answer -------------------------------------------------- */

#define RPC_OFF     TSD_ARG_SIZE(4)     /* after a 4-parameter argument */
#define MOFF        0x200               /* the mediator's answer in F_ARG */

/* OP-TEE's RPC request of n parameters in dst at off, the rest 0x5a. */
static uint8_t snap[TSD_PAGE_SIZE];

static void rpc_request(unsigned int off, uint32_t cmd, uint32_t n)
{
    uint8_t *m = dst + off;
    unsigned int i;

    memset(dst, 0x5a, TSD_PAGE_SIZE);
    sim_begin_check(&S);
    memset(m, 0, TSD_ARG_SIZE(n <= TSD_MAX_PARAMS ? n : 0));
    put32(m, 0, cmd);
    put32(m, 4, 0x0f0f0f0f);
    put32(m, 8, 0x1e1e1e1e);
    put32(m, 12, 0x2d2d2d2d);
    put32(m, 16, 0x3c3c3c3c);
    put32(m, TSD_ARG_RET, TEE_ERROR_GENERIC);
    put32(m, TSD_ARG_NUM_PARAMS, n);
    for ( i = 0; i < n && i < TSD_MAX_PARAMS; i++ )
        param_at(m, i, MSG_ATTR_TYPE_VALUE_INOUT, 0x1000 + i, 0x2000 + i, 0x3000 + i);
    memcpy(snap, dst, TSD_PAGE_SIZE);
}

/* The mediator's answer: its own cmd and num_params, which Xen ignores. */
static uint8_t *rpc_answer(uint32_t ret, uint32_t origin)
{
    uint8_t *m = med(F_ARG) + MOFF;

    memset(med(F_ARG), 0x99, TSD_PAGE_SIZE);
    memset(m, 0, TSD_ARG_HDR);
    put32(m, 0, 0x77777777);
    put32(m, TSD_ARG_RET, ret);
    put32(m, TSD_ARG_RET_ORIGIN, origin);
    put32(m, TSD_ARG_NUM_PARAMS, 0x66666666);
    return m;
}

static int check_answer(unsigned int n)
{
    sim_begin_check(&S);
    return tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG), MOFF, dst,
                                RPC_OFF, n);
}

/* Bytes of dst other than ret, ret_origin and the n parameters at off. */
static void expect_kept(int line, unsigned int off, unsigned int n)
{
    unsigned int i;

    for ( i = 0; i < TSD_PAGE_SIZE; i++ )
    {
        int answer = (i >= off + TSD_ARG_RET && i < off + TSD_ARG_NUM_PARAMS) ||
                     (i >= off + TSD_ARG_HDR && i < off + TSD_ARG_SIZE(n));

        if ( !answer && dst[i] != snap[i] )
        {
            fail(line, "dst byte %u (message +%d) changed: %#x, was %#x", i,
                 (int)i - (int)off, dst[i], snap[i]);
            return;
        }
    }
}

static void expect_failed_answer(int line, unsigned int off, unsigned int n)
{
    unsigned int i;

    expect_kept(line, off, n);
    if ( tsd_get32(dst + off, TSD_ARG_RET) != TEE_ERROR_GENERIC ||
         tsd_get32(dst + off, TSD_ARG_RET_ORIGIN) != TEEC_ORIGIN_COMMS )
        fail(line, "ret %#x ret_origin %#x, want TSD_ANSWER_FAILED",
             tsd_get32(dst + off, TSD_ARG_RET), tsd_get32(dst + off, TSD_ARG_RET_ORIGIN));
    for ( i = 0; i < TSD_PARAM_SIZE * n; i++ )
        if ( dst[off + TSD_ARG_HDR + i] )
        {
            fail(line, "parameter byte %u not cleared", i);
            return;
        }
}

static void t_rpc_copies(void)
{
    uint8_t *m;

    rpc_request(RPC_OFF, 3 /* GET_TIME */, 2);
    m = rpc_answer(0, 0x12345678);
    param_at(m, 0, MSG_ATTR_TYPE_VALUE_OUTPUT, 11, 22, 33);
    param_at(m, 1, MSG_ATTR_TYPE_RMEM_INOUT, 0x10, 0x20, 0xc00c1e);
    EXPECT_RC(check_answer(2), 0);
    expect_kept(__LINE__, RPC_OFF, 2);
    EXPECT(tsd_get32(dst + RPC_OFF, 0) == 3);
    EXPECT(tsd_get32(dst + RPC_OFF, TSD_ARG_NUM_PARAMS) == 2);
    EXPECT(tsd_get32(dst + RPC_OFF, TSD_ARG_RET) == 0);
    EXPECT(tsd_get32(dst + RPC_OFF, TSD_ARG_RET_ORIGIN) == 0x12345678);
    EXPECT(!memcmp(dst + RPC_OFF + TSD_ARG_HDR, m + TSD_ARG_HDR, 2 * TSD_PARAM_SIZE));
    EXPECT(!optee_read_rpc_answer(&S, dst + RPC_OFF));

    /* No parameters: only ret and ret_origin. */
    rpc_request(RPC_OFF, 3, 0);
    m = rpc_answer(0xffff000c, 3);
    EXPECT_RC(check_answer(0), 0);
    expect_kept(__LINE__, RPC_OFF, 0);
    EXPECT(tsd_get32(dst + RPC_OFF, TSD_ARG_RET) == 0xffff000c);

    /* At the very end of the page, and from the very end of the mediator's. */
    rpc_request(TSD_PAGE_SIZE - TSD_ARG_SIZE(1), 3, 1);
    m = rpc_answer(0, 0);
    memset(med(F_ARG) + TSD_PAGE_SIZE - TSD_ARG_SIZE(1), 0, TSD_ARG_SIZE(1));
    param_at(med(F_ARG) + TSD_PAGE_SIZE - TSD_ARG_SIZE(1), 0,
             MSG_ATTR_TYPE_VALUE_INPUT, 1, 2, 3);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG),
                                   TSD_PAGE_SIZE - TSD_ARG_SIZE(1), dst,
                                   TSD_PAGE_SIZE - TSD_ARG_SIZE(1), 1), 0);
    expect_kept(__LINE__, TSD_PAGE_SIZE - TSD_ARG_SIZE(1), 1);
    (void)m;
}

static void t_rpc_shm_alloc_noncontig(void)
{
    uint8_t *m;
    uint64_t p;

    rpc_request(RPC_OFF, RPC_CMD_SHM_ALLOC, 1);
    m = rpc_answer(0, 0);
    param_at(m, 0, ATTR_TMEM_OUT | NONCONTIG, list(F_LIST, 513, client_i) | 0x8,
             513 * 4096 - 8, 0xc00c1e);
    EXPECT_RC(check_answer(1), 0);
    expect_kept(__LINE__, RPC_OFF, 1);
    p = tsd_get64(dst + RPC_OFF, TSD_ARG_HDR + 8);
    EXPECT(sim_lent_by_check(&S, p & ~TSD_PAGE_MASK));
    EXPECT_EQ64(p & TSD_PAGE_MASK, 8);
    EXPECT(S.nholds == 513);
    EXPECT(!optee_read_rpc_answer(&S, dst + RPC_OFF));
}

/* Every way an answer fails leaves a failed answer without references. */
static void t_rpc_failures(void)
{
    unsigned int k;

    for ( k = 0; k < 11; k++ )
    {
        uint8_t *m;
        int want = -EINVAL;

        machine();
        S.fault_at = 0;
        rpc_request(RPC_OFF, RPC_CMD_SHM_ALLOC, 3);
        m = rpc_answer(0, 0);
        param_at(m, 0, MSG_ATTR_TYPE_VALUE_INPUT, 1, 2, 3);
        param_at(m, 1, ATTR_TMEM_OUT | NONCONTIG, list(F_LIST, 4, client_i), 4 * 4096, 7);
        param_at(m, 2, MSG_ATTR_TYPE_NONE, 0, 0, 0);
        switch ( k )
        {
        case 0: param_at(m, 2, ATTR_TMEM_OUT, client(0), 4096, 0); break;
        case 1: param_at(m, 2, MSG_ATTR_TYPE_VALUE_INPUT | (1ULL << 20), 0, 0, 0); break;
        case 2: param_at(m, 2, MSG_ATTR_TYPE_RMEM_INPUT | NONCONTIG, 0, 0, 0); break;
        case 3: tsd_put64(med(F_LIST), 16, sim_maddr(F_XEN)); want = -EPERM; break;
        case 4: tsd_put64(med(F_LIST), 16, client(2) | 4); break;
        case 5: param_at(m, 2, 0x4, 0, 0, 0); break;
        case 6: S.lend_budget = 0; want = -ENOMEM; break;
        case 7: S.cap = 3; want = -ENOSPC; break;
        case 8: sim_set(&S, F_ARG, SIM_OTHER, 0); want = -EPERM; break;
        case 9: S.fault_at = 2; want = -EPERM; break;   /* parameters' copy */
        case 10: S.fault_at = 3; want = -EPERM; break;  /* the page list */
        }
        EXPECT_RC(check_answer(3), want);
        expect_failed_answer(__LINE__, RPC_OFF, 3);
        if ( failure[0] )
        {
            char c[16];

            snprintf(c, sizeof(c), " (case %u)", k);
            strncat(failure, c, sizeof(failure) - strlen(failure) - 1);
            return;
        }
    }
}

/* Bounds of the request Xen itself cannot honour: dst stays as it was. */
static void t_rpc_bounds(void)
{
    rpc_request(RPC_OFF, 3, 1);
    rpc_answer(0, 0);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG), MOFF, dst,
                                   RPC_OFF, TSD_MAX_PARAMS + 1), -EINVAL);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG), MOFF, dst,
                                   RPC_OFF, 0xffffffffU), -EINVAL);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG), MOFF, dst,
                                   TSD_PAGE_SIZE - TSD_ARG_SIZE(1) + 1, 1), -EINVAL);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG), MOFF, dst,
                                   0xffffffffU, 1), -EINVAL);
    EXPECT(!memcmp(dst, snap, TSD_PAGE_SIZE));
    EXPECT(S.copies == 0);
}

/*
 * Finding F2: stubdom_check.h says of tsd_check_rpc_answer() "On failure
 * the parameters at dst are cleared and ret says TSD_ANSWER_FAILED". A
 * misaligned med or an moff past the mediator's page returns -EINVAL with
 * OP-TEE's request left as it was, though off and n are valid.
 */
static void t_f2_rpc_bad_med_clears(void)
{
    rpc_request(RPC_OFF, 3, 2);
    rpc_answer(0, 0);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG) + 0x40, MOFF,
                                   dst, RPC_OFF, 2), -EINVAL);
    expect_failed_answer(__LINE__, RPC_OFF, 2);
}

static void t_f2_rpc_bad_moff_clears(void)
{
    rpc_request(RPC_OFF, 3, 2);
    rpc_answer(0, 0);
    EXPECT_RC(tsd_check_rpc_answer(&sim_ops, &S, sim_maddr(F_ARG),
                                   TSD_PAGE_SIZE - TSD_ARG_SIZE(2) + 8, dst,
                                   RPC_OFF, 2), -EINVAL);
    expect_failed_answer(__LINE__, RPC_OFF, 2);
}

/*
 * Finding F1 in RPC answers: get_rpc_alloc_res() has no null case. A
 * TMEM_OUTPUT at 0 of at most 4 KiB is mapped as a page of dynamic SHM
 * (rpc_shm_mobj_alloc()); a TMEM_OUTPUT | NONCONTIG at 0 is a page list at 0.
 */
static void t_f1_shm_alloc_null(void)
{
    uint8_t *m;

    sim_set(&S, 0, SIM_XEN, 0);
    rpc_request(RPC_OFF, RPC_CMD_SHM_ALLOC, 1);
    m = rpc_answer(0, 0);
    param_at(m, 0, ATTR_TMEM_OUT, 0, 4096, 0xc00c1e);
    if ( check_answer(1) == 0 )
    {
        const char *why = optee_read_rpc_answer(&S, dst + RPC_OFF);

        if ( why )
            fail(__LINE__, "%s", why);
    }
}

static void t_f1_shm_alloc_null_noncontig(void)
{
    uint8_t *m;

    sim_set(&S, 0, SIM_OTHER, 0);
    rpc_request(RPC_OFF, RPC_CMD_SHM_ALLOC, 1);
    m = rpc_answer(0, 0);
    param_at(m, 0, ATTR_TMEM_OUT | NONCONTIG, 0, 4096, 0xc00c1e);
    if ( check_answer(1) == 0 )
    {
        const char *why = optee_read_rpc_answer(&S, dst + RPC_OFF);

        if ( why )
            fail(__LINE__, "%s", why);
    }
}

/*
 * The same messages on QEMU virt (no RAM at 0), where OP-TEE would refuse
 * them itself: since the fix Xen refuses them whatever the layout (a list at
 * 0 is no page of the mediator; a contiguous TMEM at 0 is a raw address).
 */
static void t_f1_qemu_virt_layout(void)
{
    uint8_t *m;

    arg_hdr(MSG_CMD_REGISTER_SHM, 1);
    param(0, ATTR_TMEM_OUT | NONCONTIG, 0, 8 * 4096, 0xc00c1e);
    EXPECT_RC(check_arg(0), -EPERM);
    rpc_request(RPC_OFF, RPC_CMD_SHM_ALLOC, 1);
    m = rpc_answer(0, 0);
    param_at(m, 0, ATTR_TMEM_OUT, 0, 4096, 0xc00c1e);
    EXPECT_RC(check_answer(1), -EINVAL);
    EXPECT(!optee_read_rpc_answer(&S, dst + RPC_OFF));
}

/* --- The model itself catches what it must ---------------------------------- */

/* A harness that cannot fail proves nothing: forged results are caught. */
static void t_model_catches(void)
{
    uint8_t *lp;

    arg_hdr(1, 1);
    param(0, ATTR_TMEM_IN | NONCONTIG, list(F_LIST, 2, client_i), 8192, 0);
    EXPECT_RC(check_arg(0), 0);
    EXPECT_MODEL_ARG(0);
    /* The mediator's list instead of Xen's copy. */
    tsd_put64(dst, TSD_ARG_HDR + 8, sim_maddr(F_LIST));
    EXPECT(optee_read_arg(&S, dst, size, 0) != NULL);
    /* An entry of Xen's copy changed to a page not held. */
    EXPECT_RC(check_arg(0), 0);
    lp = sim_page(&S, tsd_get64(dst, TSD_ARG_HDR + 8) & ~TSD_PAGE_MASK);
    tsd_put64(lp, 8, client(7));
    EXPECT(optee_read_arg(&S, dst, size, 0) != NULL);
    tsd_put64(lp, 8, sim_maddr(F_XEN));
    EXPECT(optee_read_arg(&S, dst, size, 0) != NULL);
    /* A raw address. */
    EXPECT_RC(check_arg(0), 0);
    tsd_put64(dst, TSD_ARG_HDR, ATTR_TMEM_IN);
    tsd_put64(dst, TSD_ARG_HDR + 8, client(0));
    EXPECT(optee_read_arg(&S, dst, size, 0) != NULL);
}

/* --- Main ------------------------------------------------------------------- */

static const struct test {
    const char *name;
    void (*fn)(void);
} tests[] = {
    { "classify: variants (SMC64, call type, x0 upper bits, SVE hint) denied", t_classify_variants },
    { "classify: owners 50-63 x fast/yielding x SMC32/64 x 2^16 functions", t_classify_sweep },
    { "classify: owners 51-62 denied", t_classify_owners_51_62 },
    { "arg: argument page not page aligned refused", t_arg_not_aligned },
    { "arg: argument page not the mediator's refused (client, Xen, other, unmapped, lent)", t_arg_not_mediators },
    { "arg: num_params 0 and 127 pass, 128 and larger refused", t_arg_num_params },
    { "arg: room for the RPC argument (rpc_params)", t_arg_rpc_room },
    { "arg: copied as written, zeroes after it", t_arg_copy_and_zero },
    { "arg: mediator rewriting its pages during the check", t_arg_racing_mediator },
    { "arg: mediator's pages gone between two copies refused", t_arg_page_gone },
    { "param: NONE, VALUE, RMEM pass unchanged", t_param_value_rmem_none },
    { "param: TMEM null passes", t_param_tmem_null },
    { "param: TMEM raw address refused", t_param_tmem_raw },
    { "noncontig: 1 page, offset preserved, only the entry copied", t_noncontig_1_page },
    { "noncontig: entries needed by offset and size", t_noncontig_span },
    { "noncontig: 511 entries, one lent page", t_noncontig_511 },
    { "noncontig: 512 entries, two lent pages chained by Xen", t_noncontig_512 },
    { "noncontig: 1023 entries, three lent pages chained by Xen", t_noncontig_1023 },
    { "noncontig: 16384-page limit and size overflow (-E2BIG)", t_noncontig_limit },
    { "noncontig: misaligned entry refused", t_noncontig_misaligned_entry },
    { "noncontig: misaligned next pointer refused", t_noncontig_misaligned_next },
    { "noncontig: list page not the mediator's refused", t_noncontig_list_not_mediators },
    { "noncontig: entry not the client's refused (Xen, other, unmapped, mediator, lent)", t_noncontig_entry_not_clients },
    { "attr: unknown bits and types refused", t_attr_unknown_bits },
    { "attr: NONCONTIG on NONE, VALUE, RMEM refused", t_attr_noncontig_not_tmem },
    { "params: a refused parameter after an accepted one", t_params_later_refused },
    { "ops: reserve refusal and lend failure propagate", t_reserve_and_lend_fail },
    { "rpc: cmd, num_params kept; ret, ret_origin, params copied", t_rpc_copies },
    { "rpc: SHM_ALLOC page list copied to lent pages", t_rpc_shm_alloc_noncontig },
    { "rpc: every failure clears the parameters, ret TSD_ANSWER_FAILED", t_rpc_failures },
    { "rpc: off and n out of bounds refused, dst untouched", t_rpc_bounds },
    { "rpc: F2 misaligned med clears the parameters, ret TSD_ANSWER_FAILED", t_f2_rpc_bad_med_clears },
    { "rpc: F2 moff past the page clears the parameters, ret TSD_ANSWER_FAILED", t_f2_rpc_bad_moff_clears },
    { "F1 REGISTER_SHM null page list, RAM at PA 0: OP-TEE reads only lent and client pages", t_f1_register_shm_null },
    { "F1 LEND_PROTMEM null TMEM, RAM at PA 0: OP-TEE reads only client pages", t_f1_lend_protmem_null },
    { "F1 SHM_ALLOC answer null TMEM_OUTPUT, RAM at PA 0: OP-TEE maps only client pages", t_f1_shm_alloc_null },
    { "F1 SHM_ALLOC answer null TMEM_OUTPUT|NONCONTIG, RAM at PA 0: only lent and client pages", t_f1_shm_alloc_null_noncontig },
    { "F1 the same on QEMU virt (no RAM at PA 0): Xen refuses them too", t_f1_qemu_virt_layout },
    { "model: forged results are caught", t_model_catches },
};

/* A broken callback contract (sim.c) fails the test it happens in. */
static jmp_buf test_env;

static void __attribute__((noreturn)) contract_broken(const char *msg)
{
    fail(0, "callback contract broken: %s", msg);
    longjmp(test_env, 1);
}

static void run_test(void (*fn)(void))
{
    machine();
    sim_fatal_hook = contract_broken;
    if ( !setjmp(test_env) )
        fn();
    sim_fatal_hook = NULL;
    S.race_xor = 0;
    S.fault_at = 0;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    unsigned int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for ( i = 0; i < NFIDS; i++ )
    {
        char name[96];

        snprintf(name, sizeof(name), "classify: %s %#x is %s", fids[i].name,
                 fids[i].id, fid_name(fids[i].want));
        if ( only && !strstr(name, only) )
            continue;
        failure[0] = 0;
        run_classify_one(i);
        printf("%s %s%s%s\n", failure[0] ? "FAIL" : "PASS", name,
               failure[0] ? ": " : "", failure);
        failure[0] ? failed++ : passed++;
    }
    for ( i = 0; i < sizeof(tests) / sizeof(tests[0]); i++ )
    {
        if ( only && !strstr(tests[i].name, only) )
            continue;
        failure[0] = 0;
        run_test(tests[i].fn);
        printf("%s %s%s%s\n", failure[0] ? "FAIL" : "PASS", tests[i].name,
               failure[0] ? ": " : "", failure);
        failure[0] ? failed++ : passed++;
    }
    sim_free(&S);
    printf("el2-check: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
