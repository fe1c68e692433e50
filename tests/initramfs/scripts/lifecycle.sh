#!/bin/sh
# Guest lifecycle with the real toolstack, run in dom0 by /init (tsd.script=lifecycle).
# TSD_CYCLES times: `xl create` a TEE guest (tee="optee", a FLASK label), use it, `xl destroy` it,
# and check that it is gone (within 30 s). A cycle either
#  - waits for the guest's TSD-RESULT (its /init runs an xtest subset, which must pass), or
#  - (every tsd.midcall_every-th cycle) boots the guest with guest-longcall.sh appended to its
#    initramfs: it runs the xtest subset, then one long TA invocation; dom0 destroys the guest
#    once that invocation has been inside OP-TEE for tsd.midcall_after seconds (the guest's
#    "long-call in-optee s=N" lines), and checks afterwards that the guest never printed the
#    call's completion ("long-call done").
# With tsd.mediator=NAME (a mediator domain, tee=stubdom) each cycle also reads Xen's console
# (`xl dmesg`) for the mediator's line about the destroyed guest and requires Xen's pin count
# after the mediator's teardown to be 0: "TSD-INFO NAME guest domN destroyed, pinned=P
# xen_pinned=0 released: Ok(())" (P: the mediator's own count when the guest died).
# Each cycle prints "TSD-CHECK dom0 cycle-I PASS|FAIL domid=D create=Xs result=Ys destroy=Zs
# kheap=BYTES/FRAG%/FAILED ..." (kheap: OP-TEE's nexus heap after the cycle).
# Parameters (kernel command line): tsd.cycles=N (3), tsd.guest_xtest=ARGS (-t,regression,1001),
# tsd.guest_mem=MiB (192), tsd.guest_label=LABEL (system_u:system_r:domU_t), tsd.midcall_every=K
# (0: never), tsd.midcall_after=S (2), tsd.longcall=ARGS (guest-longcall.sh's default),
# tsd.mediator=NAME (none), tsd.kheap_failures=0 (fail a cycle once OP-TEE's nexus heap counts a
# failed allocation; not with xtest 1001, whose self test makes one on purpose).
# Writes "passed=N failed=M cycles=N midcall=K ..." to /tmp/tsd-result.
. /tsd/scripts/toolstack.sh

cycles=${TSD_CYCLES:-3}
xt=${TSD_GUEST_XTEST:--t,regression,1001}
every=${TSD_MIDCALL_EVERY:-0}
after=${TSD_MIDCALL_AFTER:-2}
passed=0 failed=0 midcall=0 t_start=$(now)
start_toolstack || { echo "passed=0 failed=1 reason=toolstack" > /tmp/tsd-result; exit 1; }

fail() { # name what
    echo "TSD-CHECK $TSD_NAME cycle-$i FAIL $2"
    for f in /tmp/$1.create.log /var/log/xen/console/guest-$1.log; do
        [ -f "$f" ] && tail -n 15 "$f" | sed "s|^|TSD-INFO $TSD_NAME $(basename "$f"): |"
    done
    xl destroy "$1" >/dev/null 2>&1
    failed=$((failed + 1))
}

# The guest initramfs with guest-longcall.sh appended (a second cpio archive; Linux unpacks both).
longcall_initramfs() {
    [ -f /tmp/initramfs-longcall ] && return 0
    mkdir -p /tmp/gx/tsd/scripts && cp /tsd/scripts/guest-longcall.sh /tmp/gx/tsd/scripts/ &&
        (cd /tmp/gx && find tsd | cpio -o -H newc > /tmp/gx.cpio 2>/dev/null) &&
        cat /tsd/guests/initramfs /tmp/gx.cpio > /tmp/initramfs-longcall
}

# OP-TEE's nexus heap (shared by all partitions; "KHeap" of `xtest --stats --alloc`, asked by
# dom0): bytes allocated/fragmentation %/failed allocations, to watch it across cycles ("n/a"
# when the mediator does not serve OP-TEE's standard calls, as the hook's test mediator).
kheap() {
    xtest --stats --alloc 2>/dev/null | awk '
        /^Pool:/ { p = $2 }
        p == "KHeap" && /^Bytes allocated/ { a = $3 }
        p == "KHeap" && /^Fragmentation/ { f = $2 }
        p == "KHeap" && /^Number of failed/ { n = $5 }
        END { if (a == "") printf "n/a"; else printf "%s/%s%%/%s", a, f, n }'
}

# mediator_check DOMID: the mediator's line about the destroyed guest, from Xen's console.
mediator_check() {
    [ -n "${TSD_MEDIATOR:-}" ] || return 0
    n=0 line=
    while [ -z "$line" ] && [ $n -lt 25 ]; do
        line=$(xl dmesg 2>/dev/null | grep -a "TSD-INFO $TSD_MEDIATOR guest dom$1 destroyed" | tail -1 | tr -d '\r')
        [ -n "$line" ] || { sleep 0.2; n=$((n + 1)); }
    done
    xen_pinned=$(echo "$line" | sed -n 's/.*xen_pinned=\([^ ]*\).*/\1/p')
    [ "$xen_pinned" = 0 ] && case $line in *"released: Ok(())"*) return 0 ;; esac
    echo "TSD-INFO $TSD_NAME mediator line for dom$1: ${line:-none}"
    return 1
}

