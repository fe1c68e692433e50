#!/bin/sh
# Runs in a TEE guest that dom0's lifecycle.sh destroys in the middle of a long OP-TEE call.
# dom0 appends this file to the guest's initramfs (the guest's /init runs it for
# tsd.script=guest-longcall); it prints on the guest's console, which xenconsoled logs in dom0:
#
#   TSD-INFO NAME use rc=R <xtest summary>     a short xtest subset (tsd.xtest_use), must pass
#   TSD-INFO NAME long-call started pid=P      the long call's client process runs
#   TSD-INFO NAME long-call in-optee s=S       once a second while that process is inside one
#                                              TEE_IOC_INVOKE ioctl (from /proc/P/stack or
#                                              /proc/P/syscall), S seconds since it was first seen
#   TSD-INFO NAME long-call done rc=R s=S      the call returned (never, if dom0 destroyed us)
#
# Parameters: tsd.xtest_use=ARGS (-t,regression,1001), tsd.longcall=ARGS (xtest arguments of one
# long TA invocation; default: the crypto_perf TA hashes a 64 KiB registered buffer 100000 times
# with SHA-256 inside one invoke, TEE_DigestDoFinal in a loop: minutes under TCG).
# shellcheck shell=sh
n=$TSD_NAME
use=$(echo "${TSD_XTEST_USE:--t,regression,1001}" | tr ',' ' ')
long=$(echo "${TSD_LONGCALL:---hash-perf,-a,SHA256,-w,0,-n,1,-s,65536,-l,100000}" | tr ',' ' ')
now() { cut -d' ' -f1 /proc/uptime; }

# shellcheck disable=SC2086 # argument lists are meant to split
xtest $use > /tmp/use.log 2>&1
rc=$?
echo "TSD-INFO $n use rc=$rc $(grep -E 'test cases? of which' /tmp/use.log | tail -1)"
if [ $rc -ne 0 ]; then
    tail -n 20 /tmp/use.log | sed "s/^/TSD-INFO $n use: /"
    echo "passed=0 failed=1 reason=use" > /tmp/tsd-result
    exit 1
fi

# Inside the invoke: the client's kernel stack holds optee_invoke_func (the optee driver's
# TEE_IOC_INVOKE handler; tee_ioctl_invoke is inlined) while it runs OP-TEE's call loop (a CPU-bound task: /proc/P/syscall only says "running"), or,
# while it sleeps in an RPC, /proc/P/syscall shows ioctl (29 on arm64) with TEE_IOC_INVOKE =
# _IOR(0xa4, 3, struct tee_ioctl_buf_data) = 0x8010a403.
in_invoke() {
    grep -q optee_invoke_func "/proc/$1/stack" 2>/dev/null && return 0
    # shellcheck disable=SC2046
    set -- $(cat "/proc/$1/syscall" 2>/dev/null)
    [ "${1:-}" = 29 ] && [ "${3:-}" = 0x8010a403 ]
}
# shellcheck disable=SC2086
xtest $long > /tmp/long.log 2>&1 &
pid=$!
echo "TSD-INFO $n long-call started pid=$pid args=$long"
t_in= last=-1
while grep -q '^State:[[:space:]]*[^Z]' /proc/$pid/status 2>/dev/null; do
    if in_invoke $pid; then
        [ -n "$t_in" ] || t_in=$(now)
        s=$(awk "BEGIN { printf \"%d\", $(now) - $t_in }")
        if [ "$s" != "$last" ]; then
            echo "TSD-INFO $n long-call in-optee s=$s"
            last=$s
        fi
    else
        t_in= last=-1
    fi
    sleep 0.2
done
wait $pid
rc=$?
echo "TSD-INFO $n long-call done rc=$rc s=${last}"
tail -n 5 /tmp/long.log | sed "s/^/TSD-INFO $n long: /"
echo "passed=1 failed=0 long_rc=$rc" > /tmp/tsd-result
