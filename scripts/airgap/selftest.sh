#!/usr/bin/env bash
# Self-test of the air-gapped kind images (run scripts/airgap/build.sh first): creates the kind
# cluster seclab-airgap-selftest (1 control plane + 1 worker) from kindest/node:v1.34.4-airgap
# through the sigs.k8s.io/kind library, loads the lab images and checks nodes, DNS, NetworkPolicy,
# seccomp and Pod Security admission. The cluster is deleted at the end, also on failure
# (SECLAB_KEEP=1 keeps it). Prints `N passed, M failed` last and exits non-zero on any failure.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=seclab-airgap-selftest
. "$REPO_ROOT/assets/versions.env"   # the node image is labelled seclab.airgap.netagent=1 when it has the agent
NODE_IMAGE=${SECLAB_NODE_IMAGE:-$NODE_IMAGE}
LAB_IMAGES=("$NGINX_IMAGE" "$BUSYBOX_IMAGE")
KUBECONFIG=$CACHE/$NAME.kubeconfig; export KUBECONFIG
KUBECTL=$CACHE/bin/kubectl
[ -x "$KUBECTL" ] || KUBECTL=$(command -v kubectl) || die "no kubectl: run scripts/airgap/build.sh first"
k() { "$KUBECTL" "$@"; }

"$AIRGAP_DIR/docker.sh" >/dev/null
for i in "$NODE_IMAGE" "${LAB_IMAGES[@]}"; do
  docker image inspect "$i" >/dev/null 2>&1 || die "image $i is missing: run scripts/airgap/build.sh first"
done

# kindctl: the kind library in a scratch module under the cache (never in seclab's go.mod)
kindctl_build() {
  local w=$CACHE/src/kindctl bin=$CACHE/bin/kindctl h
  h=$(cat "$AIRGAP_DIR/kindctl/main.go" | sha256sum | cut -c1-16)
  [ -x "$bin" ] && [ "$(cat "$w/.hash" 2>/dev/null)" = "$h" ] && return 0
  say "building kindctl (sigs.k8s.io/kind v0.33.0 library)"
  rm -rf "$w"; mkdir -p "$w"
  grep -v '^//go:build ignore' "$AIRGAP_DIR/kindctl/main.go" > "$w/main.go"
  printf 'module seclab-airgap-kindctl\n\ngo 1.25\n\nrequire sigs.k8s.io/kind v0.33.0\n' > "$w/go.mod"
  ( cd "$w" && export GOCACHE=$CACHE/gocache GOMODCACHE=$CACHE/gomod GOFLAGS=-modcacherw GOTOOLCHAIN=local &&
    go mod tidy && CGO_ENABLED=0 go build -o "$bin" . ) || die "could not build kindctl"
  echo "$h" > "$w/.hash"
}
kindctl_build

