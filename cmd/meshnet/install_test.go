package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `make install` into a staging root: the binary runs, the config and state
// directory are private, the unit points at the installed binary and keeps
// its hardening, completions and docs are there; a second install keeps an
// edited config, and uninstall keeps config and state.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary through make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on this machine")
	}
	root := t.TempDir()
	make := func(target string) string {
		t.Helper()
		cmd := exec.Command("make", "-s", target, "DESTDIR="+root, "PREFIX=/opt/mn")
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	make("install")
	bin := filepath.Join(root, "opt/mn/bin/meshnet")
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
		t.Fatalf("installed binary: %v\n%s", err, out)
	}
	cniOut, err := exec.Command(filepath.Join(root, "opt/cni/bin/meshnet-cni")).CombinedOutput()
	if !strings.Contains(string(cniOut), "meshnet-cni") {
		t.Errorf("installed CNI plugin in /opt/cni/bin does not run: %v\n%s", err, cniOut)
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	if m := mode("etc/meshnet/meshnet.yaml"); m != 0o640 {
		t.Errorf("config mode %o, want 640", m)
	}
	if m := mode("var/lib/meshnet"); m != 0o700 {
		t.Errorf("state dir mode %o, want 700", m)
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/meshnet.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/opt/mn/bin/meshnet up", "DynamicUser=yes", "StateDirectory=meshnet",
		"ProtectSystem=strict", "AmbientCapabilities=CAP_NET_ADMIN", "CapabilityBoundingSet=CAP_NET_ADMIN", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("installed unit lacks %q", want)
		}
	}
	plugin, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/meshnet-docker-plugin.service"))
	if err != nil || !strings.Contains(string(plugin), "ExecStart=/opt/mn/bin/meshnet docker-plugin") ||
		!strings.Contains(string(plugin), "Requires=meshnet.service") {
		t.Errorf("the Docker plugin's unit is missing or wrong: %v\n%s", err, plugin)
	}
	for _, p := range []string{"opt/mn/share/bash-completion/completions/meshnet", "opt/mn/share/zsh/site-functions/_meshnet",
		"opt/mn/share/fish/vendor_completions.d/meshnet.fish", "opt/mn/share/doc/meshnet/OPERATIONS.md"} {
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", p, err)
		}
	}
	rule, err := os.ReadFile(filepath.Join(root, "etc/udev/rules.d/60-meshnet-tun.rules"))
	if err != nil || !strings.Contains(string(rule), `KERNEL=="tun", MODE="0666"`) {
		t.Errorf("the udev rule that keeps /dev/net/tun open to users is missing: %v\n%s", err, rule)
	}
	conf := filepath.Join(root, "etc/meshnet/meshnet.yaml")
	if err := os.WriteFile(conf, []byte("name: edited\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	make("install")
	if b, _ := os.ReadFile(conf); string(b) != "name: edited\n" {
		t.Error("a second install overwrote the edited config")
	}
	make("uninstall")
	for _, p := range []string{bin, filepath.Join(root, "opt/cni/bin/meshnet-cni"), filepath.Join(root, "etc/udev/rules.d/60-meshnet-tun.rules"),
		filepath.Join(root, "etc/systemd/system/meshnet-docker-plugin.service")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("uninstall left %s: %v", p, err)
		}
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("uninstall removed the config: %v", err)
	}
}
