# hoist setup probe: prints, in named sections, everything the setup module
# needs to build Ansible's facts. It only reads (files under /proc, /sys and
# /etc, and commands that look: uname, id, ip, stat -f, date …) and changes
# nothing on the host.
#
# $1: the fact collectors to run, space separated
# $2: fact_path (local facts)
# $3: gather_timeout in seconds
#
# Output: a section starts with "\n\036NAME\036\n" and runs to the next one.
#   F <path>   a readable regular file's content
#   X          paths that exist (one a line)
#   L          symlinks: "<path>\t<target>"
#   B          commands found: "<name>=<path>"
#   C <name>   a command's stdout; R <name> its exit status
#   others     as named below

W=" $1 "
FP=$2
TO=${3:-10}

S() { printf '\n\036%s\036\n' "$*"; }
has() { case $W in *" $1 "*) return 0 ;; esac; return 1; }
F() {
  for p in "$@"; do
    if [ -f "$p" ] && [ -r "$p" ]; then
      S "F $p"
      case $p in
        # Big, or holding NUL bytes: cat.
        /proc/cpuinfo | /proc/meminfo | /proc/modules | /proc/*/status | /proc/*/environ | /proc/*/cgroup)
          cat -- "$p" 2>/dev/null
          ;;
        *) R "$p" ;;
      esac
    fi
  done
}
# R FILE: a small text file's content as cat prints it, without a process
R() {
  l=
  while IFS= read -r l; do printf '%s\n' "$l"; done <"$1" 2>/dev/null
  if [ -n "$l" ]; then printf '%s' "$l"; fi
}
X() {
  S X
  for p in "$@"; do
    if [ -e "$p" ]; then echo "$p"; fi
  done
}
L() {
  S L
  for p in "$@"; do
    if [ -L "$p" ]; then printf '%s\t%s\n' "$p" "$(readlink -- "$p" 2>/dev/null)"; fi
  done
}
C() {
  n=$1
  shift
  S "C $n"
  "$@" </dev/null 2>/dev/null
  r=$?
  S "R $n"
  echo "$r"
}
B() {
  S B
  for c in "$@"; do
    p=$(command -v "$c" 2>/dev/null) && echo "$c=$p"
  done
}
found() { command -v "$1" >/dev/null 2>&1; }
# V DIR FILE…: "FILE=first line" for each readable, non-empty file
V() {
  vd=$1
  shift
  for f in "$@"; do
    v=
    if IFS= read -r v 2>/dev/null <"$vd/$f" || [ -n "$v" ]; then echo "$f=$v"; fi
  done
}
# names DIR: the names in a directory, sorted, as `ls` lists them (a glob:
# no process; the script runs with LC_ALL=C and globbing off)
names() {
  set +f
  for n in "$1"/*; do
    if [ -e "$n" ] || [ -L "$n" ]; then echo "${n##*/}"; fi
  done
  set -f
}
# H DIR: device-mapper holders of a block device, "holder=NAME\tDM_NAME"
H() {
  for h in $(names "$1/holders"); do
    v=
    case $h in dm-*) IFS= read -r v 2>/dev/null <"$1/holders/$h/dm/name" ;; esac
    printf 'holder=%s\t%s\n' "$h" "$v"
  done
}

# The environment as the shell got it, before anything below changes it.
if has env || has user || has chroot; then
  if [ -r "/proc/$$/environ" ]; then
    S env0
    cat "/proc/$$/environ" 2>/dev/null
  else
    S env
    env
  fi
fi

PATH=$PATH:/sbin:/usr/sbin:/usr/local/sbin:/bin:/usr/bin
LC_ALL=C
LANG=C
export PATH LC_ALL LANG
set -f
TMO=
if found timeout; then TMO="timeout $TO"; fi

S uname
k=/proc/sys/kernel
if [ -r $k/ostype ] && [ -r $k/osrelease ] && [ -r $k/version ] && [ -r $k/hostname ]; then
  # What uname -s, -r, -v and -n print, without four processes.
  for f in ostype osrelease version; do IFS= read -r v <$k/$f && echo "$v"; done
  uname -m
  IFS= read -r v <$k/hostname && echo "$v"
else
  uname -s
  uname -r
  uname -v
  uname -m
  uname -n
fi

if has platform; then
  S bits
  getconf LONG_BIT 2>/dev/null
  n=$(uname -n)
  S fqdn
  if found getent; then
    a=$(getent ahosts "$n" 2>/dev/null | { read -r x _ && echo "$x"; })
    if [ -n "$a" ]; then getent hosts "$a" 2>/dev/null | { read -r l && echo "$l"; }; fi
  fi
  F /var/lib/dbus/machine-id /etc/machine-id
