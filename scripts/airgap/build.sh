#!/usr/bin/env bash
# Build, with no registry and no internet (only the Go module proxy and Debian's apt repos),
# everything a real kind cluster needs here:
#   kindest/node:v1.34.4-airgap   kind node image (Kubernetes v1.34.4 from source, control-plane
#                                 images and the seclab net agent pre-imported into containerd)
#   seclab/net-agent:v1           the NetworkPolicy/CNI agent (./cmd/seclab-net)
#   nginx:1.27, busybox:1.36      lab workload images from Debian packages (busybox also as
#                                 registry.seclab.local/busybox:1.36, a tag of the same image)
#   seclab/probe:v1               seclab's probe pods (curl)
# Versions and image names: assets/versions.env.
# Idempotent and cached under ${SECLAB_CACHE:-/var/cache/seclab}: each step is skipped when the
# content hash of its inputs (its own code, versions, sources, the steps it builds on) is unchanged.
# Usage: scripts/airgap/build.sh
#   SECLAB_FORCE=1             rebuild every step, whatever the stamps say
#   SECLAB_CNI_MANIFEST=FILE   use FILE instead of assets/cni/default-cni.yaml (debugging)
# Logs of each step: $SECLAB_CACHE/log/<step>.log. See docs/airgap.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$REPO_ROOT/assets/versions.env"   # K8S_VERSION, NODE_IMAGE and the image names
K8S_STAGING=v0.34.4          # its staging modules (k8s.io/api, …)
ETCD_VERSION=v3.6.5          # kubeadm v1.34.4's DefaultEtcdVersion 3.6.5-0
ETCD_TAG=3.6.5-0
COREDNS_VERSION=v1.12.1      # kubeadm v1.34.4's CoreDNSVersion
PAUSE_TAG=3.10.1             # kubeadm v1.34.4's PauseVersion
CNI_PLUGINS_VERSION=v1.9.1   # github.com/containernetworking/plugins
CRI_TOOLS_VERSION=v1.34.0    # sigs.k8s.io/cri-tools (crictl)
SUITE=bookworm
MIRROR=${SECLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

REG=registry.k8s.io
NODE_BASE_IMAGE=seclab/kind-node-base:$K8S_VERSION   # everything but the net agent and CNI manifest
CP_IMAGES=(
  "$REG/kube-apiserver:$K8S_VERSION" "$REG/kube-controller-manager:$K8S_VERSION"
  "$REG/kube-scheduler:$K8S_VERSION" "$REG/kube-proxy:$K8S_VERSION"
  "$REG/coredns/coredns:$COREDNS_VERSION" "$REG/pause:$PAUSE_TAG" "$REG/etcd:$ETCD_TAG"
)
# Debian packages of the node's root filesystem (apparmor: apparmor_parser, which loads the
# apparmor lab's profile on kernels that have AppArmor).
NODE_PACKAGES=(systemd systemd-sysv dbus containerd runc iptables nftables iproute2 conntrack ethtool
  socat util-linux mount kmod ca-certificates procps bash libseccomp2 pigz curl e2fsprogs
  openssl less iputils-ping apparmor)

OUT=$CACHE/out; STAMPS=$CACHE/stamps; LOGS=$CACHE/log
mkdir -p "$OUT" "$STAMPS" "$LOGS" "$CACHE/src" "$CACHE/bin"
export GOCACHE=$CACHE/gocache GOMODCACHE=$CACHE/gomod
export GOFLAGS=-modcacherw

# ---------------------------------------------------------------------------------------------
# step machinery
# ---------------------------------------------------------------------------------------------
# run_fn NAME FN: run a build function in a subshell with errexit, output to $LOGS/NAME.log.
# On failure: name the step, show the log's tail and stop the build (with OPTIONAL=1: warn and
# set STEP_OK=0). Never call it (or the *_step functions) in a condition (`if`, `||`): bash
# would switch errexit off inside FN.
run_fn() {
  local name=$1 fn=$2 log=$LOGS/$1.log rc=0 t0=$SECONDS
  set +e
  ( set -e; "$fn" ) >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "ERROR: step '$name' failed (exit $rc); last lines of $log:" >&2
    tail -n 25 "$log" >&2 || true
    [ "${OPTIONAL:-0}" = 1 ] && { warn "optional step '$name' skipped"; STEP_OK=0; return 0; }
    echo "ERROR: build failed in step '$name' (full log: $log)" >&2
    exit "$rc"
  fi
  STEP_OK=1
  say "    $name done in $((SECONDS - t0)) s"
}

# hash_of FN [INPUT...]: content hash of a build function's own code and its other inputs.
# The checkout's own path is left out, so every clone (CI's are fresh) shares the cache.
hash_of() { { declare -f "$1"; shift; printf '%s\n' "$@"; } | sed "s|$REPO_ROOT|@repo|g" | sha256sum | cut -c1-16; }
# tree_hash PATH...: content hash of files (names and bytes), for sources outside this script.
tree_hash() {
  local p
  for p in "$@"; do [ -e "$p" ] && find "$p" -type f -print0; done | sort -z |
    xargs -0 -r sha256sum | sed "s|$REPO_ROOT|@repo|g" | sha256sum | cut -c1-16
}

# file_step NAME "what" FN [INPUT...]: FN builds into $DEST (= $OUT/NAME, emptied first).
file_step() {
  local name=$1 what=$2 fn=$3; shift 3
  local h; h=$(hash_of "$fn" "$@")
  DEST=$OUT/$name
  if [ -z "${SECLAB_FORCE:-}" ] && [ "$(cat "$STAMPS/$name" 2>/dev/null)" = "$h" ] && [ -d "$DEST" ]; then
    say "$what (cached)"; return 0
  fi
  say "$what"
  rm -f "$STAMPS/$name"; rm -rf "$DEST"; mkdir -p "$DEST"
  run_fn "$name" "$fn"
  if [ "$STEP_OK" = 1 ]; then echo "$h" > "$STAMPS/$name"; else rm -rf "$DEST"; fi
}

# image_step IMAGE NAME "what" FN [INPUT...]: FN creates docker image IMAGE carrying label
# seclab.airgap.hash=$HASH (use "${LABEL[@]}" with docker import/commit).
image_step() {
  local image=$1 name=$2 what=$3 fn=$4; shift 4
  HASH=$(hash_of "$fn" "$@")
  LABEL=(--change "LABEL seclab.airgap.hash=$HASH")
  if [ -z "${SECLAB_FORCE:-}" ] &&
     [ "$(docker image inspect -f '{{index .Config.Labels "seclab.airgap.hash"}}' "$image" 2>/dev/null)" = "$HASH" ]; then
    echo "$HASH" > "$STAMPS/$name"
    say "$what (cached)"; return 0
  fi
  say "$what"
  rm -f "$STAMPS/$name"
  run_fn "$name" "$fn"
  [ "$STEP_OK" = 0 ] || echo "$HASH" > "$STAMPS/$name"
}
stamp() { cat "$STAMPS/$1" 2>/dev/null || echo none; }

# scratch_module DIR NAME REQUIRE... : a throwaway Go module (never the repo's go.mod) whose
# tools.go imports the given packages so `go mod tidy` keeps their modules.
scratch_module() {
  local dir=$1 name=$2; shift 2
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'module %s\n\ngo 1.25\n' "$name" > "$dir/go.mod"
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'; printf '\t_ "%s"\n' "$@"; printf ')\n'; } > "$dir/tools.go"
}
gobuild() { GOTOOLCHAIN=local CGO_ENABLED=0 nice -n 10 go build -trimpath "$@"; }

