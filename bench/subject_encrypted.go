package main

import (
	"context"
	"strings"
)

// meshnetEncryptedSubject runs meshnet with a network marked encrypted: the
// same two-node cluster as the plain subjects (startMeshnetPair), node B
// admitted with a join token from node A, traffic carried by the embedded
// wireguard-go. A meshnet built without encryption has no `meshnet token`
// command; the subject is then skipped as not available in this build.
func meshnetEncryptedSubject(mode string) *subject {
	return &subject{
		Name:  "meshnet-" + mode + "-enc",
		Title: "meshnet " + strings.ToUpper(mode) + " encrypted",
		Check: func(ctx context.Context, e *env) error {
			if err := checkMeshnet(ctx, e); err != nil {
				return err
			}
			bin, _ := e.meshnetBinary(ctx)
			if !meshnetHasCommand(ctx, bin, "token") {
				return notAvailable("this meshnet has no encrypted transport yet (no `meshnet token` command)")
			}
			return nil
		},
		Start: func(ctx context.Context, e *env) (*session, error) {
			return startMeshnetPair(ctx, e, mode, true)
		},
	}
}
