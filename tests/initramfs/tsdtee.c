/*
 * tsdtee: a dom0 test tool for the mediator-restart scenario (tests/initramfs/scripts).
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

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "pins"))
        return pins();
    if (argc == 2 && !strcmp(argv[1], "call"))
        return calls(0);
    if (argc == 3 && !strcmp(argv[1], "load"))
        return calls(atof(argv[2]));
    fprintf(stderr, "usage: tsdtee pins | call | load SECONDS\n");
    return 2;
}