# ---------------------------------------------------------------------------------------------
# Go binaries
# ---------------------------------------------------------------------------------------------
K8S_CMDS=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
build_k8s() {
  local w=$CACHE/src/k8s d
  d=$(GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)
  scratch_module "$w" seclab-airgap-k8s $(printf 'k8s.io/kubernetes/cmd/%s\n' "${K8S_CMDS[@]}")
  cd "$w"
  # staging modules: the module's go.mod replaces them with ./staging/...; use the published ones.
  { echo "require k8s.io/kubernetes $K8S_VERSION"; echo "replace ("
    sed -n '/=> .\/staging/p' "$d/go.mod" | awk -v v="$K8S_STAGING" '{print "\t" $1 " => " $1 " " v}'
    echo ")"; } >> go.mod
  GOTOOLCHAIN=local go mod tidy
  local v=$K8S_VERSION minor; minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w" p
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.gitCommit=seclab-airgap -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  gobuild -tags notest -ldflags "$ld" -o "$DEST/" $(printf 'k8s.io/kubernetes/cmd/%s\n' "${K8S_CMDS[@]}")
  "$DEST/kubeadm" version -o short | grep -qx "$K8S_VERSION"
}

build_etcd() {
  local w=$CACHE/src/etcd
  scratch_module "$w" seclab-airgap-etcd go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  cd "$w"
  GOTOOLCHAIN=local go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" \
    "go.etcd.io/etcd/etcdutl/v3@$ETCD_VERSION"
  GOTOOLCHAIN=local go mod tidy
  gobuild -ldflags "-s -w" -o "$DEST/etcd" go.etcd.io/etcd/server/v3
  gobuild -ldflags "-s -w" -o "$DEST/etcdctl" go.etcd.io/etcd/etcdctl/v3
  gobuild -ldflags "-s -w" -o "$DEST/etcdutl" go.etcd.io/etcd/etcdutl/v3
  "$DEST/etcd" --version | grep -q "${ETCD_VERSION#v}"
}