PASS=0 FAIL=0
pass() { PASS=$((PASS + 1)); echo "PASS: $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
# check "what" CMD...: one check, pass when CMD succeeds
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# eventually SECONDS CMD...: retry CMD every 2 s until it succeeds or the time is up
eventually() {
  local until=$((SECONDS + $1)); shift
  while ! "$@" >/dev/null 2>&1; do [ $SECONDS -lt $until ] || return 1; sleep 2; done
}
summary() { echo "$PASS passed, $FAIL failed"; }

cleanup() {
  local rc=$?
  [ "$rc" -eq 0 ] || [ "$FAIL" -gt 0 ] || fail "self-test stopped early (exit $rc)"
  if [ "${SECLAB_KEEP:-0}" = 1 ]; then
    echo "cluster $NAME kept (SECLAB_KEEP=1); KUBECONFIG=$KUBECONFIG"
  else
    kindctl delete -name "$NAME" -kubeconfig "$KUBECONFIG" >/dev/null 2>&1 || true
    rm -f "$KUBECONFIG"
  fi
  summary
  [ "$rc" -eq 0 ] && [ "$FAIL" -eq 0 ] || exit 1
}
trap cleanup EXIT

# a cluster left over by an earlier run
if kindctl list | grep -qx "$NAME"; then kindctl delete -name "$NAME" -kubeconfig "$KUBECONFIG"; fi

cfg=$CACHE/$NAME.kind.yaml
cat > "$cfg" <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
EOF
say "creating kind cluster $NAME from $NODE_IMAGE"
t0=$SECONDS
if kindctl create -name "$NAME" -image "$NODE_IMAGE" -config "$cfg" -kubeconfig "$KUBECONFIG" -wait 4m \
  ${SECLAB_RETAIN:+-retain}; then
  pass "cluster created in $((SECONDS - t0)) s"
else
  fail "kind create cluster (SECLAB_RETAIN=1 SECLAB_KEEP=1 keep the nodes to debug)"; exit 1
fi

say "loading ${LAB_IMAGES[*]} into the nodes"
for n in $(docker ps --filter "label=io.x-k8s.kind.cluster=$NAME" --format '{{.Names}}'); do
  docker save "${LAB_IMAGES[@]}" | docker exec -i "$n" ctr -n k8s.io images import --all-platforms --digests - >/dev/null
done

check "all nodes Ready" k wait --for=condition=Ready nodes --all --timeout=180s
check "kube-system pods Ready (coredns, kube-proxy, CNI)" \
  k -n kube-system wait --for=condition=Ready pods --all --timeout=180s

# every node of the cluster runs apparmor_parser; none found is a failure, not a pass
parsers_ok() {
  local n found=0
  for n in $(docker ps --filter "label=io.x-k8s.kind.cluster=$NAME" --format '{{.Names}}'); do
    docker exec "$n" apparmor_parser --version >/dev/null || return 1
    found=$((found + 1))
  done
  [ "$found" -gt 0 ]
}
check "every node has apparmor_parser (the apparmor lab loads its profile with it)" parsers_ok

# --- DNS ---------------------------------------------------------------------------------------
k run dns-probe --image=busybox:1.36 --restart=Never --command -- sleep 3600 >/dev/null
k wait --for=condition=Ready pod/dns-probe --timeout=120s >/dev/null || true
# busybox's nslookup ignores the search list: ask for the full name, and let the libc resolver
# (ping only resolves here; ICMP to a service IP gets no answer) expand the short one.
check "DNS: a busybox pod resolves kubernetes.default.svc.cluster.local (nslookup)" \
  eventually 60 k exec dns-probe -- nslookup kubernetes.default.svc.cluster.local
short_name_resolves() {
  local out; out=$(k exec dns-probe -- ping -c 1 -W 1 kubernetes.default 2>&1 || true)
  grep -q "^PING kubernetes.default ($(k get svc kubernetes -o jsonpath='{.spec.clusterIP}'))" <<<"$out"
}
check "DNS: a busybox pod resolves kubernetes.default (search list)" eventually 30 short_name_resolves

# --- NetworkPolicy (n287) ------------------------------------------------------------------------
# The agent drops what no policy allows, so "blocked" means one thing: the TCP connect to the pod's
# IP timed out. Refused, reset, a DNS failure or any other error is not that verdict, and neither
# is a timeout on a path never shown to work: each blocked probe has a working probe by the same
# pod IP before the policy. LAST_PROBE says what the last probe saw, for the FAIL line.
LAST_PROBE=
curl_code() { # FROM-POD URL -> prints the HTTP status code (000 when not answered)
  k -n n287 exec "$1" -- curl -s -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 4 "$2" 2>/dev/null || true
}
code_is() { [ "$(curl_code "$1" "$2")" = "$3" ]; }
# curl_blocked FROM-POD IP: curl exits 28 (timed out) without ever connecting (time_connect 0).
curl_blocked() {
  local out rc=0
  out=$(k -n n287 exec "$1" -- curl -sS -o /dev/null -w '\ntime_connect=%{time_connect}\n' \
    --connect-timeout 2 --max-time 8 "http://$2/" 2>&1) || rc=$?
  LAST_PROBE="curl from $1 to $2: exit $rc: $(tr '\n' ' ' <<<"$out")"
  [ "$rc" = 28 ] && grep -qx 'time_connect=0\.000000' <<<"$out"
}
# wget_blocked FROM-POD IP: the image's wget wrapper applies -T with busybox timeout, which kills
# wget (SIGTERM: exit 143) while it is still connecting: it printed nothing after "Connecting to".
# busybox wget's own failures (refused, reset, bad address) exit 1 with a message.
wget_blocked() {
  local out rc=0
  out=$(k -n n287 exec "$1" -- wget -T 2 -O /dev/null "http://$2/" 2>&1) || rc=$?
  LAST_PROBE="wget from $1 to $2: exit $rc: $(tr '\n' ' ' <<<"$out")"
  [ "$rc" = 143 ] && ! grep -qvE '^Connecting to |^command terminated with exit code 143$' <<<"$out"
}
wget_ok() { k -n n287 exec "$1" -- wget -q -T 2 -O /dev/null "http://$2/"; }
# check_blocked "what" CMD...: check, and on failure what the last probe saw
check_blocked() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what (saw: $LAST_PROBE)"; fi
}

