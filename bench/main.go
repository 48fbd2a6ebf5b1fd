// Command bench measures meshnet's data path against its peers on one pair
// of network namespaces joined by a veth, all in one run: raw veth (the
// baseline), kernel VXLAN, wireguard-go, and meshnet in its plain and
// encrypted modes, TAP and TUN. For each it takes iperf3 TCP throughput
// with one and with several streams, small-packet UDP rate and loss, the
// median ping RTT, and for userspace overlays the CPU time per GB moved
// and the peak memory of their processes. It prints a table of figures with
// their ratios to raw veth and to wireguard-go, and writes everything as
// JSON (default bench/results/<timestamp>.json).
//
//	sudo go run ./bench                 # every subject, 10 s runs
//	sudo go run ./bench --quick --subjects veth,vxlan,meshnet-tap
//
// It needs root, iperf3, ping and iproute2; wireguard-go and wg for the
// wireguard-go subject (make bench installs them). Everything it creates
// (namespaces, processes, files) is removed when it ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainCode(os.Args[1:], os.Stdout, os.Stderr))
}

func mainCode(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	// Ctrl-C cancels the run; what was set up is then removed before exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, opts, stderr)
	if rep != nil {
		printTable(stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}