# CoreDNS with the plugins a kubeadm cluster and the labs use, in CoreDNS's own order
# (core/dnsserver/zdirectives.go); leaving out the cloud ones (azure, route53, clouddns), etcd,
# dnstap, geoip and trace halves the build. `prometheus` is the plugin/metrics package.
COREDNS_PLUGINS=(root metadata cancel tls timeouts multisocket reload nsid bufsize bind debug ready
  health pprof prometheus errors log local dns64 acl any chaos loadbalance tsig cache rewrite header
  dnssec autopath minimal template transfer hosts k8s_external kubernetes file auto secondary loop
  forward grpc erratic whoami on sign view)
build_coredns() {
  local w=$CACHE/src/coredns p c=github.com/coredns/coredns
  rm -rf "$w"; mkdir -p "$w"; cd "$w"
  printf 'module seclab-airgap-coredns\n\ngo 1.25\n' > go.mod
  { printf 'package main\n\nimport (\n\t"%s/core/dnsserver"\n\t"%s/coremain"\n' $c $c
    for p in "${COREDNS_PLUGINS[@]}"; do
      case $p in
        prometheus) printf '\t_ "%s/plugin/metrics"\n' $c ;;
        on) printf '\t_ "github.com/coredns/caddy/onevent"\n' ;;
        *) printf '\t_ "%s/plugin/%s"\n' $c "$p" ;;
      esac
    done
    printf ')\n\nfunc init() {\n\tdnsserver.Directives = []string{\n'
    printf '\t\t"%s",\n' "${COREDNS_PLUGINS[@]}"
    printf '\t}\n}\n\nfunc main() { coremain.Run() }\n'; } > main.go
  GOTOOLCHAIN=local go get "$c@$COREDNS_VERSION"
  GOTOOLCHAIN=local go mod tidy
  gobuild -ldflags "-s -w" -o "$DEST/coredns" .
  "$DEST/coredns" -version
  "$DEST/coredns" -plugins | grep -qx kubernetes
}

CNI_PLUGINS=(main/bridge main/ptp main/loopback ipam/host-local ipam/static meta/portmap
  meta/bandwidth meta/firewall meta/tuning)
build_cni() {
  local w=$CACHE/src/cni m=github.com/containernetworking/plugins
  scratch_module "$w" seclab-airgap-cni $(printf "$m/plugins/%s\n" "${CNI_PLUGINS[@]}")
  cd "$w"
  GOTOOLCHAIN=local go get "$m@$CNI_PLUGINS_VERSION"
  GOTOOLCHAIN=local go mod tidy
  gobuild -ldflags "-s -w -X $m/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    -o "$DEST/" $(printf "$m/plugins/%s\n" "${CNI_PLUGINS[@]}")
}