fi

if has platform || has python; then
  py=
  for c in /usr/bin/python3 python3 /usr/libexec/platform-python python /usr/bin/python; do
    if p=$(command -v "$c" 2>/dev/null); then
      py=$p
      break
    fi
  done
  if [ -n "$py" ]; then
    C python "$py" -E -S -c '
import sys
v = sys.version_info
try:
    import _ssl
    s = 1
except Exception:
    s = 0
try:
    t = sys.implementation.name
except AttributeError:
    t = ""
sys.stdout.write("%s\n%d %d %d %s %d\n%s\n%d\n" % (sys.executable, v[0], v[1], v[2], v[3], v[4], t, s))
'
  fi
fi

if has distribution || has lsb; then
  if found lsb_release; then C lsb_release lsb_release -a; fi
fi

if has distribution; then
  set +f
  for f in /etc/*[-_]release /etc/*[-_]version; do F "$f"; done
  set -f
  F /etc/os-release /usr/lib/os-release /etc/lsb-release /etc/debian_version \
    /etc/altlinux-release /etc/oracle-release /etc/slackware-version \
    /etc/centos-release /etc/redhat-release /etc/vmware-release \
    /etc/openwrt_release /etc/system-release /etc/alpine-release \
    /etc/arch-release /etc/SuSE-release /etc/gentoo-release \
    /etc/sourcemage-release /etc/coreos/update.conf
  X /etc/vmware-release /etc/arch-release
  if [ -L /etc/products.d/baseproduct ]; then
    S baseproduct
    readlink -f /etc/products.d/baseproduct 2>/dev/null
  fi
fi

if has lsb; then F /etc/lsb-release; fi

if has selinux; then
  for d in /sys/fs/selinux /selinux; do
    if [ -e "$d/enforce" ]; then
      S selinux
      echo "$d"
      F "$d/enforce" "$d/policyvers"
      break
    fi
  done
  F /etc/selinux/config
fi

if has apparmor; then X /sys/kernel/security/apparmor; fi

if has chroot; then
  S chroot
  stat -c '%d %i' / 2>/dev/null || echo
  stat -c '%d %i' /proc/1/root/. 2>/dev/null || echo
  stat -f -c '%T' / 2>/dev/null || echo
fi

if has fips; then F /proc/sys/crypto/fips_enabled; fi

if has caps && found capsh; then C capsh capsh --print; fi

if has pkg_mgr; then
  X /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf-3 /usr/bin/dnf5 /usr/bin/apt-get \
    /usr/bin/zypper /usr/sbin/urpmi /usr/bin/pacman /bin/opkg /usr/pkg/bin/pkgin \
    /opt/local/bin/pkgin /opt/tools/bin/pkgin /opt/local/bin/port \
    /usr/local/bin/brew /opt/homebrew/bin/brew /sbin/apk /usr/sbin/pkg \
    /usr/sbin/swlist /usr/bin/emerge /usr/sbin/pkgadd /usr/bin/pkg \
    /usr/bin/xbps-install /usr/local/sbin/pkg /usr/bin/swupd /usr/sbin/sorcery \
    /usr/bin/installp /run/ostree-booted /usr/bin/dnf /usr/bin/microdnf /usr/bin/rpm
  S realpath
  for p in /usr/bin/dnf /usr/bin/microdnf; do
    if [ -e "$p" ]; then printf '%s\t%s\n' "$p" "$(readlink -f "$p" 2>/dev/null)"; fi
  done
  if [ -e /usr/bin/rpm ] && [ -e /usr/bin/apt-get ]; then
    C rpm_apt /usr/bin/rpm -q --whatprovides /usr/bin/apt-get
  fi
fi

if has service_mgr || has systemd; then
  if [ -r /proc/1/comm ]; then
    F /proc/1/comm
  else
    C ps1 sh -c 'ps -p 1 -o comm | tail -n 1'
  fi
  L /sbin/init
  X /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/ /etc/init/ /sbin/openrc \
    /etc/init.d/ /etc/dinit.d/
  B systemctl initctl
fi

if has systemd && found systemctl; then
  for c in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/; do
    if [ -e "$c" ]; then
      C systemctl systemctl --version
      break
    fi
  done
fi

if has cmdline; then F /proc/cmdline; fi

if has date_time; then
  S date
  date '+%s|%N|%Y|%m|%d|%H|%M|%S|%w|%W|%z|%Z|%A'
  y=$(date +%Y)
  date -d "$y-01-15 12:00" '+%z|%Z' 2>/dev/null || echo
  date -d "$y-07-15 12:00" '+%z|%Z' 2>/dev/null || echo
fi

if has loadavg; then F /proc/loadavg; fi

if has ssh_pub_keys; then
  for d in /etc/ssh /etc/openssh /etc; do
    for a in dsa rsa ecdsa ed25519; do F "$d/ssh_host_${a}_key.pub"; done
  done
fi

if has user; then
  S user
  id -u
  id -ru
  id -g
  id -rg
  u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-}}}}
  if [ -z "$u" ]; then u=$(id -un 2>/dev/null); fi
  echo "$u"
  pw=
  if found getent; then
    pw=$(getent passwd "$u" 2>/dev/null) || pw=$(getent passwd "$(id -u)" 2>/dev/null)
  fi
  if [ -z "$pw" ] && [ -r /etc/passwd ]; then
    uid=$(id -u)
    while IFS= read -r l; do
      case $l in "$u":*) pw=$l; break ;; esac
    done </etc/passwd
    if [ -z "$pw" ]; then
      while IFS=: read -r a b c rest; do
        if [ "$c" = "$uid" ]; then pw="$a:$b:$c:$rest"; break; fi
      done </etc/passwd
    fi
  fi
  echo "$pw"
fi

if has virtual || has hardware; then
  F /proc/cpuinfo
  D=/sys/devices/virtual/dmi/id
  F $D/product_name $D/sys_vendor $D/product_family $D/bios_vendor
fi

if has virtual; then
  F /proc/1/cgroup /proc/1/environ /run/systemd/container /proc/xen/capabilities \
    /proc/self/status /proc/modules
  X /proc/vz /proc/lve /proc/bc /.dockerenv /.dockerinit /proc/xen /rhev/ /dev/kvm \
    /proc/modules
  if [ -d /rhev/ ]; then
    S vdsm
    set +f
    cat /proc/[0-9]*/comm 2>/dev/null | grep -x -e vdsm -e vdsmd | head -n 1
    set -f
  fi
  if found dmidecode; then C dmidecode dmidecode -s system-product-name; fi
  if found lscpu && grep -q 'IBM/S390' /proc/cpuinfo 2>/dev/null; then C lscpu lscpu; fi
