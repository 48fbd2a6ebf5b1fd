package encap

// bindOptions configure the UDP bind a transport opens (newBind).
type bindOptions struct {
	// noOffload turns UDP GSO and GRO off.
	noOffload bool
	// batch is the bind's BatchSize; 0 means the most it can.
	batch int
	// ipv4Only listens over IPv4 alone.
	ipv4Only bool
}
