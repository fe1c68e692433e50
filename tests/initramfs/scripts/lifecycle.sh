#!/bin/sh
# Guest lifecycle with the real toolstack, run in dom0 by /init (tsd.script=lifecycle).
# TSD_CYCLES times: `xl create` a TEE guest (tee="optee", a FLASK label) that runs an xtest subset,
# wait for its TSD-RESULT on its console log, `xl destroy` it, and check that it is gone.
# Parameters (kernel command line): tsd.cycles=N (3), tsd.guest_xtest=ARGS (-t,regression,1001),
# tsd.guest_mem=MiB (192), tsd.guest_label=LABEL (system_u:system_r:domU_t).
# Writes "passed=N failed=M" to /tmp/tsd-result.
. /tsd/scripts/toolstack.sh

cycles=${TSD_CYCLES:-3}
xt=${TSD_GUEST_XTEST:--t,regression,1001}
passed=0 failed=0
start_toolstack || { echo "passed=0 failed=1 reason=toolstack" > /tmp/tsd-result; exit 1; }

fail() { # name what
    echo "TSD-CHECK $TSD_NAME cycle-$i FAIL $2"
    for f in /tmp/$1.create.log /var/log/xen/console/guest-$1.log; do
        [ -f "$f" ] && tail -n 15 "$f" | sed "s|^|TSD-INFO $TSD_NAME $(basename "$f"): |"
    done
    xl destroy "$1" >/dev/null 2>&1
    failed=$((failed + 1))
}

i=1
while [ $i -le "$cycles" ]; do
    name=tee$i
    cat > /tmp/$name.cfg <<CFG
name = "$name"
kernel = "/tsd/guests/linux"
ramdisk = "/tsd/guests/initramfs"
memory = ${TSD_GUEST_MEM:-192}
vcpus = 1
tee = "optee"
seclabel = "${TSD_GUEST_LABEL:-system_u:system_r:domU_t}"
extra = "console=hvc0 quiet rdinit=/init tsd.name=$name tsd.xtest=$xt"
CFG
    t0=$(now)
    if ! xl create /tmp/$name.cfg > /tmp/$name.create.log 2>&1; then
        fail $name "xl create failed"; i=$((i + 1)); continue
    fi
    t_create=$(since "$t0")
    log=/var/log/xen/console/guest-$name.log
    if ! wait_for "$log" "TSD-RESULT $name " 300; then
        fail $name "no result from guest $name within 300 s"; i=$((i + 1)); continue
    fi
    t_result=$(since "$t0")
    result=$(grep -- "TSD-RESULT $name " "$log" | tail -1 | sed 's/.*TSD-RESULT/TSD-RESULT/' | tr -d '\r')
    echo "TSD-INFO $TSD_NAME $result"
    t1=$(now)
    xl destroy "$name" > /tmp/$name.destroy.log 2>&1 || { fail $name "xl destroy failed"; i=$((i + 1)); continue; }
    n=0
    while xl domid "$name" >/dev/null 2>&1 && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
    if xl domid "$name" >/dev/null 2>&1; then
        fail $name "guest $name still exists 10 s after xl destroy"; i=$((i + 1)); continue
    fi
    case $result in
        *status=PASS*)
            echo "TSD-CHECK $TSD_NAME cycle-$i PASS create=${t_create}s result=${t_result}s destroy=$(since "$t1")s"
            passed=$((passed + 1)) ;;
        *) fail $name "guest $name: $result" ;;
    esac
    i=$((i + 1))
done
echo "passed=$passed failed=$failed cycles=$cycles" > /tmp/tsd-result
[ $failed -eq 0 ]
