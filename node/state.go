package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"meshnet.dev/meshnet/node/config"
)

// stateFile holds what a node keeps across restarts besides its keys
// (node.key, cluster.state): the seeds to rejoin through, the networks
// joined at run time, and the address blocks it held, so a restarted node
// comes back with the same addresses when nobody took them meanwhile.
const stateFile = "node.state"

// maxStateBytes bounds the state file.
const maxStateBytes = 1 << 20

// persisted is the state file's content. Fields are append-only.
type persisted struct {
	V        int               `json:"v"`
	Seeds    []string          `json:"seeds,omitempty"`
	Networks []persistedNet    `json:"networks,omitempty"`
	Blocks   map[string]string `json:"blocks,omitempty"` // network → claimed block
}

type persistedNet struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
}

// loadState reads the state file; a missing file is an empty state. A file
// that cannot be read or parsed stops the node: quietly forgetting its
// networks and addresses would be worse.
func loadState(dir string) (persisted, error) {
	path := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return persisted{V: 1}, nil
	}
	if err != nil {
		return persisted{}, fmt.Errorf("reading %s: %w (check its permissions; the node's keys are in node.key and cluster.state)", path, err)
	}
	var p persisted
	if len(b) > maxStateBytes || json.Unmarshal(b, &p) != nil || p.V < 1 {
		return persisted{}, fmt.Errorf("%s is corrupt: move it aside to start without the remembered seeds, networks and addresses "+
			"(the node keeps its identity and keys, which are in node.key and cluster.state)", path)
	}
	for _, nw := range p.Networks {
		if !config.ValidName(nw.Name) {
			return persisted{}, fmt.Errorf("%s names a network %q that is not valid: move the file aside", path, nw.Name)
		}
	}
	return p, nil
}

// saveState writes the state file atomically and durably: a temporary file
// synced to disk, renamed over the old one, and the directory synced.
func saveState(dir string, p persisted) error {
	p.V = 1
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, stateFile+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// persist records the node's current state if it changed. The
// reconciler calls it at the end of each pass, and Run's stop steps once
// more after the reconciler stopped: the state file is theirs alone.
func (n *Node) persist() {
	if n.opts.SkipControl && n.opts.NewDevice != nil {
		return // in-process tests share nothing on disk
	}
	p := persisted{V: 1, Blocks: map[string]string{}, Seeds: slices.Clone(n.rec.seeds)}
	for name, w := range n.want.all() {
		if w.runtime {
			pn := persistedNet{Name: name}
			if w.Address.IsValid() {
				pn.Address = w.Address.String()
			}
			p.Networks = append(p.Networks, pn)
		}
	}
	slices.SortFunc(p.Networks, func(a, b persistedNet) int { return strings.Compare(a.Name, b.Name) })
	for name, a := range n.rec.nets {
		if a.ipam.block.IsValid() && a.ipam.settled {
			p.Blocks[name] = a.ipam.block.String()
		}
	}
	if persistedEqual(p, n.rec.saved) {
		return
	}
	if err := saveState(n.spec.StateDir, p); err != nil {
		n.log.Error("saving node state", "file", filepath.Join(n.spec.StateDir, stateFile), "err", err)
		return
	}
	n.rec.saved = p
}

func persistedEqual(a, b persisted) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// restoreState applies the state file at start, before any goroutine
// runs: its seeds join the configured ones, its runtime networks are
// wanted again, and its blocks are claimed first.
func (n *Node) restoreState(p persisted) {
	n.rec.saved = p
	for _, s := range p.Seeds {
		n.join = appendUnique(n.join, s)
	}
	n.rec.seeds = slices.Clone(p.Seeds)
	var nets []config.NetworkSpec
	for _, nw := range p.Networks {
		ns := config.NetworkSpec{Name: nw.Name, Device: config.DefaultDevice(nw.Name)}
		if a, err := netip.ParseAddr(nw.Address); err == nil {
			ns.Address = a
		}
		nets = append(nets, ns)
	}
	n.want.restore(nets)
	for name, b := range p.Blocks {
		if pfx, err := netip.ParsePrefix(b); err == nil {
			n.rec.prevBlocks[name] = pfx
		}
	}
}
