#!/bin/sh
# Mediator death and restart, run in dom0 by /init (tsd.script=mediator-restart; scenario
# boot/scenarios/mediator-restart.scn). dom0 is the TEE client: xtest and `tsdtee load` (one
# os_test session invoked in a loop) give the load; tsdtee (tests/initramfs/tsdtee.c) also reads
# Xen's forwarder state of dom0 (TEE_STUBDOM_OP_query, DOMID_SELF: the registered mediator and
# dom0's pins).
#
# Round 1: the boot mediator (dom0less, domid 1, started with the test-only test-panic-after=N)
#   panics under load, with an OP-TEE thread suspended in an RPC for one of its calls. Checks:
#   the crash came while xtest ran; the call in flight and a new call fail with an OP-TEE error
#   within tsd.bound_ms; xtest fails instead of hanging; Xen and dom0 keep running; Xen ends the
#   suspended thread itself (failed RPC answers until OP-TEE completes the call); Xen holds no
#   pin of dom0 and no mediator is registered. Then `xl destroy` the
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
# with OP-TEE's RPC argument cache on, an RPC buffer lent while the dead mediator lived has no
# mediator copy until the new one empties the cache; see stubdom/README.md, "Death and restart").
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
# Round 1's panic fires at a call, so one is pending by construction; an xl destroy may come
# while every call of dom0's is in dom0 (an RPC: a TA in TEE_Wait, the supplicant at work).
check_calls_fail() { # round t_death pending-required
    r=$1 t_death=$2 required=$3
    # A call the mediator had taken when it died: Xen fails it at once ("mediator died"), or,
    # when xl destroy held the mediator paused long enough, at tee-stubdom-timeout ("timed out
    # (mediator paused)"); a running mediator's calls are never timed out (hv-patches 0005).
    taken="failed \(mediator died\)|timed out \(mediator paused\)"
    orphans=$(xl dmesg | grep -cE "$taken")
    if [ "$orphans" -gt "$orphans_before" ]; then
        check "round$r-call-pending-at-death" PASS "$((orphans - orphans_before)) call(s) the dying mediator had taken failed: $(xl dmesg | grep -E "$taken" | tail -1 | sed 's/.*tee-stubdom: //')"
    elif [ "$required" = 1 ]; then
        check "round$r-call-pending-at-death" FAIL "Xen failed no call of the dead mediator (none pending at its death)"
    else
        echo "TSD-INFO $TSD_NAME round $r: no call was with the mediator at its death"
    fi
    orphans_before=$orphans
    n=0
    while kill -0 "$lpid" 2>/dev/null && [ $n -lt $((bound_ms / 100 + 50)) ]; do sleep 0.1; n=$((n + 1)); done
    l=$(cat /tmp/load-r$r.log)
    echo "TSD-INFO $TSD_NAME round $r load: $l"
    # The load's failed call ended with an error at most bound_ms after dom0 saw the death, or
    # after the call began if it began later (negative: before dom0 saw it). A call begun after
    # the xl destroy, while the mediator still ran, may have been posted to it as the destroy
    # paused it: it then fails at tee-stubdom-timeout after its start.
    lstart=$(ms "$t_death" "$(field start "$l")")
    lend=$(ms "$t_death" "$(field end "$l")")
    lfrom=$lend
    [ "$lstart" -gt 0 ] 2>/dev/null && lfrom=$((lend - lstart))
    if [ "$(field result "$l")" = error ] && [ "$lfrom" -le "$bound_ms" ]; then
        check "round$r-pending-call-fails" PASS "ret=$(field ret "$l") origin=$(field origin "$l"), ended $lend ms after dom0 saw the death (its start: $lstart ms from the death; $(field n "$l") calls served before)"
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

# What the dead mediator left in OP-TEE, which Xen ends itself (hv-patches 0009, tsd_reap):
# each call OP-TEE had suspended in an RPC, resumed with failed answers until OP-TEE completes it
# ("tee-stubdom: OP-TEE thread T of client C, orphaned by a dead mediator, ended after N
# resume(s)"; "still suspended" after its bound is a failure here), and each registration made
# through it, which no mediator lets dom0 unregister and whose cookie Linux reuses ("client C: N
# registration(s) made through a dead mediator unregistered, M refused"; M > 0 is a failure).
# Round 1's panic fires while a thread is suspended (at least one to end); an xl destroy may come
# when none is. Checked once the new mediator has registered: Xen refuses that (EAGAIN) until it
# is done, which may take seconds (a TA in TEE_Wait is resumed once per 50 ms).
check_orphans_ended() { # round min
    r=$1 min=$2
    ended=$(xl dmesg | grep -c "orphaned by a dead mediator, ended")
    stuck=$(xl dmesg | grep -c "orphaned by a dead mediator, still suspended")
    set -- $(xl dmesg | sed -n 's/.*client [0-9]*: \([0-9]*\) registration(s) made through a dead mediator unregistered, \([0-9]*\) refused.*/\1 \2/p' |
             awk '{ n += $1; m += $2 } END { print n + 0, m + 0 }')
    unreg=$1 refused=$(($2 - refused_before))
    last=$(xl dmesg | grep "orphaned by a dead mediator" | tail -1 | sed 's/.*tee-stubdom: //' | tr -d '\r')
    if [ "$stuck" -eq 0 ] && [ "$refused" -eq 0 ] && [ $((ended - ended_before)) -ge "$min" ]; then
        check "round$r-orphaned-threads-ended" PASS "$((ended - ended_before)) OP-TEE thread(s) of the dead mediator's calls ended by Xen${last:+ (last: $last)}, $((unreg - unreg_before)) registration(s) unregistered"
    else
        check "round$r-orphaned-threads-ended" FAIL "$((ended - ended_before)) ended (at least $min expected), $stuck left suspended, $refused unregistration(s) refused${last:+ (last: $last)}"
    fi
    ended_before=$ended
    unreg_before=$unreg
    refused_before=$2
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
new_mediator() { # round name min-orphaned-threads
    r=$1 name=$2 omin=$3
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
        check_orphans_ended "$r" "$omin"
    else
        check "round$r-new-mediator-registered" FAIL "$name (d$id) not registered 30 s after xl create: $q"
        xen_log 5
        return 1
    fi
    # Xen replayed dom0 with TEE_KNOWN: the new mediator emptied OP-TEE's RPC argument cache
    # before serving dom0. OP-TEE refuses that (EBUSY, the mediator's Err(2)) while any thread
    # is in use: Xen lets a mediator register only once it has ended the dead one's calls
    # (EAGAIN before: "registration deferred"), so none is. Its console is Xen's.
    xl dmesg | grep "$name registration deferred" | tail -1 | sed "s/^/TSD-INFO $TSD_NAME /" | tr -d '\r'
    n=0
    until xl dmesg | grep -q "$name guest dom0 known to OP-TEE" || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
    f=$(xl dmesg | grep "$name guest dom0 known to OP-TEE" | tail -1 | sed 's/.*replayed): //' | tr -d '\r')
    case $f in
        *"dropped: Ok("*) check "round$r-stale-rpc-buffers-dropped" PASS "$f" ;;
        *"dropped: Err(2)"*) check "round$r-stale-rpc-buffers-dropped" FAIL "$f: OP-TEE busy, a thread is still suspended" ;;
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
ended_before=0
unreg_before=0
refused_before=0
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
    check_calls_fail 1 "$t_death" 1
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
new_mediator 1 mediator2 1

# --- Round 2: the new mediator is destroyed from dom0 under load -----------------------------------
# xtest and the loader: a mediator killed at an arbitrary point may leave OP-TEE's threads of the
# calls in flight (both of OP-TEE's two) suspended; Xen ends them, so new sessions still work.
start_load 2 1
sleep 3
q=$(tsdtee pins)
echo "TSD-INFO $TSD_NAME round 2 under load: $q"
t_death=$(now)
if xl destroy mediator2 > /tmp/destroy-2.log 2>&1; then
    check round2-mediator-destroyed-under-load PASS "xl destroy mediator2 took $(since "$t_death") s; before it: $q"
else
    check round2-mediator-destroyed-under-load FAIL "$(tr '\n' ' ' < /tmp/destroy-2.log)"
fi
check_calls_fail 2 "$t_death" 0
check_released 2
new_mediator 2 mediator3 0

echo "passed=$passed failed=$failed" > /tmp/tsd-result
[ $failed -eq 0 ]
