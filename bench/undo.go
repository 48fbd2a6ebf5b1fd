package main

import "errors"

// undo collects the steps that remove what a setup made, to run in reverse
// order on failure or at the end.
type undo []func() error

func (u *undo) add(f func() error) { *u = append(*u, f) }

// run runs every step, last added first, and joins their errors.
func (u *undo) run() error {
	var errs []error
	for i := len(*u) - 1; i >= 0; i-- {
		if err := (*u)[i](); err != nil {
			errs = append(errs, err)
		}
	}
	*u = nil
	return errors.Join(errs...)
}
