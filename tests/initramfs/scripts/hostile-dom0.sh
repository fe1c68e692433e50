# dom0 of the hostile-mediator scenario (boot/scenarios/hostile-mediator.scn), no TEE client
# (tsd.tee=0):
# 1. A canary page of dom0's for the hostile mediator to aim at. Starts the toolstack, runs
#    `tsdtee canary` (a page with the hostile-mediator pattern, granted read-only to the mediator,
#    domid $TSD_MEDIATOR, so that it learns the page's machine address), waits for the mediator's
#    "attacks done" line on Xen's console and then has tsdtee look at the page a last time.
#    TSD-CHECK dom0-canary-unchanged.
# 2. After the attacks (tsd.after_attacks=1, the default): OP-TEE and Xen still serve a real TEE
#    guest. The hostile mediator powers itself off (exit-after-ms=); dom0 `xl create`s the product mediator
#    (/tsd/guests/tee-mediator.bin, tee_mediator_t), which must register (Xen first ends what the
#    hostile one left in OP-TEE: registration deferred until then), and then `xl create`s a Linux
#    TEE guest (tee_guest_t, the test initramfs) that runs the xtest subset $TSD_GUEST_XTEST
#    through it. TSD-CHECK hostile-gone, product-mediator-registered, tee-guest-xtest-after.
# Writes "passed=N failed=M" to /tmp/tsd-result.
# shellcheck shell=sh
. /tsd/scripts/toolstack.sh

mediator=${TSD_MEDIATOR:-1}
wait_s=${TSD_WAIT:-600}
xt=${TSD_GUEST_XTEST:--t,regression,1001,1002,1006,2001,4001,4002,6001}
passed=0 failed=0

check() { # name PASS|FAIL detail
    echo "TSD-CHECK $TSD_NAME $1 $2 $3"
    if [ "$2" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
finish() { echo "passed=$passed failed=$failed" > /tmp/tsd-result; [ "$failed" = 0 ]; exit $?; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

if ! start_toolstack; then
    check dom0-canary-unchanged FAIL "the toolstack did not start"
    finish
fi

# --- 1. dom0's canary -----------------------------------------------------------------------------
tsdtee canary "$mediator" /tmp/attacks-done "$wait_s" > /tmp/canary.log 2>&1 &
pid=$!
if ! wait_for /tmp/canary.log "canary granted" 30; then
    check dom0-canary-unchanged FAIL "no grant: $(cat /tmp/canary.log)"
    finish
fi
echo "TSD-INFO $TSD_NAME $(head -1 /tmp/canary.log)"
start=$(now)
until xl dmesg 2>/dev/null | grep -q "TSD-INFO hostile attacks done"; do
    [ "$(awk "BEGIN { print ($(now) - $start > $wait_s) }")" = 1 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 1
done
touch /tmp/attacks-done
wait $pid
rc=$?
line=$(tail -1 /tmp/canary.log)
if [ $rc -eq 0 ]; then
    check dom0-canary-unchanged PASS "after the mediator's attacks ($(since "$start") s): $line"
else
    check dom0-canary-unchanged FAIL "rc=$rc: $line"
fi
[ "${TSD_AFTER_ATTACKS:-1}" = 1 ] || finish

# --- 2. after the attacks: the product mediator serves a new Linux TEE guest ----------------------
# The hostile mediator powers itself off (exit-after-ms=; a dom0less domain without xenstore has no
# toolstack entries for `xl destroy`) and Xen forgets it as the mediator.
t0=$(now)
n=0
while [ "$(field mediator "$(tsdtee pins)")" = "$mediator" ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n + 1)); done
q=$(tsdtee pins)
if [ "$(field mediator "$q")" = "$mediator" ]; then
    check hostile-gone FAIL "d$mediator is still the registered mediator 60 s after its attacks: $q"
    finish
fi
check hostile-gone PASS "d$mediator is no longer the mediator, $(since "$t0") s after its attacks ($q)"

# Its console is Xen's (console_io), as in mediator-restart; OP-TEE's notification interrupt goes
# to the boot mediator only, so notif=0.
cat > /tmp/mediator.cfg <<CFG
name = "mediator"
kernel = "/tsd/guests/tee-mediator.bin"
memory = 32
vcpus = 1
seclabel = "system_u:system_r:tee_mediator_t"
extra = "name=mediator stats-ms=2000 notif=0"
CFG
t0=$(now)
if ! xl create /tmp/mediator.cfg > /tmp/mediator.create.log 2>&1; then
    sed "s/^/TSD-INFO $TSD_NAME xl create: /" /tmp/mediator.create.log
    check product-mediator-registered FAIL "xl create of the product mediator failed"
    finish
fi
id=$(xl domid mediator)
n=0
while [ "$(field mediator "$(tsdtee pins)")" != "$id" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
q=$(tsdtee pins)
if [ "$(field mediator "$q")" != "$id" ]; then
    check product-mediator-registered FAIL "d$id not registered 60 s after xl create: $q"
    xl dmesg | grep tee-stubdom | tail -n 5 | sed "s/^/TSD-INFO $TSD_NAME xen: /"
    finish
fi
check product-mediator-registered PASS "d$id registered $(since "$t0") s after xl create ($q)"
xl dmesg | grep -a "tee-stubdom: \(OP-TEE thread\|client\)" | tail -n 4 | sed "s/^/TSD-INFO $TSD_NAME xen: /" | tr -d '\r'

name=tee2
cat > /tmp/$name.cfg <<CFG
name = "$name"
kernel = "/tsd/guests/linux"
ramdisk = "/tsd/guests/initramfs"
memory = 192
vcpus = 1
tee = "optee"
seclabel = "system_u:system_r:tee_guest_t"
extra = "console=hvc0 quiet rdinit=/init tsd.name=$name tsd.xtest=$xt"
CFG
t0=$(now)
if ! xl create /tmp/$name.cfg > /tmp/$name.create.log 2>&1; then
    sed "s/^/TSD-INFO $TSD_NAME xl create: /" /tmp/$name.create.log
    check tee-guest-xtest-after FAIL "xl create of $name failed"
    finish
fi
log=/var/log/xen/console/guest-$name.log
if ! wait_for "$log" "TSD-RESULT $name " 300; then
    tail -n 20 "$log" 2>/dev/null | sed "s/^/TSD-INFO $TSD_NAME $name: /" | tr -d '\r'
    check tee-guest-xtest-after FAIL "no result from $name within 300 s"
    finish
fi
result=$(grep -a -- "TSD-RESULT $name " "$log" | tail -1 | sed 's/.*TSD-RESULT/TSD-RESULT/' | tr -d '\r')
case $result in
    *status=PASS*) check tee-guest-xtest-after PASS "$(since "$t0") s after xl create: $result" ;;
    *) grep -a "FAILED\|failed" "$log" | head -n 10 | sed "s/^/TSD-INFO $TSD_NAME $name: /" | tr -d '\r'
       check tee-guest-xtest-after FAIL "$result" ;;
esac
finish
