# The reference solutions' edits of the API server (and the near-misses'),
# done as a learner does them by hand: write a configuration file, add the
# flags and hostPath mounts to the static pod manifest, wait for the new
# API server. Runs on the control-plane node.
#
#   apiserver.sh audit Metadata|RequestResponse|pods-only|all-metadata
#   apiserver.sh encrypt aescbc|identity-first|file-only
#   apiserver.sh rewrite           # write every Secret again
set -eu
m=/etc/kubernetes/manifests/kube-apiserver.yaml
new=/etc/kubernetes/kube-apiserver.yaml.new # outside the kubelet's manifest directory
kc="kubectl --kubeconfig /etc/kubernetes/admin.conf"

# flag NAME VALUE sets --NAME=VALUE, replacing an earlier value.
flag() {
	if grep -q -- "^    - --$1=" $new; then
		sed -i "s|^    - --$1=.*|    - --$1=$2|" $new
	else
		sed -i "s|^    - kube-apiserver\$|&\n    - --$1=$2|" $new
	fi
}

# mount NAME PATH READONLY mounts the node's PATH at the same path.
mount() {
	grep -q "^    name: $1\$" $new && return 0
	sed -i "s|^    volumeMounts:\$|&\n    - mountPath: $2\n      name: $1\n      readOnly: $3|" $new
	sed -i "s|^  volumes:\$|&\n  - hostPath:\n      path: $2\n      type: DirectoryOrCreate\n    name: $1|" $new
}

# wait_new OLD waits for a running API server container other than OLD
# that answers /readyz.
wait_new() {
	for _ in $(seq 150); do
		c=$(crictl ps --name kube-apiserver -q | head -1)
		if [ -n "$c" ] && [ "$c" != "$1" ] && curl -sk --max-time 2 https://127.0.0.1:6443/readyz | grep -qx ok; then
			return 0
		fi
		sleep 2
	done
	echo "the API server did not come back within 5 minutes" >&2
	crictl ps -a --name kube-apiserver >&2
	exit 1
}

# write FILE writes stdin to FILE and notes whether that changed it.
changed=no
write() {
	before=$(md5sum <"$1" 2>/dev/null || true)
	cat >"$1"
	[ "$(md5sum <"$1")" = "$before" ] || changed=yes
}

# install puts the edited manifest in place, or restarts the API server
# with the same one when a file it reads at start changed.
install() {
	old=$(crictl ps --name kube-apiserver -q | head -1)
	if cmp -s $new $m; then
		rm -f $new
		[ $changed = yes ] || return 0
		mv $m /etc/kubernetes/kube-apiserver.yaml.away
		while [ -n "$(crictl ps --name kube-apiserver -q)" ]; do sleep 1; done
		mv /etc/kubernetes/kube-apiserver.yaml.away $m
	else
		cp $new $m
	fi
	rm -f $new
	wait_new "$old"
}

cp $m $new
case $1 in
audit)
	mkdir -p /etc/kubernetes/audit /var/log/kubernetes/audit
	case $2 in
	pods-only) what="pods" level=Metadata ;;
	*) what="secrets" level=$2 ;;
	esac
	rule="  - level: $level
    resources:
      - group: \"\"
        resources: [$what]
  - level: None"
	# Everything at Metadata is right too: Secrets get no body.
	[ "$2" = all-metadata ] && rule="  - level: Metadata"
	write /etc/kubernetes/audit/policy.yaml <<POLICY
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
$rule
POLICY
	flag audit-policy-file /etc/kubernetes/audit/policy.yaml
	flag audit-log-path /var/log/kubernetes/audit/audit.log
	flag audit-log-maxbackup 1
	mount audit-policy /etc/kubernetes/audit true
	mount audit-log /var/log/kubernetes/audit false
	install
	;;
encrypt)
	mkdir -p /etc/kubernetes/enc
	# The key of an earlier run, if any: Secrets written with it stay readable.
	key=$(sed -n 's/^ *secret: //p' /etc/kubernetes/enc/enc.yaml 2>/dev/null | head -1)
	[ -n "$key" ] || key=$(head -c 32 /dev/urandom | base64)
	aescbc="      - aescbc:
          keys:
            - name: key1
              secret: $key"
	case $2 in
	identity-first) providers="      - identity: {}
$aescbc" ;;
	*) providers="$aescbc
      - identity: {}" ;;
	esac
	write /etc/kubernetes/enc/enc.yaml <<CONFIG
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
$providers
CONFIG
	chmod 600 /etc/kubernetes/enc/enc.yaml
	if [ "$2" = file-only ]; then
		rm -f $new
		exit 0
	fi
	flag encryption-provider-config /etc/kubernetes/enc/enc.yaml
	mount enc /etc/kubernetes/enc true
	install
	;;
rewrite)
	rm -f $new
	$kc get secrets -A -o json | $kc replace -f - >/dev/null
	;;
*)
	echo "usage: apiserver.sh audit LEVEL | encrypt MODE | rewrite" >&2
	exit 2
	;;
esac
