#!/bin/sh
# Mediator death and restart, run in dom0 by /init (tsd.script=mediator-restart; scenario
# boot/scenarios/mediator-restart.scn). dom0 is the TEE client: xtest and `tsdtee load` (one
# os_test session invoked in a loop) give the load; tsdtee (tests/initramfs/tsdtee.c) also reads
# Xen's forwarder state of dom0 (TEE_STUBDOM_OP_query, DOMID_SELF: the registered mediator and
# dom0's pins).
#
# Round 1: the boot mediator (dom0less, domid 1, started with the test-only test-panic-after=N)
#   panics under load. Checks: the crash came while xtest ran; the call in flight and a new call
#   fail with an OP-TEE error within tsd.bound_ms; xtest fails instead of hanging; Xen and dom0
#   keep running; Xen holds no pin of dom0 and no mediator is registered. Then `xl destroy` the
#   dead mediator and `xl create` a new one (tee_mediator_t, the image in /tsd/guests): it
#   registers (Xen replays dom0 with TEE_KNOWN) and new sessions work (tsdtee call, xtest).
# Round 2: the same, but the (new) mediator is killed by `xl destroy` from dom0 under load.
#
# Parameters (kernel command line): tsd.bound_ms=MS (5000: a failed call must not take longer;
# the scenario sets Xen's tee-stubdom-timeout below it), tsd.load_xtest=ARGS (-t,regression),
# tsd.verify_xtest=ARGS (-t,regression,1001,1004,4001), tsd.mediator_cmd=ARGS (extra command
# line of the new mediators, comma-separated, '+' for the commas of guests=; their name= is
# added; default guests=0:dom0:dom0_t stats-ms=1000 notif=0 rpc-arg=0 shm-cache=0: Xen routes
# OP-TEE's notification interrupt only to the boot mediator; with RPC_ARG Linux would call with
# argument buffers it registered once, through the dead mediator, which the new one cannot know;
# with OP-TEE's RPC argument cache on, OP-TEE may keep the dead mediator's pages; see
# stubdom/README.md, "Death and restart").
# Writes "passed=N failed=M" to /tmp/tsd-result.
. /tsd/scripts/toolstack.sh

bound_ms=${TSD_BOUND_MS:-5000}
load_xt=$(echo "${TSD_LOAD_XTEST:--t,regression}" | tr ',' ' ')
verify_xt=$(echo "${TSD_VERIFY_XTEST:--t,regression,1001,1004,4001}" | tr ',' ' ')
med_cmd=$(echo "${TSD_MEDIATOR_CMD:-guests=0:dom0:dom0_t,stats-ms=1000,notif=0,rpc-arg=0,shm-cache=0}" | tr ',' ' ')
# guests= takes commas itself: the command line gives them as '+'.
med_cmd=$(echo "$med_cmd" | tr '+' ',')
passed=0 failed=0
start_toolstack || { echo "passed=0 failed=1 reason=toolstack" > /tmp/tsd-result; exit 1; }

