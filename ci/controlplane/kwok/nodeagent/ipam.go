package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
)

// ipam hands out Pod IPs from each node's podCIDR the way the host-local
// IPAM plugin of a kind node does: .1 is the gateway, addresses are taken in
// order after the last one given out, and a released one is reused later.
type ipam struct {
	mu    sync.Mutex
	pools map[string]*pool // by node
}

type pool struct {
	cidr  *net.IPNet
	size  uint32
	last  uint32
	owner map[uint32]string // offset -> pod UID
}

func newIPAM() *ipam { return &ipam{pools: map[string]*pool{}} }

func (m *ipam) allocate(node, cidr, uid string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[node]
	if !ok || p.cidr.String() != cidr {
		_, ipnet, err := net.ParseCIDR(cidr)
		if err != nil || ipnet.IP.To4() == nil {
			return "", fmt.Errorf("node %s has no IPv4 podCIDR (%q)", node, cidr)
		}
		ones, bits := ipnet.Mask.Size()
		p = &pool{cidr: ipnet, size: 1 << (bits - ones), last: 1, owner: map[uint32]string{}}
		m.pools[node] = p
	}
	for offset, o := range p.owner {
		if o == uid {
			return p.ip(offset), nil
		}
	}
	for i := uint32(1); i < p.size; i++ {
		offset := (p.last + i) % p.size
		// Skip the network address, the gateway and the broadcast address.
		if offset <= 1 || offset == p.size-1 {
			continue
		}
		if _, used := p.owner[offset]; !used {
			p.owner[offset] = uid
			p.last = offset
			return p.ip(offset), nil
		}
	}
	return "", fmt.Errorf("podCIDR %s of node %s is full", cidr, node)
}

func (m *ipam) release(node, uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pools[node]; ok {
		for offset, o := range p.owner {
			if o == uid {
				delete(p.owner, offset)
			}
		}
	}
}

func (p *pool) ip(offset uint32) string {
	base := binary.BigEndian.Uint32(p.cidr.IP.To4())
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, base+offset)
	return out.String()
}
