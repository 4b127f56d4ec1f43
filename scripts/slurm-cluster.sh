#!/usr/bin/env bash
# A one-node SLURM cluster on 127.0.0.1, for running the workflow through profiles/slurm on
# one machine (tests/slurm, `make test-slurm`). Debian's slurm-wlm and munge, two fake GPUs
# (gres) so that `gpu` requests are scheduled and jobs get CUDA_VISIBLE_DEVICES.
#
# Usage: scripts/slurm-cluster.sh up|down|status      (as root, on Debian/Ubuntu with apt)
#   up      install the packages once, write the configuration, start the daemons, wait
#           for the node to be idle; a no-op when the cluster is already up
#   down    stop the daemons this script started (and only those); a no-op when none run
#   status  say whether the cluster is up; exit 0 when it is
# Everything the script writes lives in INFOCAM_SLURM_DIR (default /tmp/infocam-slurm):
# slurm.conf, gres.conf, fake GPU devices, spool, the daemons' logs, and `started` (the
# daemons this script started, one "name pid" per line). The one file outside it is the
# symlink /etc/slurm/slurm.conf -> $INFOCAM_SLURM_DIR/slurm.conf, made only where that path is
# free and removed by `down`: SLURM clients read that path, and the slurm executor's job step
# drops SLURM_CONF from the environment of the `srun` it runs inside each job.
set -euo pipefail

DIR=${INFOCAM_SLURM_DIR:-/tmp/infocam-slurm}
CONF=$DIR/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
STARTED=$DIR/started
PARTITION=${INFOCAM_SLURM_PARTITION:-debug}
NODE=$(hostname -s)

say() { echo "slurm-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    [[ $(id -u) == 0 ]] || die "installing slurm-wlm and munge needs root"
    command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and apt-get is missing"
    # policy-rc.d exiting 101 keeps the packages' init scripts from starting daemons.
    local made_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=yes
    fi
    say "installing slurm-wlm and munge with apt-get"
    if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
    return 0
}

write_config() {
    mkdir -p "$DIR"/{dev,log,run,spool/ctld,spool/d}
    chown -R slurm:slurm "$DIR"/spool/ctld "$DIR"/log "$DIR"/run
    local gpu
    for gpu in 0 1; do
        # Character devices with /dev/null's numbers: slurmd only needs them to exist.
        [[ -c $DIR/dev/gpu$gpu ]] || mknod "$DIR/dev/gpu$gpu" c 1 3
    done
    local cpus memory_mb
    cpus=$(nproc)
    memory_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$CONF.tmp" <<EOF
# Written by scripts/slurm-cluster.sh: a one-node cluster on 127.0.0.1 without accounting.
ClusterName=infocam
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
# Cores and GPUs are scheduled, memory is not: the profile's paper-sized requests (16 GB for
# training) would otherwise run this node's jobs one at a time.
SelectTypeParameters=CR_Core
# Finished jobs stay visible to squeue this long: Snakemake's status checks use squeue.
MinJobAge=300
KillWait=5
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb Gres=gpu:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    cat > "$DIR/gres.conf.tmp" <<EOF
AutoDetect=off
Name=gpu File=$DIR/dev/gpu[0-1]
EOF
    mv "$DIR/gres.conf.tmp" "$DIR/gres.conf"
}

link_system_config() {
    if [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
        [[ $(readlink "$SYSTEM_CONF") == "$CONF" ]] \
            || die "$SYSTEM_CONF exists and is not this script's; move it away to run the test cluster"
        return
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -s "$CONF" "$SYSTEM_CONF"
}

unlink_system_config() {
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$CONF" ]]; then
        rm -f "$SYSTEM_CONF"
    fi
}

# A PID of a daemon this script started, if it still runs: "name pid" lines in $STARTED.
started_pid() {
    local name=$1 pid
    [[ -f $STARTED ]] || return 1
    pid=$(awk -v n="$name" '$1 == n {print $2}' "$STARTED" | tail -n 1)
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] && echo "$pid"
}

record() { echo "$1 $2" >> "$STARTED"; }

wait_for_file() {
    local file=$1 tries
    for tries in $(seq 50); do
        [[ -s $file ]] && return 0
        sleep 0.2
    done
    die "$file did not appear"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # a munged is already serving (ours or the machine's)
    fi
    [[ -f /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create >/dev/null
    install -d -o munge -g munge -m 0755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged
    wait_for_file /run/munge/munged.pid
    record munged "$(cat /run/munge/munged.pid)"
    munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
}

start_daemon() {
    local name=$1 pid_file=$2
    if started_pid "$name" >/dev/null; then
        return
    fi
    rm -f "$pid_file"
    "$name" -f "$CONF" || die "$name did not start (see $DIR/log/$name.log)"
    wait_for_file "$pid_file"
    record "$name" "$(cat "$pid_file")"
}

wait_until_idle() {
    local tries state
    for tries in $(seq 60); do
        state=$(sinfo -h -o %T 2>/dev/null || true)
        [[ $state == idle ]] && return 0
        sleep 0.5
    done
    die "the node did not become idle (state: '${state:-none}'; see $DIR/log/)"
}

is_up() {
    started_pid slurmctld >/dev/null && started_pid slurmd >/dev/null \
        && [[ $(readlink "$SYSTEM_CONF") == "$CONF" ]] && [[ $(sinfo -h -o %T 2>/dev/null) =~ ^(idle|mixed|allocated)$ ]]
}

up() {
    if [[ -f $CONF ]] && is_up; then
        say "already up"
        return
    fi
    [[ $(id -u) == 0 ]] || die "bringing up the cluster needs root"
    install_packages
    write_config
    link_system_config
    start_munge
    start_daemon slurmctld "$DIR/run/slurmctld.pid"
    start_daemon slurmd "$DIR/run/slurmd.pid"
    wait_until_idle
    say "up: partition $PARTITION, node $NODE with gpu:2 ($SYSTEM_CONF -> $CONF)"
}

stop_pid() {
    local name=$1 pid=$2 tries
    kill "$pid" 2>/dev/null || return 0
    for tries in $(seq 50); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 0
        sleep 0.2
    done
    say "$name ($pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

down() {
    local name pid
    for name in slurmd slurmctld munged; do
        if pid=$(started_pid "$name"); then
            stop_pid "$name" "$pid"
            say "stopped $name ($pid)"
        fi
    done
    rm -f "$STARTED"
    unlink_system_config
}

status() {
    if [[ -f $CONF ]] && is_up; then
        echo "up ($SYSTEM_CONF -> $CONF)"
        sinfo
    else
        echo "down"
        return 1
    fi
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) die "usage: $0 up|down|status" ;;
esac