check() { # name PASS|FAIL detail
    echo "TSD-CHECK $TSD_NAME $1 $2 $3"
    if [ "$2" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
ms() { awk "BEGIN { printf \"%d\", ($2 - $1) * 1000 }"; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
state() { xl list 2>/dev/null | awk -v d="$1" '$2 == d { print $5 }'; }
xen_log() { xl dmesg 2>/dev/null | grep tee-stubdom | tail -n "${1:-5}" | sed "s/^/TSD-INFO $TSD_NAME xen: /"; }

# The pins check: no mediator registered, no pin of dom0, no call pending.
check_released() { # round
    q=$(tsdtee pins)
    echo "TSD-INFO $TSD_NAME round $1 after the death: $q"
    if [ "$(field mediator "$q")" = 32756 ] && [ "$(field pinned "$q")" = 0 ] &&
       [ $(( $(field flags "$q") & 4 )) -eq 0 ]; then
        check "round$1-pins-released" PASS "$q"
    else
        check "round$1-pins-released" FAIL "$q"
    fi
}

# The load's call in flight when the mediator died, and a call made after: both fail, in time.
check_calls_fail() { # round t_death
    r=$1 t_death=$2
    # A call the mediator had taken when it died: Xen fails it at once ("mediator died"), or,
    # when xl destroy held the mediator paused long enough, at tee-stubdom-timeout ("timed out
    # (mediator paused)"); a running mediator's calls are never timed out (hv-patches 0005).
    taken="failed \(mediator died\)|timed out \(mediator paused\)"
    orphans=$(xl dmesg | grep -cE "$taken")
    if [ "$orphans" -gt "$orphans_before" ]; then
        check "round$r-call-pending-at-death" PASS "$((orphans - orphans_before)) call(s) the dying mediator had taken failed: $(xl dmesg | grep -E "$taken" | tail -1 | sed 's/.*tee-stubdom: //')"
    else
        check "round$r-call-pending-at-death" FAIL "Xen failed no call of the dead mediator (none pending at its death)"
    fi
    orphans_before=$orphans
    n=0
    while kill -0 "$lpid" 2>/dev/null && [ $n -lt $((bound_ms / 100 + 50)) ]; do sleep 0.1; n=$((n + 1)); done
    l=$(cat /tmp/load-r$r.log)
    echo "TSD-INFO $TSD_NAME round $r load: $l"
    # The load's call in flight ended with an error at most bound_ms after dom0 saw the death
    # (negative: before dom0 saw it).
    lend=$(ms "$t_death" "$(field end "$l")")
    if [ "$(field result "$l")" = error ] && [ "$lend" -le "$bound_ms" ]; then
        check "round$r-pending-call-fails" PASS "ret=$(field ret "$l") origin=$(field origin "$l"), ended $lend ms after dom0 saw the death (its start: $(ms "$t_death" "$(field start "$l")") ms from the death; $(field n "$l") calls served before)"
    else
        check "round$r-pending-call-fails" FAIL "$l"
    fi
    kill "$lpid" 2>/dev/null
    c=$(tsdtee call)
    cms=$(field ms "$c")
    if [ "$(field result "$c")" = error ] && [ "${cms%.*}" -le "$bound_ms" ]; then
        check "round$r-new-call-fails" PASS "ret=$(field ret "$c") origin=$(field origin "$c") after ${cms} ms (bound ${bound_ms} ms)"
    else
        check "round$r-new-call-fails" FAIL "$c"
    fi
    # xtest fails (its calls get OP-TEE errors) instead of hanging; stopped once it has shown it.
    xfail="FAILED|TEEC_ERROR_COMMUNICATION"
    [ -n "$xpid" ] || { xen_alive $r; return; }
    n=0
    while kill -0 "$xpid" 2>/dev/null && ! grep -qE "$xfail" /tmp/xtest-r$r.log && [ $n -lt 300 ]; do
        sleep 0.1; n=$((n + 1))
    done
    if grep -qE "$xfail" /tmp/xtest-r$r.log; then
        check "round$r-xtest-fails" PASS "$(grep -m1 -E "$xfail" /tmp/xtest-r$r.log | tr -d '\r' | sed 's/.*unexpected value: //')"
    else
        check "round$r-xtest-fails" FAIL "no failure in xtest's log 30 s after the death"
        tail -n 5 /tmp/xtest-r$r.log | sed "s/^/TSD-INFO $TSD_NAME xtest: /"
    fi
    kill "$xpid" 2>/dev/null; wait "$xpid" 2>/dev/null
    xen_alive $r
}

# Xen and the other domains keep running.
xen_alive() { # round
    r=$1
    if xl info >/dev/null 2>&1 && [ "$(state 0)" != "" ]; then
        check "round$r-xen-and-dom0-alive" PASS "$(xl list | awk 'NR > 1 { printf "%s:%s:%s ", $1, $2, $5 }')"
    else
        check "round$r-xen-and-dom0-alive" FAIL "xl info or xl list failed"
    fi
    xen_log 4
}

start_load() { # round with-xtest
    xpid=
    if [ "$2" = 1 ]; then
        linebuf xtest $load_xt > /tmp/xtest-r$1.log 2>&1 &
        xpid=$!
    fi
    tsdtee load 600 > /tmp/load-r$1.log 2>&1 &
    lpid=$!
}

# xl create a mediator NAME; check that it registers and that new sessions work. Its console is
# Xen's (console_io, as the boot mediator's): no vuart, whose domctl FLASK 4.17 does not know
# ("Denying unknown domctl: 81").
new_mediator() { # round name
    r=$1 name=$2
    cat > /tmp/$name.cfg <<CFG
name = "$name"
kernel = "/tsd/guests/tee-mediator.bin"
memory = 32
vcpus = 1
seclabel = "system_u:system_r:tee_mediator_t"
extra = "name=$name $med_cmd"
CFG
    t0=$(now)
    if ! xl create /tmp/$name.cfg > /tmp/$name.create.log 2>&1; then
        sed "s/^/TSD-INFO $TSD_NAME xl create: /" /tmp/$name.create.log
        xl dmesg | tail -n 15 | sed "s/^/TSD-INFO $TSD_NAME xen: /"
        check "round$r-new-mediator-created" FAIL "see the xl create log above"
        return 1
    fi
    id=$(xl domid "$name")
    n=0
    while [ "$(field mediator "$(tsdtee pins)")" != "$id" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    q=$(tsdtee pins)
    if [ "$(field mediator "$q")" = "$id" ]; then
        check "round$r-new-mediator-registered" PASS "$name is d$id, registered $(since "$t0") s after xl create ($q)"
    else
        check "round$r-new-mediator-registered" FAIL "$name (d$id) not registered 30 s after xl create: $q"
        xen_log 5
        return 1
    fi
    # Xen replayed dom0 with TEE_KNOWN: the new mediator emptied OP-TEE's RPC argument cache
    # (the dead mediator's freed shadow pages) before serving dom0. Its console is Xen's.
    n=0
    until xl dmesg | grep -q "$name guest dom0 known to OP-TEE" || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
    f=$(xl dmesg | grep "$name guest dom0 known to OP-TEE" | tail -1 | sed 's/.*replayed): //' | tr -d '\r')
    # EBUSY (a thread of the dead mediator is still suspended in OP-TEE) leaves the cache as it
    # is, which is safe only when no mediator let OP-TEE cache its pages (shm-cache=0).
    case $f in
        *"dropped: Ok("*) check "round$r-stale-rpc-buffers-dropped" PASS "$f" ;;
        *"dropped: Err(2)"*) if echo "$med_cmd" | grep -q "shm-cache=0"; then
                check "round$r-stale-rpc-buffers-dropped" PASS "$f: OP-TEE busy (a thread of the dead mediator is suspended); nothing cached, every mediator runs shm-cache=0"
            else
                check "round$r-stale-rpc-buffers-dropped" FAIL "$f: OP-TEE busy, its cache may still hold the dead mediator's pages"
            fi ;;
        *) check "round$r-stale-rpc-buffers-dropped" FAIL "${f:-no line from $name}" ;;
    esac
    c=$(tsdtee call)
    if [ "$(field result "$c")" = ok ]; then
        check "round$r-new-session-works" PASS "$c"
    else
        check "round$r-new-session-works" FAIL "$c"
    fi
    t1=$(now)
    linebuf xtest $verify_xt > /tmp/xtest-v$r.log 2>&1
    rc=$?
    s=$(grep "test cases\{0,1\} of which" /tmp/xtest-v$r.log | tail -1 | tr -d '\r')
    if [ $rc -eq 0 ] && echo "$s" | grep -q "of which 0 failed"; then
        check "round$r-xtest-after-restart" PASS "xtest $verify_xt: $s in $(since "$t1") s"
    else
        check "round$r-xtest-after-restart" FAIL "xtest $verify_xt: rc=$rc ${s:-no summary}"
        grep -E "FAILED|Error" /tmp/xtest-v$r.log | head -n 10 | sed "s/^/TSD-INFO $TSD_NAME xtest: /"
    fi
}

orphans_before=0
# The boot mediator serves dom0.
q=$(tsdtee pins)
c=$(tsdtee call)
echo "TSD-INFO $TSD_NAME before: $q; $c"
if [ "$(field mediator "$q")" = 1 ] && [ "$(field result "$c")" = ok ]; then
    check round0-boot-mediator-serves PASS "$q"
else
    check round0-boot-mediator-serves FAIL "$q; $c"
fi

# --- Round 1: the boot mediator panics under load (test-panic-after) ----------------------------
start_load 1 1
# Xen forgets a crashed mediator within its 50 ms watchdog period: the query sees it first
# (mediator=32756: DOMID_INVALID).
n=0
until [ "$(field mediator "$(tsdtee pins)")" = 32756 ] || [ $n -ge 1200 ]; do sleep 0.05; n=$((n + 1)); done
t_death=$(now)
if [ "$(field mediator "$(tsdtee pins)")" = 32756 ] && state 1 | grep -q c; then
    check round1-mediator-panics PASS "d1 crashed (xl list state $(state 1)), Xen unregistered it"
    check_calls_fail 1 "$t_death"
    check_released 1
else
    check round1-mediator-panics FAIL "d1 did not crash within 60 s (state $(state 1))"
    kill "$xpid" "$lpid" 2>/dev/null
fi
t0=$(now)
xl destroy 1 > /tmp/destroy-1.log 2>&1
n=0
while [ -n "$(state 1)" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
if [ -z "$(state 1)" ]; then
    check round1-dead-mediator-destroyed PASS "xl destroy 1: gone after $(since "$t0") s"
else
    check round1-dead-mediator-destroyed FAIL "d1 still there: $(state 1) $(tr '\n' ' ' < /tmp/destroy-1.log)"
fi
new_mediator 1 mediator2

# --- Round 2: the new mediator is destroyed from dom0 under load -----------------------------------
# One loader only: a mediator killed at an arbitrary point may leave OP-TEE's thread of the call
# in flight suspended for good (see stubdom/src/testfault.rs); OP-TEE has two.
start_load 2 0
sleep 3
q=$(tsdtee pins)
echo "TSD-INFO $TSD_NAME round 2 under load: $q"
t_death=$(now)
if xl destroy mediator2 > /tmp/destroy-2.log 2>&1; then
    check round2-mediator-destroyed-under-load PASS "xl destroy mediator2 took $(since "$t_death") s; before it: $q"
else
    check round2-mediator-destroyed-under-load FAIL "$(tr '\n' ' ' < /tmp/destroy-2.log)"
fi
check_calls_fail 2 "$t_death"
check_released 2
new_mediator 2 mediator3

echo "passed=$passed failed=$failed" > /tmp/tsd-result
[ $failed -eq 0 ]
