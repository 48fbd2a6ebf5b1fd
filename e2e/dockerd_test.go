package e2e

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// dockerHost is a dockerd and `meshnet docker-plugin` running in a lab
// host beside its meshnet daemon, everything under the host's directory.
//
// Docker looks for plugins only in /run/docker/plugins, and it and its
// containerd keep sockets in /run/docker/libnetwork and /run/containerd/s
// and make /opt/containerd: directories every namespace shares. So
// dockerd runs in a mount namespace of its own (unshare) with a tmpfs on
// /run and on /opt, and the host's plugins directory bind-mounted on
// /run/docker/plugins; the plugin writes meshnet.sock straight into that
// directory (--plugin-socket). Each dockerd thus finds its own host's
// plugin under the name users type (`-d meshnet`), and nothing it makes
// in /run or /opt is seen outside. The mount namespace also holds every
// mount dockerd makes (overlays, network namespaces), so they go when its
// processes do, and it names those processes: containerd and its shims
// are the processes left in it. Containers go under a cgroup parent of
// their own, which names them.
type dockerHost struct {
	h       *netlab.Host
	m       *netlab.Meshnet
	dir     string // everything of this dockerd: data, exec, plugins, config
	sock    string // dockerd's API socket
	plugins string // bound on /run/docker/plugins in dockerd's mount namespace
	cgroup  string // cgroup parent of its containers
	plugin  *netlab.Proc
	dockerd *netlab.Proc
	mntNS   string // dockerd's mount namespace, as /proc/PID/ns/mnt reads
	stopped bool
}

// dockerFlags keep dockerd from writing firewall rules (no iptables;
// ip6tables is off by default in 20.10 but not in later Docker), give it
// no default bridge (docker0), and keep all its
// files (data, state, socket, pid file, key, config) under dir instead of
// /var/lib/docker, /run/docker and /etc/docker.
func dockerFlags(dir, sock, cgroup string) []string {
	return []string{
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--config-file", filepath.Join(dir, "daemon.json"),
		"-H", "unix://" + sock,
		"--iptables=false", "--ip6tables=false", "--bridge=none",
		"--cgroup-parent", cgroup,
	}
}

