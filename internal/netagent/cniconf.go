package netagent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// BridgeName is the Linux bridge the pods of a node are attached to.
const BridgeName = "seclab0"

type cniRange struct {
	Subnet string `json:"subnet"`
}

type cniRoute struct {
	Dst string `json:"dst"`
}

type cniIPAM struct {
	Type   string       `json:"type"`
	Ranges [][]cniRange `json:"ranges"`
	Routes []cniRoute   `json:"routes"`
}

type cniBridge struct {
	Type        string  `json:"type"`
	Bridge      string  `json:"bridge"`
	IsGateway   bool    `json:"isGateway"`
	IPMasq      bool    `json:"ipMasq"`
	HairpinMode bool    `json:"hairpinMode"`
	MTU         int     `json:"mtu,omitempty"`
	IPAM        cniIPAM `json:"ipam"`
}

type cniPortmap struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

type cniConflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

// CNIConflist returns the CNI network configuration of a node: pods on the
// bridge seclab0 (the node is their gateway), addresses from the node's
// podCIDRs (host-local), hostPort support (portmap). The bridge plugin's own
// ipMasq is off: it would masquerade everything outside this node's podCIDR,
// hiding pod addresses from other nodes' policies. The agent's nftables table
// masquerades only traffic leaving the cluster pod subnet instead.
func CNIConflist(podCIDRs []netip.Prefix, mtu int) ([]byte, error) {
	if len(podCIDRs) == 0 {
		return nil, fmt.Errorf("no podCIDR")
	}
	ipam := cniIPAM{Type: "host-local"}
	for _, p := range podCIDRs {
		ipam.Ranges = append(ipam.Ranges, []cniRange{{Subnet: p.Masked().String()}})
		if p.Addr().Is4() {
			ipam.Routes = append(ipam.Routes, cniRoute{Dst: "0.0.0.0/0"})
		} else {
			ipam.Routes = append(ipam.Routes, cniRoute{Dst: "::/0"})
		}
	}
	conf := cniConflist{
		CNIVersion: "1.0.0",
		Name:       "seclab",
		Plugins: []any{
			cniBridge{Type: "bridge", Bridge: BridgeName, IsGateway: true, HairpinMode: true, MTU: mtu, IPAM: ipam},
			cniPortmap{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFileIfChanged atomically replaces path with data (temporary file in
// the same directory, then rename) unless it already has that content.
// The temporary name does not end in .conf/.conflist/.json, so the container
// runtime never loads a half-written file.
func WriteFileIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, err
	}
	return true, nil
}
