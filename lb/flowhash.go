package lb

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// FlowKey identifies one direction of a flow on one network: the protocol
// and both ends. For ICMP echo the identifier stands in for both ports.
// It is comparable and holds no heap references beyond netip's interned
// zone handle, so it is cheap to copy and compare.
type FlowKey struct {
	VNI   uint32
	Proto Proto
	Src   netip.AddrPort
	Dst   netip.AddrPort
}

// Mixing constants (odd, high-entropy 64-bit values).
const (
	hk0 = 0xa0761d6478bd642f
	hk1 = 0xe7037ed1a0b428db
	hk2 = 0x8ebc6af09c88c6e3
	hk3 = 0x589965cc75374cc3
)

// FlowHash hashes a flow's 5-tuple for backend selection. It is unkeyed, so
// it is the same on every node and in every run, and it does not allocate.
func FlowHash(proto Proto, src, dst netip.AddrPort) uint64 {
	return hashTuple(0, 0, proto, src, dst)
}

// hashTuple mixes a seed, the network and the 5-tuple into 64 bits with
// 128-bit multiply-and-fold rounds.
func hashTuple(seed uint64, vni uint32, proto Proto, src, dst netip.AddrPort) uint64 {
	s := src.Addr().As16()
	d := dst.Addr().As16()
	a := mum(binary.LittleEndian.Uint64(s[0:8])^hk0^seed, binary.LittleEndian.Uint64(s[8:16])^hk1)
	b := mum(binary.LittleEndian.Uint64(d[0:8])^hk2, binary.LittleEndian.Uint64(d[8:16])^hk3^seed)
	ports := uint64(src.Port())<<48 | uint64(dst.Port())<<32 | uint64(proto)<<24 | uint64(vni&0xffffff)
	c := mum(ports^hk1, seed^hk2)
	return mum(a^c^hk3, b^hk0)
}

// hashKey hashes a full flow key with a per-table seed.
func hashKey(seed uint64, k *FlowKey) uint64 {
	return hashTuple(seed, k.VNI, k.Proto, k.Src, k.Dst)
}

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