// startDocker starts h's plugin and dockerd without waiting for them.
func startDocker(t *testing.T, m *netlab.Meshnet) *dockerHost {
	t.Helper()
	h := m.Host
	dir := filepath.Join(h.Dir, "docker")
	d := &dockerHost{h: h, m: m, dir: dir, sock: filepath.Join(dir, "docker.sock"),
		plugins: filepath.Join(dir, "plugins"), cgroup: "meshnet-e2e-" + h.NS}
	if err := os.MkdirAll(d.plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	// The trust key would otherwise go to /etc/docker/key.json.
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte(fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(dir, "key.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*netlab.Proc{d.plugin, d.dockerd} {
				if p != nil {
					t.Logf("--- %s %s ---\n%s", h.Name, filepath.Base(p.Log), p.Output())
				}
			}
		}
		if left := d.stop(); len(left) > 0 {
			t.Logf("cleanup on %s: %s", h.Name, strings.Join(left, "; "))
		}
	})
	var err error
	d.plugin, err = h.Start("docker-plugin", m.Binary, "docker-plugin", "--state-dir", m.StateDir,
		"--plugin-socket", filepath.Join(d.plugins, "meshnet.sock"))
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /opt && "+
		"mkdir -p /run/docker/plugins && "+
		"mount --bind '%s' /run/docker/plugins && exec dockerd \"$@\"", d.plugins)
	// `ip netns exec` mounts a sysfs of the host's network namespace on
	// /sys, which hides the cgroup hierarchies dockerd needs: nsenter
	// returns to the test's mount namespace (keeping the network one).
	args := append([]string{fmt.Sprintf("--mount=/proc/%d/ns/mnt", os.Getpid()), "--",
		"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "dockerd"}, dockerFlags(dir, d.sock, d.cgroup)...)
	d.dockerd, err = h.Start("dockerd", "nsenter", args...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wait polls until the plugin's socket answers and dockerd answers
// `docker version`, then records dockerd's mount namespace.
func (d *dockerHost) wait(t *testing.T) {
	t.Helper()
	err := netlab.Poll(30*time.Second, 50*time.Millisecond, func() error {
		for _, p := range []*netlab.Proc{d.plugin, d.dockerd} {
			if p.Exited() {
				return fmt.Errorf("exited: %s", p.Output())
			}
		}
		c, err := net.Dial("unix", filepath.Join(d.plugins, "meshnet.sock"))
		if err != nil {
			return fmt.Errorf("plugin: %w", err)
		}
		c.Close()
		_, err = d.dockerQuiet("version")
		return err
	})
	if err != nil {
		t.Fatalf("docker on %s did not come up: %v\n%s", d.h.Name, err, d.dockerd.Output())
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", d.dockerd.Cmd.Process.Pid))
	self, _ := os.Readlink("/proc/self/ns/mnt")
	if err != nil || ns == self {
		t.Fatalf("dockerd's mount namespace %q (ours %q): %v", ns, self, err)
	}
	d.mntNS = ns
}

// docker runs the docker CLI against this dockerd, with a config
// directory of its own, and fails the test on error.
func (d *dockerHost) docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.h.Run("docker", append([]string{"--config", filepath.Join(d.dir, "cli"), "-H", "unix://" + d.sock}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// dockerQuiet runs the CLI without logging the command: for polling.
func (d *dockerHost) dockerQuiet(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"--config", filepath.Join(d.dir, "cli"), "-H", "unix://" + d.sock}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// dockerCmd is a docker CLI command to start and read from.
func (d *dockerHost) dockerCmd(t *testing.T, args ...string) *exec.Cmd {
	return exec.CommandContext(t.Context(), "docker", append([]string{"--config", filepath.Join(d.dir, "cli"), "-H", "unix://" + d.sock}, args...)...)
}

// stop ends dockerd (which stops its containerd) and the plugin, then
// removes whatever they left: processes in dockerd's mount namespace,
// containers in its cgroup parent, and the cgroup directories. It returns
// what it had to remove, empty after a clean shutdown. Safe to call twice.
func (d *dockerHost) stop() []string {
	if d.stopped {
		return nil
	}
	d.stopped = true
	var left []string
	if d.mntNS == "" && d.dockerd != nil && !d.dockerd.Exited() {
		d.mntNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", d.dockerd.Cmd.Process.Pid))
	}
	if d.dockerd != nil && !d.dockerd.Exited() {
		// Containers left by a failed test: dockerd would give each 10s
		// to stop on SIGTERM.
		if ids, err := d.dockerQuiet("ps", "-aq"); err == nil && len(strings.Fields(ids)) > 0 {
			d.dockerQuiet(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		d.dockerd.Signal(syscall.SIGTERM)
		if err := d.dockerd.Wait(20 * time.Second); err != nil && !d.dockerd.Exited() {
			left = append(left, "dockerd ignored SIGTERM")
			d.dockerd.Kill()
		}
	}
	// Never our own namespace: that would name every process here.
	if self, _ := os.Readlink("/proc/self/ns/mnt"); d.mntNS != "" && d.mntNS != self {
		// containerd may still be on its way out after dockerd.
		netlab.Poll(5*time.Second, 20*time.Millisecond, func() error {
			if pids := pidsInMountNS(d.mntNS); len(pids) > 0 {
				return fmt.Errorf("%v", pids)
			}
			return nil
		})
		for _, pid := range pidsInMountNS(d.mntNS) {
			left = append(left, fmt.Sprintf("killed %s (pid %d) in dockerd's mount namespace", procName(pid), pid))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	left = append(left, removeCgroup(d.cgroup)...)
	if d.plugin != nil && !d.plugin.Exited() {
		d.plugin.Signal(syscall.SIGTERM)
		if err := d.plugin.Wait(10 * time.Second); err != nil && !d.plugin.Exited() {
			left = append(left, "the plugin ignored SIGTERM")
			d.plugin.Kill()
		}
	}
	return left
}

// pidsInMountNS lists the processes in mount namespace ns.
func pidsInMountNS(ns string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

func procName(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// removeCgroup kills what is left in cgroup parent name in every
// hierarchy and removes its directories, deepest first.
func removeCgroup(name string) []string {
	var left []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if fi, err := os.Stat("/sys/fs/cgroup/" + name); err == nil && fi.IsDir() {
		roots = append(roots, "/sys/fs/cgroup/"+name) // cgroup v2
	}
	for _, root := range roots {
		var dirs []string
		filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			b, _ := os.ReadFile(filepath.Join(dirs[i], "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					left = append(left, fmt.Sprintf("killed %s (pid %d) in %s", procName(pid), pid, dirs[i]))
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			dir := dirs[i]
			err := netlab.Poll(5*time.Second, 20*time.Millisecond, func() error {
				if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
					return err
				}
				return nil
			})
			if err != nil {
				left = append(left, fmt.Sprintf("cannot remove %s: %v", dir, err))
			}
		}
	}
	return left
}

// mountsUnder lists the mount points under dir in our mount namespace.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var ms []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			ms = append(ms, f[4])
		}
	}
	return ms
}

// sharedDirs lists what is in the shared directories Docker and
// containerd would write to if they were not given their own.
func sharedDirs() map[string]bool {
	seen := map[string]bool{}
	for _, dir := range []string{"/run/docker", "/run/containerd", "/opt/containerd", "/etc/docker"} {
		filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			if err == nil {
				seen[p] = true
			}
			return nil
		})
	}
	return seen
}

// busyboxImage writes a root filesystem as a tar for `docker import`:
// static busybox with the applets the test uses, and the static xfer tool.
func busyboxImage(t *testing.T, path string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{bb, bin.xfer} {
		if f, err := elf.Open(b); err != nil {
			t.Fatal(err)
		} else {
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Fatalf("%s is dynamically linked: the image needs a static one (Debian's busybox-static)", b)
				}
			}
			f.Close()
		}
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := tar.NewWriter(out)
	now := time.Now()
	for _, dir := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		mode := int64(0o755)
		if dir == "tmp" {
			mode = 0o1777
		}
		w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: mode, ModTime: now})
	}
	for name, src := range map[string]string{"bin/busybox": bb, "xfer": bin.xfer} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(b)), ModTime: now})
		w.Write(b)
	}
	for _, applet := range []string{"sh", "sleep", "ping", "ip", "cat", "hostname"} {
		w.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", ModTime: now})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
