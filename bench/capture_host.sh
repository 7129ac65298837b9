#!/usr/bin/env bash
# Copies the host files gpubal reads into a tree under $1, so tests can replay them with --root.
# Read-only on the host: it only reads /proc, /sys, /etc and /dev listings.
set -u
dest=$1
copy() { for f in "$@"; do [ -e "$f" ] || continue; mkdir -p "$dest$(dirname "$f")"; cat "$f" > "$dest$f" 2>/dev/null; done; }
copy /proc/uptime /proc/sys/kernel/hostname /proc/sys/kernel/osrelease /etc/os-release /proc/cpuinfo /proc/modules \
     /proc/1/cgroup /proc/driver/nvidia/version /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name
for d in /sys/devices/system/node/node*; do copy "$d/cpulist"; done
for gpu in /proc/driver/nvidia/gpus/*; do
  bus=$(basename "$gpu"); copy "$gpu/information"
  for f in numa_node local_cpulist current_link_speed current_link_width max_link_speed max_link_width; do
    copy "/sys/bus/pci/devices/$bus/$f"
  done
done
[ -d /sys/module/nvidia_uvm ] && mkdir -p "$dest/sys/module/nvidia_uvm"
for dev in /dev/nvidia*; do [ -e "$dev" ] && mkdir -p "$dest/dev" && : > "$dest$dev"; done
for pid in $(ls /proc | grep -E '^[0-9]+$'); do
  comm=$(cat /proc/$pid/comm 2>/dev/null) || continue
  case "$comm" in nvidia-persiste|nv-fabricmanage|ollama) copy /proc/$pid/comm ;; esac
done
[ -e /.dockerenv ] && : > "$dest/.dockerenv"
exit 0
