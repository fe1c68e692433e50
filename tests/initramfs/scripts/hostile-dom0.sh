# dom0 of the hostile-mediator scenario (boot/scenarios/hostile-mediator.scn), no TEE client
# (tsd.tee=0): a canary page of dom0's for the hostile mediator to aim at. Starts the toolstack (for
# `xl dmesg`), runs `tsdtee canary` (a page with the hostile-mediator pattern, granted read-only to
# the mediator, domid $TSD_MEDIATOR, so that it learns the page's machine address), waits for the
# mediator's "attacks done" line on Xen's console and then has tsdtee look at the page a last
# time. One TSD-CHECK line: dom0-canary-unchanged PASS|FAIL.
# shellcheck shell=sh
. /tsd/scripts/toolstack.sh

mediator=${TSD_MEDIATOR:-1}
wait_s=${TSD_WAIT:-600}
result() { echo "passed=$1 failed=$2" > /tmp/tsd-result; }

start_toolstack || { echo "TSD-CHECK $TSD_NAME dom0-canary-unchanged FAIL toolstack did not start"; result 0 1; exit 1; }
tsdtee canary "$mediator" /tmp/attacks-done "$wait_s" > /tmp/canary.log 2>&1 &
pid=$!
if ! wait_for /tmp/canary.log "canary granted" 30; then
    echo "TSD-CHECK $TSD_NAME dom0-canary-unchanged FAIL no grant: $(cat /tmp/canary.log)"
    result 0 1; exit 1
fi
echo "TSD-INFO $TSD_NAME $(head -1 /tmp/canary.log)"
start=$(now)
until xl dmesg 2>/dev/null | grep -q "TSD-INFO hostile attacks done"; do
    if [ "$(awk "BEGIN { print ($(now) - $start > $wait_s) }")" = 1 ]; then
        break
    fi
    kill -0 $pid 2>/dev/null || break
    sleep 1
done
touch /tmp/attacks-done
wait $pid
rc=$?
line=$(tail -1 /tmp/canary.log)
if [ $rc -eq 0 ]; then
    echo "TSD-CHECK $TSD_NAME dom0-canary-unchanged PASS after the mediator's attacks ($(since "$start") s): $line"
    result 1 0
    exit 0
fi
echo "TSD-CHECK $TSD_NAME dom0-canary-unchanged FAIL rc=$rc: $line"
result 0 1
exit 1
