# Sourced by dom0 test scripts: starts the Xen 4.17 toolstack (Debian bookworm's) in the initramfs.
# shellcheck shell=sh
export PATH=/usr/lib/xen-4.17/bin:$PATH
export XENSTORED_ROOTDIR=/run/xenstored

start_toolstack() {
    for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do
        insmod "/lib/modules/$m.ko" || { echo "TSD-INFO $TSD_NAME insmod $m failed"; return 1; }
    done
    mkdir -p /proc/xen && mount -t xenfs xenfs /proc/xen || return 1
    mkdir -p /run/xen /run/xenstored /run/lock /var/lib/xen /var/log/xen/console
    [ -e /var/run ] || ln -s /run /var/run
    [ -e /var/lock ] || ln -s /run/lock /var/lock
    oxenstored --pid-file=/run/xenstored.pid || { echo "TSD-INFO $TSD_NAME oxenstored failed"; return 1; }
    i=0
    until xenstore-read /local/domain/0/name >/dev/null 2>&1 || xenstore-ls / >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "TSD-INFO $TSD_NAME xenstored does not answer"; return 1; }
        sleep 0.1
    done
    xen-init-dom0 > /tmp/xen-init-dom0.log 2>&1 || { cat /tmp/xen-init-dom0.log; return 1; }
    xenconsoled --log=guest --log-dir=/var/log/xen/console || return 1
    echo "TSD-INFO $TSD_NAME toolstack up: $(xl info 2>/dev/null | grep -E '^xen_version' | tr -s ' ')"
}

# wait_for FILE PATTERN SECONDS: 0 once a line of FILE matches PATTERN, 1 on timeout.
wait_for() {
    n=0
    while [ $n -lt $(($3 * 5)) ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.2; n=$((n + 1))
    done
    return 1
}

# uptime in seconds with two decimals, and a difference of two of them.
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }
