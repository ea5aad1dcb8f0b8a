package netagent

import (
	"net/netip"
	"testing"
)

func TestIPBlockSet(t *testing.T) {
	for _, tc := range []struct {
		cidr   string
		except []string
		want   string
	}{
		{"10.0.0.0/8", nil, "10.0.0.0/8"},
		{"10.0.0.5/8", nil, "10.0.0.0/8"}, // host bits ignored
		{"10.0.0.0/24", []string{"10.0.0.128/25"}, "10.0.0.0/25"},
		{"10.0.0.0/24", []string{"10.0.0.10/32"}, "10.0.0.0-10.0.0.9, 10.0.0.11-10.0.0.255"},
		{"10.0.0.0/24", []string{"10.0.0.0/24"}, ""},
		{"10.0.0.0/24", []string{"10.0.0.0/25", "10.0.0.64/26", "10.0.0.255/32"}, "10.0.0.128-10.0.0.254"},
		{"0.0.0.0/0", []string{"10.0.0.0/8"}, "0.0.0.0-9.255.255.255, 11.0.0.0-255.255.255.255"},
		{"10.0.0.1/32", nil, "10.0.0.1"},
		{"fd00::/64", []string{"fd00::/65"}, "fd00::8000:0:0:0/65"},
		{"10.0.0.0/24", []string{"fd00::/8"}, "10.0.0.0/24"}, // other family except ignored
	} {
		s, _, err := ipBlockSet(tc.cidr, tc.except)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Key(); got != tc.want {
			t.Errorf("%s except %v: got %q want %q", tc.cidr, tc.except, got, tc.want)
		}
	}
	if _, _, err := ipBlockSet("10.0.0.0", nil); err == nil {
		t.Error("want error for a CIDR without length")
	}
}

func TestIPSetNormalizeAndContains(t *testing.T) {
	var b ipSetBuilder
	for _, a := range []string{"10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.9", "fd00::1"} {
		b.addAddr(netip.MustParseAddr(a))
	}
	b.addPrefix(netip.MustParsePrefix("10.0.0.8/30"))
	s := b.set(IPv4)
	if got := s.Key(); got != "10.0.0.1-10.0.0.3, 10.0.0.8/30" {
		t.Errorf("got %q", got)
	}
	for a, want := range map[string]bool{"10.0.0.0": false, "10.0.0.1": true, "10.0.0.3": true, "10.0.0.4": false, "10.0.0.11": true, "10.0.0.12": false, "fd00::1": false} {
		if s.Contains(netip.MustParseAddr(a)) != want {
			t.Errorf("Contains(%s) != %v", a, want)
		}
	}
	if got := b.set(IPv6).Key(); got != "fd00::1" {
		t.Errorf("v6: %q", got)
	}
	// adjacent ranges at the top of the address space
	var top ipSetBuilder
	top.addPrefix(netip.MustParsePrefix("255.255.255.254/32"))
	top.addPrefix(netip.MustParsePrefix("255.255.255.255/32"))
	if got := top.set(IPv4).Key(); got != "255.255.255.254/31" {
		t.Errorf("top: %q", got)
	}
}

func TestPortSetNormalize(t *testing.T) {
	s := normalizePorts([]PortRange{{ProtoTCP, 80, 80}, {ProtoUDP, 53, 53}, {ProtoTCP, 81, 90}, {ProtoTCP, 85, 85}, {ProtoTCP, 0, 10}, {ProtoTCP, 11, 11}})
	if got := s.Key(); got != "tcp . 0-11, tcp . 80-90, udp . 53" {
		t.Errorf("got %q", got)
	}
	if !s.Contains(ProtoTCP, 85) || s.Contains(ProtoUDP, 80) || s.Contains(ProtoTCP, 91) {
		t.Error("Contains")
	}
	all := normalizePorts([]PortRange{{ProtoTCP, 0, 65535}, {ProtoTCP, 65535, 65535}})
	if got := all.Key(); got != "tcp . 0-65535" {
		t.Errorf("got %q", got)
	}
}
