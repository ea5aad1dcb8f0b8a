# The reference solution's edit of a node's kubelet (and the near-misses'):
# set anonymous authentication and the authorization mode in its
# configuration file, then restart it unless asked not to.
#
#   kubelet.sh true|false AlwaysAllow|Webhook [no-restart]
set -eu
c=/var/lib/kubelet/config.yaml
sed -i "/^  anonymous:\$/{n;s/^    enabled: .*/    enabled: $1/}" $c
sed -i "/^authorization:\$/{n;s/^  mode: .*/  mode: $2/}" $c
[ "${3:-}" = no-restart ] && exit 0
systemctl restart kubelet
for _ in $(seq 60); do
	curl -s --max-time 2 http://127.0.0.1:10248/healthz | grep -qx ok && exit 0
	sleep 1
done
echo "the kubelet is not healthy 60 seconds after its restart" >&2
exit 1
