package main

import (
	"fmt"
	"net/netip"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/tun"
)

func deviceCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "Create persistent devices a user may run meshnet on without root",
		Long: `Creating a TAP or TUN device needs root (CAP_NET_ADMIN); using one does not.
'meshnet device create' (as root, once) makes a persistent device owned by a
user, with its address and MTU; that user then runs 'meshnet up --device
NAME' with no root and no capabilities. The middle way is to give the
binary the one capability it needs: setcap cap_net_admin+ep $(which meshnet).`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(deviceCreateCmd(g), deviceRmCmd(g))
	return c
}

func deviceCreateCmd(g *globals) *cobra.Command {
	var owner, mode, addr string
	var mtu int
	var fixPerms bool
	c := &cobra.Command{
		Use:   "create NAME --user USER --addr CIDR [--mode tap|tun] [--mtu N] [--fix-perms]",
		Short: "Create a persistent device owned by USER (needs root)",
		Long: `Create a persistent TAP or TUN device owned by USER, with its address and
MTU, for 'meshnet up --device NAME' run by that user without privileges.

USER must be able to open /dev/net/tun. Most distributions make it mode
0666; containers, minimal images and some hosts leave it 0600, and then
create stops before making anything and says so. --fix-perms makes it
0666 instead: safe, because creating a device or taking over one that
belongs to another user still needs CAP_NET_ADMIN. The mode lasts until
reboot; 'make install' adds a udev rule that keeps it.`,
		Example: `  sudo meshnet device create mn-blue --user alice --addr 10.42.0.7/24 --mtu 1370 --fix-perms
  meshnet up --device mn-blue --network blue --token-file token     # then, as alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if owner == "" || addr == "" {
				return usageError{fmt.Errorf("--user and --addr are required")}
			}
			uid, gid, groups, err := lookupUser(owner)
			if err != nil {
				return usageError{err}
			}
			prefix, err := netip.ParsePrefix(addr)
			if err != nil {
				return usageError{fmt.Errorf("--addr %q: write the address with its subnet length, like 10.42.0.7/24", addr)}
			}
			if mtu < 576 || mtu > 65000 {
				return usageError{fmt.Errorf("--mtu %d: use 576-65000 (1370 suits an encrypted network over a 1500-byte underlay)", mtu)}
			}
			if fixPerms {
				changed, err := tun.OpenCloneToUsers()
				if err != nil {
					return err
				}
				if changed {
					fmt.Fprintf(g.stdout, "%s is now mode %04o, so users can open devices made for them\n", tun.CloneDevice, tun.CloneModeForUsers)
				}
			}
			if err := tun.CheckCloneFor(owner, uid, groups...); err != nil {
				return err
			}
			if err := tun.CreatePersistent(name, mode, uid, gid); err != nil {
				return err
			}
			links := tun.NewNetlink()
			for _, step := range []func() error{
				func() error { return links.SetMTU(name, mtu) },
				func() error { return links.AddAddress(name, prefix) },
				func() error { return links.SetUp(name) },
			} {
				if err := step(); err != nil {
					tun.DeletePersistent(name)
					return err
				}
			}
			fmt.Fprintf(g.stdout, "%s device %s created for %s (uid %d) with %s, MTU %d\n", mode, name, owner, uid, prefix, mtu)
			fmt.Fprintf(g.stdout, "as %s: meshnet up --device %s --network NAME --token-file FILE\n", owner, name)
			return nil
		},
	}
	c.Flags().StringVar(&owner, "user", "", "user (name or uid) who will run meshnet on the device")
	c.Flags().StringVar(&mode, "mode", tun.ModeTAP, "tap or tun")
	c.Flags().StringVar(&addr, "addr", "", "the node's address on the network, with its length")
	c.Flags().IntVar(&mtu, "mtu", 1370, "device MTU")
	c.Flags().BoolVar(&fixPerms, "fix-perms", false, "make /dev/net/tun mode 0666 if USER cannot open it")
	return c
}

func deviceRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Short:   "Delete a persistent device",
		Example: "  sudo meshnet device rm mn-blue",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tun.DeletePersistent(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "device %s deleted\n", args[0])
			return nil
		},
	}
}

// lookupUser resolves a user name or numeric id to its uid, primary gid
// and every group it is in. The binary is static, so users are looked up
// in /etc/passwd only; a numeric id found nowhere (a directory user) is
// taken as it is, with no group (gid -1: the device gets no group).
func lookupUser(s string) (uid, gid int, groups []int, err error) {
	u, err := user.Lookup(s)
	if err != nil {
		if u, err = user.LookupId(s); err != nil {
			if n, nerr := strconv.Atoi(s); nerr == nil && n >= 0 {
				return n, -1, nil, nil
			}
			return 0, 0, nil, fmt.Errorf("no user %q in /etc/passwd; for a user from a directory (LDAP and the like), give the numeric uid", s)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	groups = []int{gid}
	ids, _ := u.GroupIds() // best effort: the primary group is what counts most
	for _, id := range ids {
		if g, err := strconv.Atoi(id); err == nil {
			groups = append(groups, g)
		}
	}
	return uid, gid, groups, nil
}