# crictl: the module proxy serves sigs.k8s.io/cri-tools, but the checksum database does not know
# it, so that one module is fetched without the sum.golang.org check (GONOSUMDB); its k8s.io
# requirements (release candidates the database does not know either) are replaced by the
# released $K8S_STAGING. Optional: on failure the node simply has no crictl.
build_crictl() {
  local w=$CACHE/src/crictl
  scratch_module "$w" seclab-airgap-crictl sigs.k8s.io/cri-tools/cmd/crictl
  cd "$w"
  export GONOSUMDB=sigs.k8s.io/cri-tools
  local rc m
  rc=$(GOTOOLCHAIN=local go mod download -json "sigs.k8s.io/cri-tools@$CRI_TOOLS_VERSION" | jq -r .GoMod)
  { echo "require sigs.k8s.io/cri-tools $CRI_TOOLS_VERSION"; echo "replace ("
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 ~ /-rc\./ {print $1}' "$rc"); do echo "	$m => $m $K8S_STAGING"; done
    echo ")"; } >> go.mod
  GOTOOLCHAIN=local go mod tidy
  gobuild -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    -o "$DEST/crictl" sigs.k8s.io/cri-tools/cmd/crictl
}

build_pause() {
  gcc -static -Os -Wall -o "$DEST/pause" "$AIRGAP_DIR/pause.c"
  strip "$DEST/pause"
}

AGENT_SOURCES=("$REPO_ROOT/cmd/seclab-net" "$REPO_ROOT/internal/netagent" "$REPO_ROOT/go.mod" "$REPO_ROOT/go.sum")
build_netagent() {
  cd "$REPO_ROOT"
  CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w" -o "$DEST/seclab-net" ./cmd/seclab-net
}

