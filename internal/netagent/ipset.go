package netagent

import (
	"fmt"
	"net/netip"
	"sort"
)

// Family is an IP family as nftables sees it.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// Families lists the families in rendering order.
var Families = []Family{IPv4, IPv6}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// IPRange is an inclusive range of addresses of one family.
type IPRange struct{ From, To netip.Addr }

func (r IPRange) contains(a netip.Addr) bool {
	return a.BitLen() == r.From.BitLen() && r.From.Compare(a) <= 0 && a.Compare(r.To) <= 0
}

func (r IPRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	// print as a prefix when the range is exactly one
	for bits := 0; bits <= r.From.BitLen(); bits++ {
		p := netip.PrefixFrom(r.From, bits)
		if p.Masked().Addr() == r.From && lastAddr(p) == r.To {
			return p.String()
		}
	}
	return r.From.String() + "-" + r.To.String()
}

// IPSet is a sorted list of disjoint, non-adjacent ranges of a single family.
// The zero value is the empty set.
type IPSet []IPRange

// Contains reports whether a is in the set.
func (s IPSet) Contains(a netip.Addr) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].To.Compare(a) >= 0 })
	return i < len(s) && s[i].contains(a)
}

// Key is a canonical text form, used to deduplicate sets.
func (s IPSet) Key() string {
	b := make([]byte, 0, 16*len(s))
	for i, r := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, r.String()...)
	}
	return string(b)
}

func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	a := p.Addr()
	b := a.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	if a.Is4() {
		return last.Unmap()
	}
	return last
}

// prefixRange converts a prefix to a range, ignoring host bits.
func prefixRange(p netip.Prefix) IPRange {
	p = p.Masked()
	return IPRange{From: p.Addr(), To: lastAddr(p)}
}

// ipSetBuilder accumulates ranges of mixed families and normalizes them.
type ipSetBuilder struct{ ranges []IPRange }

func (b *ipSetBuilder) addAddr(a netip.Addr)     { b.ranges = append(b.ranges, IPRange{a, a}) }
func (b *ipSetBuilder) addPrefix(p netip.Prefix) { b.ranges = append(b.ranges, prefixRange(p)) }
func (b *ipSetBuilder) addSet(s IPSet)           { b.ranges = append(b.ranges, s...) }

// set returns the normalized set of one family.
func (b *ipSetBuilder) set(f Family) IPSet {
	var rs []IPRange
	for _, r := range b.ranges {
		if familyOf(r.From) == f {
			rs = append(rs, r)
		}
	}
	return normalize(rs)
}

func normalize(rs []IPRange) IPSet {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].From.Less(rs[j].From) })
	out := IPSet{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		// merge when overlapping or adjacent
		if next := last.To.Next(); r.From.Compare(last.To) <= 0 || (next.IsValid() && next == r.From) {
			if r.To.Compare(last.To) > 0 {
				last.To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// subtract returns s without the addresses in t (both normalized, one family).
func subtract(s, t IPSet) IPSet {
	var out IPSet
	for _, r := range s {
		cur := []IPRange{r}
		for _, x := range t {
			var next []IPRange
			for _, c := range cur {
				if x.To.Less(c.From) || c.To.Less(x.From) {
					next = append(next, c)
					continue
				}
				if c.From.Less(x.From) {
					next = append(next, IPRange{c.From, x.From.Prev()})
				}
				if x.To.Less(c.To) {
					next = append(next, IPRange{x.To.Next(), c.To})
				}
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return normalize(out)
}

// ipBlockSet parses an ipBlock: cidr minus the except list.
func ipBlockSet(cidr string, except []string) (IPSet, Family, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, 0, fmt.Errorf("ipBlock cidr %q: %w", cidr, err)
	}
	f := familyOf(p.Addr())
	base := IPSet{prefixRange(p)}
	var ex ipSetBuilder
	for _, e := range except {
		q, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, 0, fmt.Errorf("ipBlock except %q: %w", e, err)
		}
		ex.addPrefix(q)
	}
	return subtract(base, ex.set(f)), f, nil
}
