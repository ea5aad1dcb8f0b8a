//go:build linux

package netagent

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes the agent owns (so stale ones can be found).
const RouteProtocol netlink.RouteProtocol = 115

// LinuxHost is the real Host: nft for the ruleset, netlink for routes.
type LinuxHost struct {
	NFTPath string // default "nft"
}

// ApplyRuleset runs `nft -f -` with the script: one atomic transaction.
func (h *LinuxHost) ApplyRuleset(script string) error {
	path := h.NFTPath
	if path == "" {
		path = "nft"
	}
	cmd := exec.Command(path, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f -: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// SyncRoutes makes the agent's routes (protocol RouteProtocol, main table)
// exactly the given ones. It reports whether anything changed.
func (h *LinuxHost) SyncRoutes(routes []Route) (bool, error) {
	want := map[string]Route{}
	for _, r := range routes {
		want[r.Dst.String()] = r
	}
	changed := false
	var errs []string
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		have, err := netlink.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, hr := range have {
			if hr.Dst == nil {
				continue
			}
			key := hr.Dst.String()
			if w, ok := want[key]; ok && hr.Gw != nil && hr.Gw.Equal(net.IP(w.Via.AsSlice())) {
				delete(want, key) // already right
				continue
			}
			if _, ok := want[key]; ok {
				continue // replaced below
			}
			if err := netlink.RouteDel(&hr); err != nil {
				errs = append(errs, fmt.Sprintf("delete route %s: %v", key, err))
			}
			changed = true
		}
	}
	for _, r := range want {
		nr := &netlink.Route{
			Dst:      prefixToIPNet(r.Dst),
			Gw:       net.IP(r.Via.AsSlice()),
			Protocol: RouteProtocol,
			Table:    unix.RT_TABLE_MAIN,
		}
		if err := netlink.RouteReplace(nr); err != nil {
			errs = append(errs, fmt.Sprintf("route %s via %s: %v", r.Dst, r.Via, err))
			continue
		}
		changed = true
	}
	if len(errs) > 0 {
		return changed, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return changed, nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// UplinkMTU returns the MTU of the interface of the default IPv4 route (0 if
// unknown), so that pod interfaces do not exceed it.
func (h *LinuxHost) UplinkMTU() int {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0
	}
	for _, r := range routes {
		if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.LinkIndex > 0 {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				return l.Attrs().MTU
			}
		}
	}
	return 0
}

// EnableForwarding sets the sysctls pod networking needs; it returns the ones
// it could not set.
func (h *LinuxHost) EnableForwarding(ipv6 bool) []error {
	keys := []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"}
	if ipv6 {
		keys = append(keys, "net/ipv6/conf/all/forwarding", "net/bridge/bridge-nf-call-ip6tables")
	}
	var errs []error
	for _, k := range keys {
		p := "/proc/sys/" + k
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s=1: %w", strings.ReplaceAll(k, "/", "."), err))
		}
	}
	return errs
}
