/*
 * tsdtee: a dom0 test tool for the mediator-restart and hostile-mediator scenarios
 * (tests/initramfs/scripts).
 *
 *   tsdtee pins            Xen's forwarder state of this domain: TEE_STUBDOM_OP_query with
 *                          DOMID_SELF (public/tee_stubdom.h, hv-patches 0005) through privcmd's
 *                          IOCTL_PRIVCMD_HYPERCALL. Prints "mediator=N pinned=N flags=0xN".
 *   tsdtee call            open a session to the os_test TA (TA loading: RPCs to tee-supplicant)
 *                          and close it.
 *   tsdtee load SECONDS    open one such session, then invoke it with a command the TA does not
 *                          have (a standard call without RPC; the TA's "bad parameters" answer
 *                          counts as served) until an invocation fails in the transport
 *                          (origin COMMS) or SECONDS pass.
 *   tsdtee canary DOMID FILE SECONDS
 *                          dom0's canary for hostile-mediator: allocate a page, fill it with the
 *                          hostile-mediator pattern (tests/hostile-mediator/src/lib.rs
 *                          canary_byte) and grant it read-only to DOMID (/dev/xen/gntalloc), so
 *                          that the mediator learns its machine address from the grant map.
 *                          Prints "canary granted gref=N" and then looks at the page every 0.2 s
 *                          until FILE exists or SECONDS pass; prints "canary=unchanged|changed
 *                          first_change=OFFSET:BYTE|none gref=N done=1|0". Exit status 0 if the
 *                          page never changed and FILE appeared, 1 otherwise, 2 on a system error.
 *
 * "call" and "load" print one line: result=ok|error n=<calls that succeeded> ret=0x<TEEC result
 * of the last call> origin=<its origin> start=<uptime at its start> end=<uptime at its end>
 * ms=<its duration> (seconds on the /proc/uptime clock, CLOCK_BOOTTIME). Exit status: 0 when the
 * last call succeeded, 1 when it failed, 2 on a usage or system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/tee.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Linux's include/uapi/xen/privcmd.h (its installed copy needs kernel-internal headers). */
struct privcmd_hypercall {
    uint64_t op;
    uint64_t arg[5];
};
#define IOCTL_PRIVCMD_HYPERCALL \
    _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))

#define HYPERVISOR_tee_stubdom_op 49    /* __HYPERVISOR_arch_1 (public/arch-arm.h) */
#define TEE_STUBDOM_OP_query 7
#define DOMID_SELF 0x7ff0U

struct tee_stubdom_query {
    uint16_t domid;
    uint16_t pad;
    uint32_t flags;
    uint32_t nr_pinned;
    uint32_t mediator;
};

/* Linux's include/uapi/xen/gntalloc.h, for one page. */
struct gntalloc_alloc_gref {
    uint16_t domid;
    uint16_t flags;             /* 0: read-only for domid */
    uint32_t count;
    uint64_t index;             /* OUT: mmap offset */
    uint32_t gref_ids[1];       /* OUT */
};
#define IOCTL_GNTALLOC_ALLOC_GREF \
    _IOC(_IOC_NONE, 'G', 5, sizeof(struct gntalloc_alloc_gref))

/* xtest's os_test TA (optee_test: ta/os_test/include/ta_os_test.h). */
static const uint8_t os_test_uuid[16] = {
    0x5b, 0x9e, 0x0e, 0x40, 0x26, 0x36, 0x11, 0xe1,
    0xad, 0x9e, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b,
};

static double uptime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pins(void)
{
    static struct tee_stubdom_query q __attribute__((aligned(4096)));
    struct privcmd_hypercall h = {
        .op = HYPERVISOR_tee_stubdom_op,
        .arg = { TEE_STUBDOM_OP_query, (uintptr_t)&q },
    };
    int fd, rc;

    fd = open("/dev/xen/privcmd", O_RDWR);
    if (fd < 0)
        fd = open("/proc/xen/privcmd", O_RDWR);
    if (fd < 0) {
        perror("tsdtee: privcmd");
        return 2;
    }
    memset(&q, 0, sizeof(q));
    q.domid = DOMID_SELF;
    mlock(&q, sizeof(q));   /* Xen reads and writes it through our page tables. */
    rc = ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &h);
    close(fd);
    if (rc < 0) {
        printf("tsdtee: query failed: %s\n", strerror(errno));
        return 2;
    }
    printf("mediator=%u pinned=%u flags=%#x\n", q.mediator, q.nr_pinned, q.flags);
    return 0;
}

#define TEEC_ORIGIN_COMMS 2
#define NO_SUCH_COMMAND 0x7fffffffU

