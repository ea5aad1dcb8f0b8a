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

# sweep deletes the Secrets encrypted with the learner's key: the original
# API server reads no encryption configuration, so it cannot read them,
# and it does not even become ready while they are there (its informers
# fail to list Secrets). The lab sets its own up again.
sweep() {
	for k in $(etcd get /registry/secrets/ --prefix --keys-only); do
		if [ "$(etcd get "$k" --print-value-only | head -c 8)" = "k8s:enc:" ]; then
			etcd del "$k" >/dev/null
			echo "deleted Secret ${k#/registry/secrets/} from etcd: only your encryption key could read it"
		fi
	done
}

if cmp -s $kept $m; then
	sweep
else
	old=$(crictl ps --name kube-apiserver -q | head -1)
	[ -f $m ] && mv $m $yours
	for _ in $(seq 60); do
		[ -z "$(crictl pods --name kube-apiserver --state ready -q)" ] && break
		sleep 1
	done
	sweep
	cp $kept $m
	# A kubelet that saw the manifest go and come back (or was restarted
	# just before) may keep waiting on the old pod; a kubelet that starts
	# reads the manifests afresh.
	systemctl restart kubelet
	up=no
	for _ in $(seq 150); do
		c=$(crictl ps --name kube-apiserver -q | head -1)
		if [ -n "$c" ] && [ "$c" != "$old" ] && curl -sk --max-time 2 https://127.0.0.1:6443/readyz | grep -qx ok; then
			up=yes
			break
		fi
		sleep 2
	done
	if [ $up = no ]; then
		echo "the API server did not come back within 5 minutes of restoring $m:" >&2
		crictl ps -a --name kube-apiserver >&2
		exit 1
	fi
	echo "restored $m (your version: $yours)"
fi