if [ "$(docker image inspect -f '{{index .Config.Labels "seclab.airgap.netagent"}}' "$NODE_IMAGE")" != 1 ]; then
  fail "netpol: $NODE_IMAGE has no NetworkPolicy agent ($AGENT_IMAGE): rebuild it with scripts/airgap/build.sh"
else
  check "netpol: the agent (DaemonSet kube-system/seclab-net) runs on every node" \
    k -n kube-system rollout status daemonset/seclab-net --timeout=120s
  k create namespace n287 >/dev/null
  k -n n287 run nginx1 --image=nginx:1.27 --labels=app=nginx1 >/dev/null
  k -n n287 run nginx2 --image=nginx:1.27 --labels=app=nginx2 --expose --port=80 >/dev/null
  k -n n287 run bb --image=busybox:1.36 --restart=Never --command -- sleep 3600 >/dev/null
  k -n n287 wait --for=condition=Ready pod/nginx1 pod/nginx2 pod/bb --timeout=120s >/dev/null || true
  ip2=$(k -n n287 get pod nginx2 -o jsonpath='{.status.podIP}' || true)
  check "netpol: nginx2 has a pod IP (${ip2:-none})" test -n "$ip2"
  check "netpol: nginx1 -> nginx2 returns HTTP 200 (no policy)" eventually 60 code_is nginx1 http://nginx2 200
  check "netpol: nginx1 -> nginx2's pod IP returns HTTP 200 (no policy)" eventually 30 code_is nginx1 "http://$ip2" 200
  check "netpol: busybox -> nginx2's pod IP connects (no policy)" eventually 30 wget_ok bb "$ip2"
  k -n n287 apply -f - >/dev/null <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: n287}
spec:
  podSelector: {matchLabels: {app: nginx2}}
  policyTypes: [Ingress]
EOF
  check_blocked "netpol: deny-all ingress on app=nginx2 blocks nginx1 (connect timeout)" \
    eventually 30 curl_blocked nginx1 "$ip2"
  k -n n287 apply -f - >/dev/null <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-nginx1, namespace: n287}
spec:
  podSelector: {matchLabels: {app: nginx2}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: nginx1}}
    ports: [{protocol: TCP, port: 80}]
EOF
  check "netpol: allow-nginx1 lets nginx1 in (HTTP 200)" eventually 30 code_is nginx1 http://nginx2 200
  check_blocked "netpol: an unlabeled busybox pod stays blocked (connect timeout)" wget_blocked bb "$ip2"
fi

# --- seccomp RuntimeDefault ----------------------------------------------------------------------
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: seccomp-probe}
spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"]}
EOF
k wait --for=condition=Ready pod/seccomp-probe --timeout=120s >/dev/null || true
seccomp_mode() { k exec seccomp-probe -- grep -E '^Seccomp:' /proc/1/status | awk '{print $2}'; }
check "seccomp: RuntimeDefault pod shows Seccomp: 2" test "$(seccomp_mode 2>/dev/null)" = 2

# --- Pod Security admission ----------------------------------------------------------------------
k create namespace psa-baseline >/dev/null
k label namespace psa-baseline pod-security.kubernetes.io/enforce=baseline >/dev/null
psa_out=$(k -n psa-baseline apply -f - 2>&1 <<'EOF' || true
apiVersion: v1
kind: Pod
metadata: {name: privileged-probe}
spec:
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], securityContext: {privileged: true}}
EOF
)
check "PSA: baseline namespace rejects a privileged pod" grep -q 'violates PodSecurity "baseline' <<<"$psa_out"