# ---------------------------------------------------------------------------------------------
# Debian root filesystems (debootstrap; .debs cached in $CACHE/debs)
# ---------------------------------------------------------------------------------------------
# in_chroot DIR CMD...: run a command in a root filesystem with /proc mounted, no service starts.
in_chroot() {
  local r=$1; shift
  mkdir -p "$r/proc"
  mount -t proc proc "$r/proc"
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  local rc=0
  DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$r" "$@" || rc=$?
  rm -f "$r/usr/sbin/policy-rc.d"
  umount "$r/proc"
  return "$rc"
}
# debootstrap_to DIR [PKG...]: a minbase bookworm that keeps no docs, man pages or locales.
debootstrap_to() {
  local r=$1; shift
  rm -rf "$r"; mkdir -p "$r" "$CACHE/debs"
  local inc=(); [ $# -gt 0 ] && inc=(--include="$(IFS=,; echo "$*")")
  nice -n 10 debootstrap --variant=minbase --cache-dir="$CACHE/debs" "${inc[@]}" "$SUITE" "$r" "$MIRROR"
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
    'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
    'path-exclude=/usr/share/lintian/*' > "$r/etc/dpkg/dpkg.cfg.d/01-seclab-nodoc"
  slim_rootfs "$r"
}
slim_rootfs() {
  local r=$1
  find "$r/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian \
    "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/debconf/*-old \
    "$r"/var/lib/dpkg/*-old "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/tmp/* "$r"/root/.bash_history
  : > "$r/etc/resolv.conf"; : > "$r/etc/hostname"
}
tar_rootfs() { tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' -cf "$2" .; }

build_rootfs_node() {
  local r=$CACHE/tmp/rootfs-node
  debootstrap_to "$r" "${NODE_PACKAGES[@]}"
  rm -rf "$r"/var/lib/apt/lists/*
  tar_rootfs "$r" "$DEST/rootfs.tar"
  rm -rf "$r"
}
# The base of the small images: minbase with fresh apt lists (later steps install into a copy).
build_rootfs_base() {
  local r=$CACHE/tmp/rootfs-base
  debootstrap_to "$r"
  echo "deb $MIRROR $SUITE main" > "$r/etc/apt/sources.list"
  tar_rootfs "$r" "$DEST/rootfs.tar"
  rm -rf "$r"
}

# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------
# import_tree DIR IMAGE [docker-import --change args...]
import_tree() {
  local dir=$1 image=$2; shift 2
  tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -c . | docker import "${LABEL[@]}" "$@" - "$image"
}
# minimal_tree DIR: the bits every scratch image gets (users, /tmp).
minimal_tree() {
  local r=$1
  mkdir -p "$r/etc" "$r/tmp" "$r/usr/local/bin" "$r/var/run"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  printf 'hosts: files dns\n' > "$r/etc/nsswitch.conf"
}
ENV_PATH='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# Scratch images of static binaries: SI_FILES="src:dst ..." and SI_ENTRY (JSON array).
build_scratch_image() {
  local r=$CACHE/tmp/img-$$ f
  rm -rf "$r"; minimal_tree "$r"
  for f in $SI_FILES; do install -D -m 0755 "${f%%:*}" "$r${f#*:}"; done
  import_tree "$r" "$SI_IMAGE" --change "$ENV_PATH" --change "ENTRYPOINT $SI_ENTRY"
  rm -rf "$r"
}
scratch_image() { # IMAGE "src:dst ..." ENTRYPOINT-JSON
  SI_IMAGE=$1 SI_FILES=$2 SI_ENTRY=$3
  local f inputs=()
  for f in $SI_FILES; do inputs+=("$f $(sha256sum < "${f%%:*}")"); done
  image_step "$1" "image-$(basename "${1%%:*}")" "building image $1" build_scratch_image \
    "$SI_ENTRY" "$(declare -f minimal_tree import_tree)" "${inputs[@]}"
}

# Debian-based images: the base rootfs + DI_PKGS, DI_FILES ("src:dst ..."), DI_SETUP (shell run
# in the chroot), DI_CHANGES (docker import --change values, newline separated), DI_SUBDIR (import
# only that directory of the result, for images assembled inside the chroot).
build_debian_image() {
  local r=$CACHE/tmp/img-$$ f
  rm -rf "$r"; mkdir -p "$r"
  tar -C "$r" --numeric-owner -xf "$OUT/rootfs-base/rootfs.tar"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  if [ -n "$DI_PKGS" ]; then
    in_chroot "$r" apt-get update -qq
    in_chroot "$r" apt-get install -y -qq --no-install-recommends $DI_PKGS
  fi
  for f in $DI_FILES; do install -D -m 0755 "${f%%:*}" "$r${f#*:}"; done
  [ -z "$DI_SETUP" ] || in_chroot "$r" /bin/sh -euc "$DI_SETUP"
  in_chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/*
  slim_rootfs "$r"
  local changes=() c
  while IFS= read -r c; do [ -n "$c" ] && changes+=(--change "$c"); done <<<"$DI_CHANGES"
  import_tree "$r${DI_SUBDIR}" "$DI_IMAGE" --change "$ENV_PATH" "${changes[@]}"
  rm -rf "$r"
}
debian_image() { # IMAGE PKGS FILES SETUP CHANGES [SUBDIR]
  DI_IMAGE=$1 DI_PKGS=$2 DI_FILES=$3 DI_SETUP=$4 DI_CHANGES=$5 DI_SUBDIR=${6:-}
  local f inputs=()
  for f in $DI_FILES; do inputs+=("$f $(sha256sum < "${f%%:*}")"); done
  image_step "$1" "image-$(basename "${1%%:*}")" "building image $1" build_debian_image \
    "$DI_PKGS" "$DI_SETUP" "$DI_CHANGES" "$DI_SUBDIR" "$(stamp rootfs-base)" \
    "$(declare -f in_chroot slim_rootfs import_tree)" "${inputs[@]}"
}

lab_images() {
  debian_image "$PROBE_IMAGE" "curl" "" "" 'CMD ["sleep", "infinity"]'
  debian_image "$NGINX_IMAGE" "nginx-light curl" "" '
    ln -sf /dev/stdout /var/log/nginx/access.log
    ln -sf /dev/stderr /var/log/nginx/error.log' '
EXPOSE 80
CMD ["nginx", "-g", "daemon off;"]'
  # busybox: the static binary and its applet links only, like the upstream image
  debian_image "$BUSYBOX_IMAGE" "busybox-static" "$AIRGAP_DIR/busybox-wget:/bb/bin/wget.seclab" '
    mkdir -p /bb/bin /bb/etc /bb/tmp /bb/root /bb/var/spool/cron/crontabs /bb/home
    chmod 1777 /bb/tmp
    cp /bin/busybox /bb/bin/busybox
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox /bb/bin/$a; done
    mv -f /bb/bin/wget.seclab /bb/bin/wget
    printf "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n" > /bb/etc/passwd
    printf "root:x:0:\nnogroup:x:65534:\n" > /bb/etc/group
    printf "hosts: files dns\n" > /bb/etc/nsswitch.conf' 'CMD ["sh"]' /bb
  docker tag "$BUSYBOX_IMAGE" "$TRUSTED_BUSYBOX_IMAGE"
}
control_plane_images() {
  local k=$OUT/k8s b
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    scratch_image "$REG/$b:$K8S_VERSION" "$k/$b:/usr/local/bin/$b" "[\"/usr/local/bin/$b\"]"
  done
  scratch_image "$REG/etcd:$ETCD_TAG" \
    "$OUT/etcd/etcd:/usr/local/bin/etcd $OUT/etcd/etcdctl:/usr/local/bin/etcdctl $OUT/etcd/etcdutl:/usr/local/bin/etcdutl" \
    '["/usr/local/bin/etcd"]'
  scratch_image "$REG/coredns/coredns:$COREDNS_VERSION" "$OUT/coredns/coredns:/coredns" '["/coredns"]'
  scratch_image "$REG/pause:$PAUSE_TAG" "$OUT/pause/pause:/pause" '["/pause"]'
  # kube-proxy (iptables or nftables mode) execs iptables*, ip6tables*, nft and conntrack
  debian_image "$REG/kube-proxy:$K8S_VERSION" "iptables nftables conntrack ipset kmod" \
    "$k/kube-proxy:/usr/local/bin/kube-proxy" '
    update-alternatives --set iptables /usr/sbin/iptables-nft
    update-alternatives --set ip6tables /usr/sbin/ip6tables-nft' 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]'
}

agent_image() {
  debian_image "$AGENT_IMAGE" "nftables iproute2" "$OUT/netagent/seclab-net:/usr/local/bin/seclab-net" "" \
    'ENTRYPOINT ["/usr/local/bin/seclab-net"]'
}

# ---------------------------------------------------------------------------------------------
# the kind node image
# ---------------------------------------------------------------------------------------------
NODE_ROOTFS_IMAGE=seclab/kind-node-rootfs:$SUITE
build_node_rootfs_image() { docker import "${LABEL[@]}" "$OUT/rootfs-node/rootfs.tar" "$NODE_ROOTFS_IMAGE"; }

# build_container IMAGE: a privileged, sleeping container to assemble a node in (removed on exit).
build_container() {
  BUILD_CID=$(docker run -d --init --privileged --entrypoint sleep "$1" infinity)
  trap 'docker rm -f "$BUILD_CID" >/dev/null 2>&1 || true' EXIT
}
# import_into_node IMAGE...: `docker save` the images into the build container's containerd
# (k8s.io namespace, not unpacked: the CRI unpacks on first use), pinned against image GC.
import_into_node() {
  docker exec "$BUILD_CID" sh -c 'containerd >/tmp/containerd.log 2>&1 & echo $! >/tmp/containerd.pid'
  docker exec "$BUILD_CID" sh -c 'for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done; cat /tmp/containerd.log; exit 1'
  docker save "$@" | docker exec -i "$BUILD_CID" ctr -n k8s.io images import --all-platforms --no-unpack --digests -
  local i
  for i in "$@"; do
    docker exec "$BUILD_CID" ctr -n k8s.io images label "$i" io.cri-containerd.pinned=pinned >/dev/null
  done
  docker exec "$BUILD_CID" ctr -n k8s.io images ls
  docker exec "$BUILD_CID" sh -c 'pid=$(cat /tmp/containerd.pid); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    rm -rf /tmp/containerd.* /run/containerd /var/lib/containerd/tmpmounts/*'
}
# commit_node IMAGE: the build container becomes a node image. `docker commit --change` (Docker
# 20.10) cannot set STOPSIGNAL, so a metadata-only legacy build on top sets it and the label.
commit_node() {
  local tmp=seclab/kind-node-commit:tmp
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    --change 'ENV container=docker' --change "$ENV_PATH" "$BUILD_CID" "$tmp"
  local l labels=""
  for l in "${LABEL[@]}"; do [ "$l" = --change ] || labels+="$l"$'\n'; done
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n%s' "$tmp" "$labels" | DOCKER_BUILDKIT=0 docker build -q -t "$1" -
  docker rmi "$tmp" >/dev/null
}

build_node_base() {
  local o=$CACHE/tmp/node-overlay
  rm -rf "$o"; mkdir -p "$o/usr/bin" "$o/opt/cni/bin" "$o/usr/local/bin" "$o/etc/cni/net.d" \
    "$o/etc/kubernetes/manifests" "$o/kind/manifests"
  cp -a "$AIRGAP_DIR/node/." "$o/"
  install -m 0755 "$OUT/k8s/kubeadm" "$OUT/k8s/kubelet" "$OUT/k8s/kubectl" "$o/usr/bin/"
  install -m 0755 "$OUT"/cni/* "$o/opt/cni/bin/"
  [ ! -x "$OUT/crictl/crictl" ] || install -m 0755 "$OUT/crictl/crictl" "$o/usr/local/bin/"
  echo "$K8S_VERSION" > "$o/kind/version"
  build_container "$NODE_ROOTFS_IMAGE"
  tar -C "$o" --numeric-owner --owner=0 --group=0 -c . | docker cp - "$BUILD_CID:/"
  rm -rf "$o"
  docker exec "$BUILD_CID" bash -euc '
    # only what a node needs starts at boot
    rm -f /etc/systemd/system/getty.target.wants/* /etc/systemd/system/multi-user.target.wants/*
    systemctl enable containerd.service kubelet.service
    systemctl mask getty.target console-getty.service systemd-udevd.service systemd-modules-load.service \
      systemd-binfmt.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
      systemd-firstboot.service systemd-logind.service e2scrub_all.timer e2scrub_reap.service \
      apt-daily.timer apt-daily-upgrade.timer fstrim.timer
    systemctl set-default multi-user.target
    update-alternatives --set iptables /usr/sbin/iptables-nft
    update-alternatives --set ip6tables /usr/sbin/ip6tables-nft
    [ -e /sbin/init ] || ln -s /lib/systemd/systemd /sbin/init
    rm -f /etc/machine-id /var/lib/dbus/machine-id; touch /etc/machine-id'
  # the images must be exactly those kubeadm asks for, and containerd's sandbox image among them
  local want got pause
  want=$(printf '%s\n' "${CP_IMAGES[@]}" | sort)
  got=$(docker exec "$BUILD_CID" kubeadm config images list --kubernetes-version "$K8S_VERSION" | sort)
  [ "$want" = "$got" ] || { echo "kubeadm wants:"; echo "$got"; echo "we build:"; echo "$want"; exit 1; }
  pause=$(docker exec "$BUILD_CID" sh -c "sed -n 's/^ *sandbox_image = \"\(.*\)\"/\1/p' /etc/containerd/config.toml")
  grep -qx "$pause" <<<"$want" || { echo "containerd sandbox_image $pause is not built"; exit 1; }
  import_into_node "${CP_IMAGES[@]}"
  commit_node "$NODE_BASE_IMAGE"
}

# The cheap last layer: the net agent image and the default CNI manifest.
build_node() {
  build_container "$NODE_BASE_IMAGE"
  docker cp "$CNI_MANIFEST" "$BUILD_CID:/kind/manifests/default-cni.yaml"
  [ -z "$WITH_AGENT" ] || import_into_node "$AGENT_IMAGE"
  LABEL+=(--change "LABEL seclab.airgap.netagent=${WITH_AGENT:-0}")
  commit_node "$NODE_IMAGE"
}

# ---------------------------------------------------------------------------------------------
main_steps() {
  local gov; gov=$(go version)
  # the root filesystems (network and dpkg bound) build alongside the Go builds (CPU bound)
  (
    file_step rootfs-node "debootstrap $SUITE: node root filesystem" build_rootfs_node "${NODE_PACKAGES[*]}" "$MIRROR" \
      "$(declare -f debootstrap_to slim_rootfs tar_rootfs)"
    file_step rootfs-base "debootstrap $SUITE: minbase for the small images" build_rootfs_base "$MIRROR" \
      "$(declare -f debootstrap_to slim_rootfs tar_rootfs)"
  ) &
  local rootfs_pid=$!
  file_step k8s "building kubernetes $K8S_VERSION server binaries" build_k8s "$K8S_VERSION $K8S_STAGING" "${K8S_CMDS[*]}" "$gov"
  file_step etcd "building etcd $ETCD_VERSION (etcd, etcdctl, etcdutl)" build_etcd "$ETCD_VERSION" "$gov"
  file_step coredns "building coredns $COREDNS_VERSION" build_coredns "$COREDNS_VERSION" "${COREDNS_PLUGINS[*]}" "$gov"
  file_step cni "building CNI plugins $CNI_PLUGINS_VERSION" build_cni "$CNI_PLUGINS_VERSION" "${CNI_PLUGINS[*]}" "$gov"
  OPTIONAL=1 file_step crictl "building crictl $CRI_TOOLS_VERSION" build_crictl "$CRI_TOOLS_VERSION" "$gov"
  file_step pause "building pause" build_pause "$(tree_hash "$AIRGAP_DIR/pause.c")"
  wait "$rootfs_pid" || die "building the root filesystems failed (see above)"
  control_plane_images
  lab_images

  # the net agent and the CNI manifest come from the repo (another part of seclab)
  CNI_MANIFEST=${SECLAB_CNI_MANIFEST:-$REPO_ROOT/assets/cni/default-cni.yaml} WITH_AGENT=
  if [ -d "$REPO_ROOT/cmd/seclab-net" ]; then
    file_step netagent "building the seclab-net agent (./cmd/seclab-net)" build_netagent "$(tree_hash "${AGENT_SOURCES[@]}")" "$gov"
    agent_image
    WITH_AGENT=1
  else
    warn "no ./cmd/seclab-net in $REPO_ROOT: the node image gets no net agent image"
  fi
  [ -f "$CNI_MANIFEST" ] || die "no CNI manifest at $CNI_MANIFEST (set SECLAB_CNI_MANIFEST to use another file)"

  image_step "$NODE_ROOTFS_IMAGE" node-rootfs "importing the node root filesystem" build_node_rootfs_image "$(stamp rootfs-node)"
  local cp_hashes=() i
  for i in "${CP_IMAGES[@]}"; do cp_hashes+=("$(docker image inspect -f '{{.Id}}' "$i")"); done
  image_step "$NODE_BASE_IMAGE" node-base "assembling the node base image $NODE_BASE_IMAGE" build_node_base \
    "$(docker image inspect -f '{{.Id}}' "$NODE_ROOTFS_IMAGE")" "${cp_hashes[*]}" "${CP_IMAGES[*]}" \
    "$(stamp k8s) $(stamp cni) $(stamp crictl)" "$(tree_hash "$AIRGAP_DIR/node")" \
    "$(declare -f build_container import_into_node commit_node)"
  image_step "$NODE_IMAGE" node "assembling the node image $NODE_IMAGE" build_node \
    "$(docker image inspect -f '{{.Id}}' "$NODE_BASE_IMAGE")" "$(tree_hash "$CNI_MANIFEST")" "$WITH_AGENT" \
    "$( [ -z "$WITH_AGENT" ] || docker image inspect -f '{{.Id}}' "$AGENT_IMAGE")" \
    "$(declare -f build_container import_into_node commit_node)"

  install -m 0755 "$OUT/k8s/kubectl" "$CACHE/bin/kubectl"
  say "images: $NODE_IMAGE $AGENT_IMAGE $NGINX_IMAGE $BUSYBOX_IMAGE $TRUSTED_BUSYBOX_IMAGE $PROBE_IMAGE (+ ${#CP_IMAGES[@]} control-plane images)"
  say "kubectl: $CACHE/bin/kubectl; cache: $(du -sh "$CACHE" 2>/dev/null | cut -f1) in $CACHE"
}

main() {
  local t0=$SECONDS
  apt_install debootstrap jq gcc libc6-dev
  "$AIRGAP_DIR/docker.sh"
  main_steps
  say "all done in $((SECONDS - t0)) s"
}
# one line, so that editing this file while it runs cannot change what runs
main "$@"; exit $?
