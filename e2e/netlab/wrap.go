package netlab

import (
	"fmt"
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
	args := append(append(append([]string(nil), wrapper[1:]...), m.Binary, "up", "-c", m.Config), extraArgs...)
	p, err := m.Host.Start("meshnet", wrapper[0], args...)
	if err != nil {
		return err
	}
	m.Proc = p
	err = Poll(60*time.Second, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("meshnet on %s exited: %s", m.Host.Name, p.Output())
		}
		_, err := m.Status()
		return err
	})
	if err != nil {
		return fmt.Errorf("meshnet on %s did not come up: %w\n%s", m.Host.Name, err, p.Output())
	}
	return nil
}
