# Keeps the API server's static pod manifest as the cluster was created
# with it, and puts it back when the learner changed it (even one the
# kubelet cannot run): reset then works on an API server the learner
# broke. The learner's version is kept beside it. Runs on the control
# plane, before seclab waits for the API.
set -eu
m=/etc/kubernetes/manifests/kube-apiserver.yaml
kept=/var/lib/seclab/kept/kube-apiserver.yaml
yours=/var/lib/seclab/yours/kube-apiserver.yaml
mkdir -p /var/lib/seclab/kept /var/lib/seclab/yours
if [ ! -f $kept ]; then
	cp $m $kept
	exit 0
fi

etcd() {
	crictl exec "$(crictl ps --name etcd -q | head -1)" etcdctl --endpoints https://127.0.0.1:2379 \
		--cacert /etc/kubernetes/pki/etcd/ca.crt \
		--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \
		--key /etc/kubernetes/pki/etcd/healthcheck-client.key "$@"
}

if ! cmp -s $kept $m; then
	old=$(crictl ps --name kube-apiserver -q | head -1)
	[ -f $m ] && mv $m $yours
	for _ in $(seq 60); do
		[ -z "$(crictl ps --name kube-apiserver -q)" ] && break
		sleep 1
	done
	cp $kept $m
	echo "restored $m (your version: $yours)"
	for _ in $(seq 150); do
		c=$(crictl ps --name kube-apiserver -q | head -1)
		if [ -n "$c" ] && [ "$c" != "$old" ] && curl -sk --max-time 2 https://127.0.0.1:6443/readyz | grep -qx ok; then
			break
		fi
		sleep 2
	done
fi

# The original API server reads no encryption configuration: Secrets
# encrypted with the learner's key are unreadable to it, and would keep
# the lab's namespace from being deleted. The lab sets its own up again.
n=0
for k in $(etcd get /registry/secrets/ --prefix --keys-only); do
	if [ "$(etcd get "$k" --print-value-only | head -c 8)" = "k8s:enc:" ]; then
		etcd del "$k" >/dev/null
		n=$((n + 1))
	fi
done
[ $n -eq 0 ] || echo "deleted $n Secrets from etcd that only your encryption key could read"
