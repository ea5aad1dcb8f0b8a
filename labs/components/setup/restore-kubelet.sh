# Keeps each kubelet's configuration as the cluster was created with it,
# and puts it back (restarting the kubelet) when the learner changed it.
# The learner's version is kept beside it.
set -eu
c=/var/lib/kubelet/config.yaml
kept=/var/lib/seclab/kept/kubelet-config.yaml
yours=/var/lib/seclab/yours/kubelet-config.yaml
mkdir -p /var/lib/seclab/kept /var/lib/seclab/yours
if [ ! -f $kept ]; then
	cp $c $kept
	exit 0
fi
cmp -s $kept $c && exit 0
cp $c $yours
cp $kept $c
systemctl restart kubelet
for _ in $(seq 60); do
	if curl -s --max-time 2 http://127.0.0.1:10248/healthz | grep -qx ok; then
		echo "restored $c and restarted the kubelet (your version: $yours)"
		exit 0
	fi
	sleep 1
done
echo "the kubelet is not healthy 60 seconds after restoring $c" >&2
exit 1