fi

if has hardware; then
  F /sys/hypervisor/type /proc/meminfo /proc/uptime /proc/sysinfo
  X /proc/xen /proc/meminfo /proc/cpuinfo $D/product_name /proc/sysinfo
  S nproc
  nproc 2>/dev/null
  D=/sys/devices/virtual/dmi/id
  if [ -e $D/product_name ]; then
    F $D/bios_date $D/bios_version $D/board_asset_tag $D/board_name \
      $D/board_serial $D/board_vendor $D/board_version $D/chassis_asset_tag \
      $D/chassis_serial $D/chassis_vendor $D/chassis_version $D/chassis_type \
      $D/product_serial $D/product_uuid $D/product_version
  elif found dmidecode; then
    for k in bios-release-date bios-vendor bios-version baseboard-asset-tag \
      baseboard-product-name baseboard-serial-number baseboard-manufacturer \
      baseboard-version chassis-asset-tag chassis-serial-number \
      chassis-manufacturer chassis-version chassis-type system-product-name \
      system-serial-number system-uuid system-version system-manufacturer; do
      C "dmi $k" dmidecode -s "$k"
    done
  fi
  if found vgs && [ "$(id -u)" = 0 ]; then
    o="--noheadings --nosuffix --units g --separator ,"
    C vgs vgs $o
    if found lvs; then C lvs lvs $o; fi
    if found pvs; then C pvs pvs $o; fi
  fi
  # devices
  if [ -d /sys/block ]; then
    S blocks
    bl=$(ls -U /sys/block 2>/dev/null || ls /sys/block 2>/dev/null)
    echo "$bl"
    for b in $bl; do
      s=/sys/block/$b
      S "block $b"
      if l=$(readlink "$s" 2>/dev/null); then echo "link=$l"; fi
      V "$s" device/vendor device/model device/sas_address device/sas_device_handle \
        device/serial removable queue/discard_max_hw_bytes queue/discard_granularity \
        queue/rotational queue/scheduler queue/logical_block_size queue/hw_sector_size size
      en=$(names "$s")
      echo "entries=$(echo $en)"
      H "$s"
      for e in $en; do
        case $e in "$b"?*) ;; *) continue ;; esac
        S "part $b $e"
        V "$s/$e" start size queue/logical_block_size queue/hw_sector_size
        H "$s/$e"
      done
    done
    S masters
    for b in $bl; do
      for sl in $(names "/sys/block/$b/slaves"); do printf '%s\t%s\n' "$sl" "$b"; done
    done
    for t in id uuid label; do
      d=/dev/disk/by-$t
      if [ -d "$d" ]; then
        S "links $t"
        for l in $(ls -U "$d" 2>/dev/null || ls "$d" 2>/dev/null); do
          printf '%s\t%s\n' "$l" "$(readlink "$d/$l" 2>/dev/null)"
        done
      fi
    done
    if found lspci; then C lspci lspci -D; fi
  fi
  # mounts
  if found findmnt; then C findmnt findmnt --list --noheadings --notruncate; fi
  if found lsblk; then C lsblk lsblk --list --noheadings --paths --output NAME,UUID --exclude 2; fi
  mt=/etc/mtab
  [ -e $mt ] || mt=/proc/mounts
  if [ -r $mt ]; then
    S mtab
    cat $mt 2>/dev/null
    uv=
    if found udevadm; then uv=1; fi
    S statfs
    while read -r dev mnt fst rest; do
      case $dev in /* | \\* | *:/*) ;; *) continue ;; esac
      [ "$fst" = none ] && continue
      m=$(printf '%b' "$mnt")
      r=$($TMO stat -f -c '%S %s %b %a %f %c %d' -- "$m" 2>/dev/null)
      printf '%s\t%s\t%s\n' "$mnt" "$?" "$r"
      if [ -n "$uv" ]; then
        u=$(udevadm info --query property --name "$dev" 2>/dev/null | sed -n 's/^ID_FS_UUID=//p')
        printf 'uuid\t%s\t%s\n' "$dev" "$u"
      fi
    done <$mt
  fi
fi

if has dns; then F /etc/resolv.conf; fi
if has fibre_channel_wwn; then
  set +f
  for f in /sys/class/fc_host/*/port_name; do F "$f"; done
  set -f