/* Open a session to os_test; fills *ret / *origin. 0: ok, *session set. */
static int open_session(int fd, uint32_t *session, uint32_t *ret, uint32_t *origin)
{
    union {
        struct tee_ioctl_open_session_arg arg;
        uint8_t b[sizeof(struct tee_ioctl_open_session_arg)];
    } u;
    struct tee_ioctl_buf_data data = { .buf_ptr = (uintptr_t)&u, .buf_len = sizeof(u) };

    memset(&u, 0, sizeof(u));
    memcpy(u.arg.uuid, os_test_uuid, sizeof(os_test_uuid));
    u.arg.clnt_login = TEE_IOCTL_LOGIN_PUBLIC;
    if (ioctl(fd, TEE_IOC_OPEN_SESSION, &data) < 0) {
        *ret = 0xffff000eU;     /* TEEC_ERROR_COMMUNICATION */
        *origin = 0;
        return -1;
    }
    *ret = u.arg.ret;
    *origin = u.arg.ret_origin;
    if (u.arg.ret)
        return -1;
    *session = u.arg.session;
    return 0;
}

static void close_session(int fd, uint32_t session)
{
    struct tee_ioctl_close_session_arg c = { .session = session };

    ioctl(fd, TEE_IOC_CLOSE_SESSION, &c);
}

/* One invocation the TA refuses; 0: served (any answer from the TA), -1: transport failure. */
static int invoke(int fd, uint32_t session, uint32_t *ret, uint32_t *origin)
{
    union {
        struct tee_ioctl_invoke_arg arg;
        uint8_t b[sizeof(struct tee_ioctl_invoke_arg)];
    } u;
    struct tee_ioctl_buf_data data = { .buf_ptr = (uintptr_t)&u, .buf_len = sizeof(u) };

    memset(&u, 0, sizeof(u));
    u.arg.func = NO_SUCH_COMMAND;
    u.arg.session = session;
    if (ioctl(fd, TEE_IOC_INVOKE, &data) < 0) {
        *ret = 0xffff000eU;
        *origin = 0;
        return -1;
    }
    *ret = u.arg.ret;
    *origin = u.arg.ret_origin;
    return u.arg.ret_origin == TEEC_ORIGIN_COMMS ? -1 : 0;
}

static int calls(double seconds)
{
    double t_end = uptime() + seconds, start, end;
    uint32_t ret = 0, origin = 0, session = 0;
    unsigned long n = 0;
    int fd, rc, opened;

    fd = open("/dev/tee0", O_RDWR);
    if (fd < 0) {
        perror("tsdtee: /dev/tee0");
        return 2;
    }
    start = uptime();
    rc = open_session(fd, &session, &ret, &origin);
    end = uptime();
    opened = !rc;
    while (!rc && end < t_end) {
        n++;
        start = uptime();
        rc = invoke(fd, session, &ret, &origin);
        end = uptime();
    }
    if (opened)
        close_session(fd, session);
    close(fd);
    printf("result=%s n=%lu ret=%#x origin=%u start=%.3f end=%.3f ms=%.1f\n",
           rc ? "error" : "ok", n, ret, origin, start, end, (end - start) * 1000);
    return rc ? 1 : 0;
}

/* tests/hostile-mediator/src/lib.rs canary_byte(). */
static uint8_t canary_byte(unsigned int i)
{
    return (uint8_t)((i * 31) ^ (i >> 8)) ^ 0xa5;
}

/* The first byte of page that differs from the pattern, or -1. */
static int first_change(const volatile uint8_t *page)
{
    unsigned int i;

    for (i = 0; i < 4096; i++)
        if (page[i] != canary_byte(i))
            return (int)i;
    return -1;
}

static int canary(unsigned int domid, const char *file, double seconds)
{
    struct gntalloc_alloc_gref a = { .domid = domid, .flags = 0, .count = 1 };
    double t_end = uptime() + seconds;
    volatile uint8_t *page;
    int fd, off = -1, byte = 0, done = 0;
    unsigned int i;

    fd = open("/dev/xen/gntalloc", O_RDWR);
    if (fd < 0) {
        perror("tsdtee: /dev/xen/gntalloc");
        return 2;
    }
    if (ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, &a) < 0) {
        perror("tsdtee: IOCTL_GNTALLOC_ALLOC_GREF");
        return 2;
    }
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a.index);
    if (page == MAP_FAILED) {
        perror("tsdtee: mmap of the granted page");
        return 2;
    }
    for (i = 0; i < 4096; i++)
        page[i] = canary_byte(i);
    printf("canary granted gref=%u to dom%u\n", a.gref_ids[0], domid);
    while (uptime() < t_end) {
        if (off < 0 && (off = first_change(page)) >= 0)
            byte = page[off];
        if (!access(file, F_OK)) {
            done = 1;
            break;
        }
        usleep(200000);
    }
    if (off < 0 && (off = first_change(page)) >= 0)
        byte = page[off];
    if (off < 0)
        printf("canary=unchanged first_change=none gref=%u done=%d\n", a.gref_ids[0], done);
    else
        printf("canary=changed first_change=%d:%#x gref=%u done=%d\n", off, byte,
               a.gref_ids[0], done);
    /* The grant goes with the file descriptor, at exit. */
    return off < 0 && done ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "pins"))
        return pins();
    if (argc == 2 && !strcmp(argv[1], "call"))
        return calls(0);
    if (argc == 3 && !strcmp(argv[1], "load"))
        return calls(atof(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "canary"))
        return canary(atoi(argv[2]), argv[3], atof(argv[4]));
    fprintf(stderr, "usage: tsdtee pins | call | load SECONDS | canary DOMID FILE SECONDS\n");
    return 2;
}
