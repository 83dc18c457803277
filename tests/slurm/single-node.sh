#!/usr/bin/env bash
# A real single-node Slurm on this machine (Debian 12, root, no systemd), for the sweep tests:
# Debian's slurmctld, slurmd and munge, started by hand (recipe: shared/reference/slurm-notes.md).
#
#   tests/slurm/single-node.sh start     # install if missing, configure, start, wait until the node is idle
#   tests/slurm/single-node.sh status    # exit 1 unless the node answers and is idle/mixed/allocated
#   tests/slurm/single-node.sh selftest  # start, then a checked 4-task array
#   tests/slurm/single-node.sh stop      # cancel jobs, stop the daemons
#
# Everything is on localhost/127.0.0.1 (the machine's host name does not matter). Jobs run as
# root; no cgroups, no accounting database (completions go to /var/log/slurm/jobcomp.log).
# SLURM_READY_TIMEOUT (default 60 s) bounds the wait for the node; SLURM_CPUS overrides the CPUs.
set -euo pipefail

conf=/etc/slurm/slurm.conf
log_dir=/var/log/slurm
timeout=${SLURM_READY_TIMEOUT:-60}

fail() {
    echo "ERROR: $*" >&2
    for f in "$log_dir/slurmctld.log" "$log_dir/slurmd.log" /var/log/munge/munged.log; do
        [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# Is a daemon of this name alive (its pid file checked against /proc, as /run is not a tmpfs here)?
alive() {
    local name=$1 pidfile=$2 pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]
}

install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null && return 0
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update's list lock is not covered by DPkg::Lock::Timeout: retry while another holds it.
    local tries=0
    until apt-get update -qq >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -ge 24 ] && fail "apt-get update kept failing (lock held or no network)"
        sleep 5
    done
    apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null || fail "apt-get install of slurm failed"
}

start_munge() {
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    if alive munged /run/munge/munged.pid; then return 0; fi
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    # Never --force: a second munged would take over the live one's socket.
    setsid runuser -u munge -- munged </dev/null >/dev/null 2>&1 || fail "munged did not start"
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "munge does not answer"
}

write_conf() {
    local node cpus new
    node=$(slurmd -C 2>/dev/null | head -n 1 | sed -e 's/^NodeName=[^ ]* //' -e 's/ UpTime=.*//')
    [ -n "$node" ] || fail "slurmd -C printed no node description"
    if [ -n "${SLURM_CPUS:-}" ]; then
        node=$(echo "$node" | sed -e "s/CPUs=[0-9]*/CPUs=$SLURM_CPUS/")
    fi
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$log_dir"
    new=$(cat <<EOF
# Written by tests/slurm/single-node.sh: one node on localhost, for psychrnn's tests.
ClusterName=psychrnn-ci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$log_dir/jobcomp.log
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MpiDefault=none
KillWait=10
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
    if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$new" ]; then
        echo "$new" >"$conf"
        # A changed configuration restarts the slurm daemons.
        stop_slurm_daemons
    fi
}

stop_slurm_daemons() {
    for d in slurmd:/run/slurmd.pid slurmctld:/run/slurmctld.pid; do
        local name=${d%%:*} pidfile=${d#*:}
        if alive "$name" "$pidfile"; then
            kill "$(cat "$pidfile")" 2>/dev/null || true
            for _ in $(seq 50); do alive "$name" "$pidfile" || break; sleep 0.1; done
        fi
        rm -f "$pidfile"
    done
}

node_ready() {
    local state
    state=$(sinfo -h -N -n localhost -o %t 2>/dev/null | head -n 1) || return 1
    case "$state" in idle | mix | alloc | comp) return 0 ;; *) return 1 ;; esac
}

start() {
    [ "$(id -u)" -eq 0 ] || fail "run as root (the daemons and jobs run as root here)"
    install
    start_munge
    write_conf
    if ! alive slurmctld /run/slurmctld.pid; then
        setsid slurmctld </dev/null >/dev/null 2>&1 || fail "slurmctld did not start"
    fi
    if ! alive slurmd /run/slurmd.pid; then
        setsid slurmd -N localhost </dev/null >/dev/null 2>&1 || fail "slurmd did not start"
    fi
    local waited=0
    until node_ready; do
        waited=$((waited + 1))
        [ "$waited" -ge $((timeout * 5)) ] && fail "the node did not become idle within ${timeout}s ($(sinfo -N 2>&1 | tail -n 1))"
        # A node left DOWN by an earlier stop comes back.
        [ $((waited % 25)) -eq 0 ] && scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
        sleep 0.2
    done
    echo "slurm ready: $(sinfo -h -o '%P %a %D %t %c CPUs' | head -n 1)"
}

status() {
    alive munged /run/munge/munged.pid && alive slurmctld /run/slurmctld.pid && alive slurmd /run/slurmd.pid \
        && node_ready
}

selftest() {
    start
    local dir jid
    dir=$(mktemp -d)
    jid=$(sbatch --parsable --array=0-3 -o "$dir/out-%A_%a.txt" --wrap 'echo $SLURM_ARRAY_TASK_ID')
    for _ in $(seq 600); do [ -z "$(squeue -h -j "$jid" -o %A 2>/dev/null)" ] && break; sleep 0.1; done
    for i in 0 1 2 3; do
        [ "$(cat "$dir/out-${jid}_$i.txt" 2>/dev/null)" = "$i" ] || fail "array task $i wrote nothing"
    done
    rm -rf "$dir"
    echo "slurm selftest: a 4-task array ran"
}

stop() {
    if alive slurmctld /run/slurmctld.pid; then scancel --full --quiet --user root 2>/dev/null || true; fi
    stop_slurm_daemons
    if alive munged /run/munge/munged.pid; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
    fi
}

case "${1:-start}" in
    start) start ;;
    status) status ;;
    selftest) selftest ;;
    stop) stop ;;
    restart) stop; start ;;
    *) echo "usage: $0 start|status|selftest|stop|restart" >&2; exit 2 ;;
esac