echo "TSD-INFO $TSD_NAME OP-TEE nexus heap before the cycles: kheap=$(kheap) (bytes/fragmentation/failed)"
i=1
while [ $i -le "$cycles" ]; do
    name=tee$i
    mid=0
    [ "$every" -gt 0 ] && [ $((i % every)) -eq 0 ] && mid=1
    ramdisk=/tsd/guests/initramfs
    args="tsd.xtest=$xt"
    if [ $mid = 1 ]; then
        longcall_initramfs || { fail $name "cannot build the long-call initramfs"; i=$((i + 1)); continue; }
        ramdisk=/tmp/initramfs-longcall
        args="tsd.script=guest-longcall tsd.xtest_use=$xt${TSD_LONGCALL:+ tsd.longcall=$TSD_LONGCALL}"
    fi
    cat > /tmp/$name.cfg <<CFG
name = "$name"
kernel = "/tsd/guests/linux"
ramdisk = "$ramdisk"
memory = ${TSD_GUEST_MEM:-192}
vcpus = 1
tee = "optee"
seclabel = "${TSD_GUEST_LABEL:-system_u:system_r:domU_t}"
extra = "console=hvc0 quiet rdinit=/init tsd.name=$name $args"
CFG
    t0=$(now)
    if ! xl create /tmp/$name.cfg > /tmp/$name.create.log 2>&1; then
        fail $name "xl create failed"; i=$((i + 1)); continue
    fi
    t_create=$(since "$t0")
    domid=$(xl domid "$name" 2>/dev/null)
    log=/var/log/xen/console/guest-$name.log
    if [ $mid = 1 ]; then
        n=0
        until grep -aq -- "long-call in-optee s=$after" "$log" 2>/dev/null; do
            if grep -aq -- "TSD-RESULT $name \|long-call done" "$log" 2>/dev/null || [ $n -ge 1500 ]; then
                n=timeout; break
            fi
            sleep 0.2; n=$((n + 1))
        done
        if [ $n = timeout ]; then
            fail $name "guest $name: its long call was not $after s inside OP-TEE (within 300 s)"; i=$((i + 1)); continue
        fi
        result="mid-call: $(grep -a -- "TSD-INFO $name use " "$log" | tail -1 | sed 's/.*TSD-INFO [^ ]* //' | tr -d '\r')"
    else
        if ! wait_for "$log" "TSD-RESULT $name " 300; then
            fail $name "no result from guest $name within 300 s"; i=$((i + 1)); continue
        fi
        result=$(grep -a -- "TSD-RESULT $name " "$log" | tail -1 | sed 's/.*TSD-RESULT/TSD-RESULT/' | tr -d '\r')
    fi
    t_result=$(since "$t0")
    echo "TSD-INFO $TSD_NAME $name dom$domid: $result"
    t1=$(now)
    xl destroy "$name" > /tmp/$name.destroy.log 2>&1 || { fail $name "xl destroy failed"; i=$((i + 1)); continue; }
    n=0
    while xl domid "$name" >/dev/null 2>&1 && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
    if xl domid "$name" >/dev/null 2>&1; then
        fail $name "guest $name still exists 30 s after xl destroy"; i=$((i + 1)); continue
    fi
    t_destroy=$(since "$t1")
    if ! mediator_check "$domid"; then
        fail $name "dom$domid: the mediator did not report xen_pinned=0 and a successful release"; i=$((i + 1)); continue
    fi
    kh=$(kheap)
    extra=" kheap=$kh"
    if [ "${TSD_KHEAP_FAILURES:-}" = 0 ] && [ "$kh" != n/a ] && [ "${kh##*/}" != 0 ]; then
        fail $name "OP-TEE's nexus heap had a failed allocation (kheap=$kh)"; i=$((i + 1)); continue
    fi
    [ -n "${TSD_MEDIATOR:-}" ] && extra="$extra xen_pinned=$xen_pinned"
    if [ $mid = 1 ]; then
        sleep 0.5  # let xenconsoled write what the guest printed last
        if grep -aq -- "TSD-INFO $name long-call done" "$log"; then
            fail $name "guest $name finished its long call before the destroy"; i=$((i + 1)); continue
        fi
        case $result in
            *"use rc=0 "*) ;;
            *) fail $name "guest $name: $result"; i=$((i + 1)); continue ;;
        esac
        tail -n 2 "$log" | tr -d '\r' | sed "s|^|TSD-INFO $TSD_NAME $name's last words: |"
        last=$(grep -a -- "long-call in-optee s=" "$log" | tail -1 | sed 's/.*s=//' | tr -d '\r')
        # The mediator's answers Xen refused because the guest was gone (its call was pending).
        refused=$(xl dmesg 2>/dev/null | grep -ac "TSD-INFO ${TSD_MEDIATOR:-mediator} answer to dom$domid ")
        midcall=$((midcall + 1))
        echo "TSD-CHECK $TSD_NAME cycle-$i PASS domid=$domid mid-call create=${t_create}s result=${t_result}s destroy=${t_destroy}s in_optee_at_destroy=${last}s answers_refused=$refused$extra"
        passed=$((passed + 1))
    else
        case $result in
            *status=PASS*)
                echo "TSD-CHECK $TSD_NAME cycle-$i PASS domid=$domid create=${t_create}s result=${t_result}s destroy=${t_destroy}s$extra"
                passed=$((passed + 1)) ;;
            *) fail $name "guest $name: $result" ;;
        esac
    fi
    i=$((i + 1))
done
echo "passed=$passed failed=$failed cycles=$cycles midcall=$midcall seconds=$(since "$t_start")" > /tmp/tsd-result
[ $failed -eq 0 ]
