package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The demo re-executes itself inside host namespaces to play a web server
// (answering its host's name) and a client (fetching a URL through
// meshnet's DNS), so it needs no other tools.

// runWeb handles the hidden subcommands; it reports whether it did.
func runWeb(args []string) bool {
	if len(args) < 1 {
		return false
	}
	switch args[0] {
	case "_serve": // _serve ADDR NAME
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("listening")
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, args[2]) }))
		os.Exit(0)
	case "_get": // _get URL DNS COUNT
		var n int
		fmt.Sscan(args[3], &n)
		d := &net.Dialer{Timeout: 2 * time.Second, Resolver: &net.Resolver{PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, args[2])
			}}}
		for range n {
			c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
			resp, err := c.Get(args[1])
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
			resp.Body.Close()
			fmt.Println(strings.TrimSpace(string(b)))
		}
		os.Exit(0)
	}
	return false
}
