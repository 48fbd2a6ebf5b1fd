// Command meshnet-cni is a CNI plugin that attaches containers to a meshnet
// network (docs/CONTAINERS.md). The runtime runs it with the CNI
// environment and the network configuration on stdin.
package main

import (
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	cniversion "github.com/containernetworking/cni/pkg/version"

	"meshnet.dev/meshnet/cni"
	"meshnet.dev/meshnet/internal/version"
	"meshnet.dev/meshnet/node/api"
)

func main() {
	p := &cni.Plugin{
		Daemon: func(socket string) cni.Daemon { return api.NewClient(socket) },
		Links:  cni.Netns{},
		Out:    os.Stdout,
	}
	skel.PluginMainFuncs(p.Funcs(), cniversion.All, "meshnet-cni "+version.Version)
}
