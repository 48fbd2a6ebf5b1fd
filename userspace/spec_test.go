package userspace

import (
	"strings"
	"testing"
)

func TestParseForward(t *testing.T) {
	for spec, want := range map[string]Forward{
		"tcp:8080:web.mesh:80":     {"tcp", 8080, "web.mesh", 80},
		"udp:5353:10.1.0.2:53":     {"udp", 5353, "10.1.0.2", 53},
		"tcp:2222:[fd00::5]:22":    {"tcp", 2222, "fd00::5", 22},
		"tcp:1:db-1.svc.mesh.:443": {"tcp", 1, "db-1.svc.mesh.", 443},
		"tcp:65535:_srv.mesh:1":    {"tcp", 65535, "_srv.mesh", 1},
	} {
		got, err := ParseForward(spec)
		if err != nil || got != want {
			t.Errorf("ParseForward(%q) = %+v, %v; want %+v", spec, got, err, want)
			continue
		}
		if got.String() != spec {
			t.Errorf("%q prints as %q", spec, got.String())
		}
	}
}

func TestParseForwardErrors(t *testing.T) {
	for spec, says := range map[string]string{
		"":                           "tcp: or udp:",
		"sctp:1:a:2":                 "tcp: or udp:",
		"tcp:8080":                   "destination is missing",
		"tcp:8080:web.mesh":          "NAME_OR_IP:PORT",
		"tcp:0:web.mesh:80":          "local port",
		"tcp:x:web.mesh:80":          "not a number",
		"tcp:8080:web.mesh:70000":    "destination port",
		"tcp:8080:web.mesh:-1":       "not a number",
		"tcp:8080:fd00::5:22":        "in brackets",
		"tcp:8080:[web]:22":          "not an IPv6",
		"tcp:8080:[10.1.0.2]:22":     "only IPv6",
		"tcp:8080:fe80::1%eth0:22":   "in brackets",
		"tcp:8080:[fe80::1%eth0]:22": "zone",
		"tcp:8080:web mesh:22":       "host name",
		"tcp:8080:10.1.0:22":         "not a valid IP",
		"tcp:8080:-web:22":           "host name",
		"tcp:8080::22":               "host name",
		"tcp:8080:" + strings.Repeat("a", 300) + ":1": "longer than",
	} {
		_, err := ParseForward(spec)
		if err == nil {
			t.Errorf("ParseForward(%q) accepted", spec)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, says) || !strings.Contains(msg, ForwardSyntax) || !strings.Contains(msg, `"`+clip(spec)+`"`) {
			t.Errorf("ParseForward(%q): %q; want the spec quoted, %q, and the syntax", spec, msg, says)
		}
	}
}

func TestParseExpose(t *testing.T) {
	for spec, want := range map[string]Expose{
		"tcp:8080":     {"tcp", 8080, 8080},
		"udp:53:5353":  {"udp", 53, 5353},
		"tcp:443:8443": {"tcp", 443, 8443},
	} {
		got, err := ParseExpose(spec)
		if err != nil || got != want {
			t.Errorf("ParseExpose(%q) = %+v, %v; want %+v", spec, got, err, want)
			continue
		}
		if got.String() != spec {
			t.Errorf("%q prints as %q", spec, got.String())
		}
	}
	for spec, says := range map[string]string{
		"":           "tcp: or udp:",
		"8080":       "tcp: or udp:",
		"tcp":        "one or two ports",
		"tcp:":       "empty",
		"tcp:1:2:3":  "one or two ports",
		"tcp:0":      "1 to 65535",
		"udp:53:abc": "local port",
		"tcp:99999":  "1 to 65535",
	} {
		_, err := ParseExpose(spec)
		if err == nil {
			t.Errorf("ParseExpose(%q) accepted", spec)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, says) || !strings.Contains(msg, ExposeSyntax) {
			t.Errorf("ParseExpose(%q): %q; want %q and the syntax", spec, msg, says)
		}
	}
}
