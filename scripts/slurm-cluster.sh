#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for testing `ser sweep --executor slurm` against a
# real scheduler (Debian's slurmctld + slurmd + munge, no systemd, no cgroups). The measured facts
# and pitfalls behind every line: ../shared/notes/slurm-single-node.md.
#
#   scripts/slurm-cluster.sh up DIR     install (apt) if needed, write DIR/slurm.conf, start the
#                                       daemons, wait for the node to be idle
#   scripts/slurm-cluster.sh down DIR   cancel every job, wait for the queue to empty, stop the
#                                       daemons this script started (by their pid files in DIR,
#                                       never by name)
#
# Everything the cluster keeps (state, spool, logs, pid files) is under DIR. Needs root (apt,
# munge's run directory, daemons as root), as in CI.
set -euo pipefail
cmd=${1:?usage: slurm-cluster.sh up|down DIR}
dir=${2:?usage: slurm-cluster.sh up|down DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

pid_of() { [ -s "$dir/run/$1.pid" ] && cat "$dir/run/$1.pid"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }

up() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            slurmctld slurmd slurm-client munge >/dev/null
    fi
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
    # Pitfall 2 and 3: munge's run directory, and munged run as the munge user.
    install -d -o munge -g munge /run/munge
    [ -s /etc/munge/munge.key ] || mungekey --create
    if ! pgrep -u munge -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/ser-munged.pid
        cp /run/munge/ser-munged.pid "$dir/run/munged.pid"
    fi
    munge -n | unmunge >/dev/null
    # Pitfall 6: the node line from slurmd -C, memory a little under what it reports.
    local node cpus boards sockets cores threads mem host
    read -r node cpus boards sockets cores threads mem < <(slurmd -C | head -1 | tr ' ' '\n' \
        | awk -F= '{v[$1] = $2} END {print v["NodeName"], v["CPUs"], v["Boards"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"]}')
    mem=$((mem * 95 / 100))
    host=$(hostname -s)
    cat >"$conf" <<EOF
ClusterName=ser-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
EnforcePartLimits=ALL
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=300
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=$boards SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    # Pitfall 1: no systemd; the daemons are started by hand and daemonise themselves. Pitfall 9:
    # they would inherit our nice level.
    alive slurmctld || nice -n 0 slurmctld -f "$conf"
    alive slurmd || nice -n 0 slurmd -f "$conf"
    for _ in $(seq 1 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
            echo "slurm up: node $node ($cpus CPUs), config $conf"
            return 0
        fi
        sleep 0.5
    done
    echo "slurm did not come up; logs in $dir/log" >&2
    return 1
}

down() {
    # Pitfall 8: stopping slurmd leaves job processes behind: cancel, wait, then stop.
    if alive slurmctld; then
        scancel --full --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 1 60); do
            [ -z "$(squeue -h 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    local d p
    for d in slurmd slurmctld munged; do
        if alive "$d"; then
            p=$(pid_of "$d")
            kill "$p"
            for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
        fi
        rm -f "$dir/run/$d.pid"
    done
    echo "slurm down"
}

case $cmd in
    up) up ;;
    down) down ;;
    *) echo "usage: slurm-cluster.sh up|down DIR" >&2; exit 2 ;;
esac
