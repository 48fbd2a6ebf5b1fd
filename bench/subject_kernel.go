package main

import (
	"context"
	"fmt"
)

// vethSubject is the baseline: the two ends of the veth, addressed
// directly. Every other subject rides on this same link.
func vethSubject() *subject {
	return &subject{
		Name:   baselineName,
		Title:  "raw veth",
		Kernel: true,
		Check:  func(context.Context, *env) error { return nil },
		Start: func(ctx context.Context, e *env) (*session, error) {
			return &session{Dst: e.b.Addr, MTU: 1500, Stop: func() error { return nil }}, nil
		},
	}
}

// Kernel VXLAN subject: one vxlan device per host, point to point over
// eth0, on the IANA port like meshnet's plain mode.
const (
	vxlanDevice = "vxbench0"
	vxlanVNI    = "4242"
	vxlanMTU    = 1450 // 1500 minus VXLAN's 50 bytes over IPv4
)

func vxlanSubject() *subject {
	return &subject{
		Name:   "vxlan",
		Title:  "kernel VXLAN",
		Kernel: true,
		Check:  func(context.Context, *env) error { return nil },
		Start:  startVXLAN,
	}
}

func startVXLAN(ctx context.Context, e *env) (*session, error) {
	var u undo
	for i, h := range e.hostPair() {
		peer := e.hostPair()[1-i]
		if _, err := e.run(ctx, h, "ip", "link", "add", vxlanDevice, "type", "vxlan", "id", vxlanVNI,
			"dstport", "4789", "local", h.Addr.String(), "remote", peer.Addr.String(), "dev", "eth0"); err != nil {
			u.run()
			return nil, fmt.Errorf("kernel VXLAN (is the vxlan module available? try modprobe vxlan): %w", err)
		}
		u.add(func() error {
			_, err := e.run(context.Background(), h, "ip", "link", "del", vxlanDevice)
			return err
		})
		err := e.runAll(ctx, h, [][]string{
			{"ip", "link", "set", vxlanDevice, "mtu", fmt.Sprint(vxlanMTU)},
			{"ip", "addr", "add", overlayPrefix(vxlanSubnet, i).String(), "dev", vxlanDevice},
			{"ip", "link", "set", vxlanDevice, "up"},
		})
		if err != nil {
			u.run()
			return nil, err
		}
	}
	return &session{Dst: overlayPrefix(vxlanSubnet, 1).Addr(), MTU: vxlanMTU, Stop: u.run}, nil
}
