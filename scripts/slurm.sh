#!/usr/bin/env bash
# A real single-node SLURM on loopback for tests and local runs (Debian 12).
#
#   bash scripts/slurm.sh start    # install (once) and start munge, slurmctld, slurmd; wait until idle
#   bash scripts/slurm.sh status   # sinfo
#   bash scripts/slurm.sh stop     # stop the daemons
#
# Idempotent: start on a running cluster only checks it. State, logs and the
# configuration live under $ARSC_SLURM_DIR (default /tmp/arsc-slurm). Needs
# root for apt and munge (CI and the dev machines run as root).
set -euo pipefail
DIR="${ARSC_SLURM_DIR:-/tmp/arsc-slurm}"
CONF="$DIR/slurm.conf"
PACKAGES=(slurmctld slurmd slurm-client munge)
log() { printf '[slurm] %s\n' "$*"; }

install_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

write_conf() {
  mkdir -p "$DIR"/{state,spool,log}
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  cat > "$CONF" <<CONF
ClusterName=arsc
SlurmctldHost=localhost(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmUser=root
ReturnToService=2
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
  if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
    chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge
    su -s /bin/sh munge -c /usr/sbin/munged
  fi
}

wait_idle() {
  for _ in $(seq 1 60); do
    if SLURM_CONF="$CONF" sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      log "node idle (SLURM_CONF=$CONF)"
      return 0
    fi
    sleep 0.5
  done
  log "node did not become idle; see $DIR/log"; SLURM_CONF="$CONF" sinfo || true
  return 1
}

case "${1:-start}" in
  start)
    install_packages
    [ -f "$CONF" ] || write_conf
    start_munge
    export SLURM_CONF="$CONF"
    pgrep -x slurmctld >/dev/null || slurmctld -f "$CONF"
    pgrep -x slurmd >/dev/null || slurmd -f "$CONF" -N localhost
    wait_idle
    SLURM_CONF="$CONF" scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
    ;;
  stop)
    pkill -x slurmd || true
    pkill -x slurmctld || true
    for _ in $(seq 1 40); do
      pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || break
      sleep 0.25
    done
    log "stopped"
    ;;
  status)
    SLURM_CONF="$CONF" sinfo
    ;;
  conf)
    echo "$CONF"
    ;;
  *)
    echo "usage: $0 start|stop|status|conf" >&2
    exit 2
    ;;
esac
