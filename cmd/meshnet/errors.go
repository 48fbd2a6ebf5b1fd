package main

import "errors"

var errMissingConfig = errors.New("missing --config FILE (see configs/meshnet.yaml for a reference)")
