package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// wireguard-go subject: userspace WireGuard, the engine meshnet embeds for
// its encrypted mode, run as its own daemon in each namespace and
// configured with wg(8).
const (
	// wgGoModule is the version meshnet embeds; make bench installs it.
	wgGoModule  = "golang.zx2c4.com/wireguard@v0.0.0-20260522210424-ecfc5a8d5446"
	wgGoPort    = "51820"
	wgGoMTU     = 1420 // wireguard-go's default: 1500 minus 80 bytes over IPv6
	wgUAPIDir   = "/var/run/wireguard"
	wgGoStopMax = 5 * time.Second
)

func wireguardGoSubject() *subject {
	return &subject{Name: wgGoName, Title: "wireguard-go", Check: checkWireguardGo, Start: startWireguardGo}
}

func checkWireguardGo(_ context.Context, e *env) error {
	if _, err := os.Stat(e.opts.WireguardGo); err != nil {
		return notAvailable("no wireguard-go at %s; install it with `GOBIN=$PWD/bin go install %s` (make bench does) or pass --wireguard-go",
			e.opts.WireguardGo, wgGoModule)
	}
	if _, err := exec.LookPath("wg"); err != nil {
		return notAvailable("wg is not on PATH; install wireguard-tools")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return notAvailable("no /dev/net/tun on this machine")
	}
	if v, want := wireguardGoVersion(e.opts.WireguardGo), wgGoModule; v != want {
		e.progress("warning: %s is %s, not %s, the version meshnet embeds", e.opts.WireguardGo, v, want)
	}
	return nil
}

// wireguardGoVersion reads the module version wireguard-go was built from.
func wireguardGoVersion(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return info.Main.Path + "@" + info.Main.Version
}

// wgIfaceNames are the interface names on A and B. The UAPI socket
// directory is shared by every namespace on the machine, so the names are
// distinct per host and per run.
func wgIfaceNames(e *env) [2]string {
	return [2]string{"wg" + e.runID() + "a", "wg" + e.runID() + "b"}
}

func startWireguardGo(ctx context.Context, e *env) (*session, error) {
	hosts, names := e.hostPair(), wgIfaceNames(e)
	_, dirErr := os.Stat(wgUAPIDir)
	madeUAPIDir := errors.Is(dirErr, os.ErrNotExist)
	var u undo
	fail := func(err error) (*session, error) {
		u.run()
		return nil, fmt.Errorf("wireguard-go: %w", err)
	}
	var pubs [2]string
	for i, h := range hosts {
		pub, err := wgKeyPair(ctx, e, h)
		if err != nil {
			return fail(err)
		}
		pubs[i] = pub
	}
	wgBin, err := filepath.Abs(e.opts.WireguardGo)
	if err != nil {
		return fail(err)
	}
	if madeUAPIDir {
		// Runs last: remove the directory wireguard-go creates, unless
		// something else has put a socket there meanwhile.
		u.add(func() error { os.Remove(wgUAPIDir); return nil })
	}
	var procs []*netlab.Proc
	for i, h := range hosts {
		p, err := h.Start("wireguard-go", wgBin, "-f", names[i])
		if err != nil {
			return fail(err)
		}
		procs = append(procs, p)
		u.add(func() error { return stopWireguardGo(p, names[i]) })
		if err := waitWireguardGo(p, names[i]); err != nil {
			return fail(err)
		}
	}
	for i, h := range hosts {
		peer := hosts[1-i]
		err := e.runAll(ctx, h, [][]string{
			{"wg", "set", names[i], "listen-port", wgGoPort, "private-key", filepath.Join(h.Dir, "wg.key"),
				"peer", pubs[1-i], "endpoint", peer.Addr.String() + ":" + wgGoPort,
				"allowed-ips", overlayPrefix(wgGoSubnet, 1-i).Addr().String() + "/32"},
			{"ip", "addr", "add", overlayPrefix(wgGoSubnet, i).String(), "dev", names[i]},
			{"ip", "link", "set", names[i], "up"},
		})
		if err != nil {
			return fail(err)
		}
	}
	return &session{Dst: overlayPrefix(wgGoSubnet, 1).Addr(), MTU: wgGoMTU, Procs: procs, Stop: u.run}, nil
}

// wgKeyPair writes a new private key to the host's wg.key and returns the
// public key.
func wgKeyPair(ctx context.Context, e *env, h *netlab.Host) (string, error) {
	fmt.Fprintf(e.log, "+ [%s] wg genkey; wg pubkey\n", h.Name)
	priv, err := h.Command(ctx, "wg", "genkey").Output()
	if err != nil {
		return "", fmt.Errorf("[%s] wg genkey: %w", h.Name, err)
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "wg.key"), priv, 0o600); err != nil {
		return "", err
	}
	cmd := h.Command(ctx, "wg", "pubkey")
	cmd.Stdin = bytes.NewReader(priv)
	pub, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("[%s] wg pubkey: %w", h.Name, err)
	}
	return strings.TrimSpace(string(pub)), nil
}

// waitWireguardGo waits until wireguard-go has created its interface and
// opened its UAPI socket.
func waitWireguardGo(p *netlab.Proc, iface string) error {
	sock := filepath.Join(wgUAPIDir, iface+".sock")
	return netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("wireguard-go for %s exited: %s", iface, p.Output())
		}
		if _, err := os.Stat(sock); err != nil {
			return fmt.Errorf("no UAPI socket %s yet", sock)
		}
		return nil
	})
}

// stopWireguardGo asks wireguard-go to exit, which removes its interface
// and socket, and kills it if it does not.
func stopWireguardGo(p *netlab.Proc, iface string) error {
	if !p.Exited() {
		p.Signal(syscall.SIGTERM)
		if p.Wait(wgGoStopMax) != nil && !p.Exited() {
			p.Kill()
		}
	}
	// A killed wireguard-go leaves its socket behind.
	if err := os.Remove(filepath.Join(wgUAPIDir, iface+".sock")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