fi
if has iscsi; then F /etc/iscsi/initiatorname.iscsi; fi
if has nvme; then F /etc/nvme/hostnqn; fi

if has network && found ip; then
  S ip
  command -v ip
  C route4 ip -4 route get 8.8.8.8
  C route6 ip -6 route get 2404:6800:400a:800::1012
  et=
  if found ethtool; then et=1; fi
  S ifaces
  ls -U /sys/class/net 2>/dev/null || ls /sys/class/net
  for d in $(ls -U /sys/class/net 2>/dev/null || ls /sys/class/net); do
    p=/sys/class/net/$d
    [ -d "$p" ] || continue
    S "if $d"
    V "$p" address mtu operstate type speed flags bridge/bridge_id bridge/stp_state \
      bonding/slaves bonding/mode bonding/miimon bonding/lacp_rate bonding/primary \
      bonding/all_slaves_active bonding_slave/perm_hwaddr
    for a in address mtu operstate type speed flags bridge bonding bonding_slave device \
      bridge/bridge_id bridge/stp_state bonding/all_slaves_active; do
      if [ -e "$p/$a" ]; then echo "$a?"; fi
    done
    if [ -e "$p/device/driver/module" ]; then
      echo "module>$(readlink -f "$p/device/driver/module" 2>/dev/null)"
    fi
    if [ -e "$p/device" ]; then echo "device>$(readlink "$p/device" 2>/dev/null)"; fi
    if [ -e "$p/bridge" ]; then echo "brif>$(ls "$p/brif" 2>/dev/null | tr '\n' ' ')"; fi
    C "addrp $d" ip addr show primary dev "$d"
    # busybox ip has no "primary"
    if [ "$r" != 0 ]; then C "addra $d" ip addr show dev "$d"; fi
    C "addrs $d" ip addr show secondary dev "$d"
    if [ -n "$et" ]; then
      C "ethk $d" ethtool -k "$d"
      C "etht $d" ethtool -T "$d"
    fi
  done
  C local4 ip -4 route show table local
  C local6 ip -6 route show table local
fi

if has local && [ -n "$FP" ] && [ -e "$FP" ]; then
  set +f
  for f in "$FP"/*.fact; do
    [ -e "$f" ] || continue
    m=$(stat -L -c '%a' -- "$f" 2>/dev/null) || m=
    if [ -z "$m" ]; then
      S "lfx $f"
    elif [ $(((0$m >> 6) & 1)) = 1 ]; then
      S "lfo $f"
      e=$(
        $TMO "$f" </dev/null 2>&1 1>&3
        r=$?
        echo .
        exit $r
      )
      r=$?
      e=${e%.}
      S "lfr $f"
      echo "$r"
      S "lfe $f"
      printf '%s' "$e"
    else
      S "lff $f"
      cat -- "$f" 2>/dev/null
    fi
  done 3>&1
  set -f
fi

S end
