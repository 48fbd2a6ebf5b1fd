package lb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxPortsPerService bounds a service's port list, which travels in every
// gossip message about the service.
const MaxPortsPerService = 64

// ParsePortSpecs parses a comma-separated port list such as "80/tcp,53/udp".
// A port without a protocol ("8080") means tcp. Duplicates are rejected.
func ParsePortSpecs(s string) ([]PortSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no ports given: list them like 80/tcp,53/udp")
	}
	fields := strings.Split(s, ",")
	if len(fields) > MaxPortsPerService {
		return nil, fmt.Errorf("%d ports given: a service has at most %d", len(fields), MaxPortsPerService)
	}
	specs := make([]PortSpec, 0, len(fields))
	for _, f := range fields {
		spec, err := parsePortSpec(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		for _, have := range specs {
			if have == spec {
				return nil, fmt.Errorf("port %s is listed twice", spec)
			}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func parsePortSpec(f string) (PortSpec, error) {
	portText, protoText, hasProto := strings.Cut(f, "/")
	proto := ProtoTCP
	if hasProto {
		p, err := ParseProto(protoText)
		if err != nil {
			return PortSpec{}, fmt.Errorf("port %q: %w", f, err)
		}
		proto = p
	}
	n, err := strconv.ParseUint(portText, 10, 32)
	if err != nil {
		return PortSpec{}, fmt.Errorf("port %q: %q is not a number: write ports like 80/tcp", f, portText)
	}
	if n == 0 || n > 65535 {
		return PortSpec{}, fmt.Errorf("port %q: %d is out of range: use 1-65535", f, n)
	}
	return PortSpec{Port: uint16(n), Proto: proto}, nil
}
