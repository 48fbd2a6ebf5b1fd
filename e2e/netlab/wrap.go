package netlab

import (
	"time"
)

// StartWrapped (re)starts the daemon with its existing config under a
// wrapper command line, such as `env VAR=… unshare --time …`, which must
// end by executing the program it is given. It waits, like Start, until the
// control socket answers.
func (m *Meshnet) StartWrapped(wrapper []string, extraArgs ...string) error {
	if len(wrapper) == 0 {
		return m.Start(extraArgs...)
	}
	return m.launch(wrapper, 60*time.Second, extraArgs)
}
