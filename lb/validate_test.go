package lb

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func blueNet() NetworkView {
	return NetworkView{
		Name: "blue", VNI: 7, Subnet: netip.MustParsePrefix("10.7.0.0/24"),
		AddrInUse: func(a netip.Addr) (string, bool) {
			if a == netip.MustParseAddr("10.7.0.5") {
				return `endpoint "db-1"`, true
			}
			return "", false
		},
	}
}

func okService() Service {
	return Service{Name: "web", Network: "blue", VNI: 7, VIP: netip.MustParseAddr("10.7.0.100"),
		Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
}

func TestValidateService(t *testing.T) {
	if err := ValidateService(okService(), blueNet()); err != nil {
		t.Fatalf("valid service rejected: %v", err)
	}
	rr := Service{Name: "rr", Network: "blue", VNI: 7, Mode: ModeDNSRR}
	if err := ValidateService(rr, blueNet()); err != nil {
		t.Fatalf("valid dnsrr service rejected: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Service)
		want string
	}{
		{"empty name", func(s *Service) { s.Name = "" }, "name is empty"},
		{"uppercase", func(s *Service) { s.Name = "Web" }, "lowercase"},
		{"underscore", func(s *Service) { s.Name = "my_web" }, `contains '_'`},
		{"leading hyphen", func(s *Service) { s.Name = "-web" }, "hyphen"},
		{"trailing hyphen", func(s *Service) { s.Name = "web-" }, "hyphen"},
		{"dot", func(s *Service) { s.Name = "web.x" }, `contains '.'`},
		{"too long", func(s *Service) { s.Name = strings.Repeat("a", 64) }, "at most 63"},
		{"port 0", func(s *Service) { s.Ports = []PortSpec{{0, ProtoTCP}} }, "port 0"},
		{"bad proto", func(s *Service) { s.Ports = []PortSpec{{80, ProtoICMP}} }, "use tcp or udp"},
		{"dup port", func(s *Service) { s.Ports = []PortSpec{{80, ProtoTCP}, {80, ProtoTCP}} }, "listed twice"},
		{"no ports", func(s *Service) { s.Ports = nil }, "at least one port"},
		{"too many ports", func(s *Service) {
			s.Ports = nil
			for i := range MaxPortsPerService + 1 {
				s.Ports = append(s.Ports, PortSpec{uint16(i + 1), ProtoTCP})
			}
		}, "at most 64"},
		{"no vip", func(s *Service) { s.VIP = netip.Addr{} }, "vip is missing"},
		{"vip outside", func(s *Service) { s.VIP = netip.MustParseAddr("10.8.0.1") }, "outside network \"blue\" subnet 10.7.0.0/24"},
		{"vip wrong family", func(s *Service) { s.VIP = netip.MustParseAddr("fd00::1") }, "outside"},
		{"vip network addr", func(s *Service) { s.VIP = netip.MustParseAddr("10.7.0.0") }, "network address"},
		{"vip broadcast", func(s *Service) { s.VIP = netip.MustParseAddr("10.7.0.255") }, "broadcast"},
		{"vip in use", func(s *Service) { s.VIP = netip.MustParseAddr("10.7.0.5") }, `already used by endpoint "db-1"`},
		{"vip 4in6", func(s *Service) { s.VIP = netip.MustParseAddr("::ffff:10.7.0.9") }, "plain IPv4"},
		{"dnsrr with vip", func(s *Service) { s.Mode = ModeDNSRR }, "dnsrr services have no VIP"},
		{"bad mode", func(s *Service) { s.Mode = "nat" }, `mode "nat" is unknown`},
		{"vni zero", func(s *Service) { s.VNI = 0 }, "vni 0 is out of range"},
		{"vni mismatch", func(s *Service) { s.VNI = 9 }, "does not match network"},
		{"network mismatch", func(s *Service) { s.Network = "red" }, `network "red" does not match`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := okService()
			tc.mod(&s)
			err := ValidateService(s, blueNet())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestValidateServiceReportsEveryProblem(t *testing.T) {
	s := Service{Name: "Bad", Network: "blue", VNI: 7, VIP: netip.MustParseAddr("10.9.0.1"), Ports: []PortSpec{{0, ProtoTCP}}, Mode: ModeVIP}
	err := ValidateService(s, blueNet())
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d problems, want 3 (name, port, vip):\n%v", len(lines), err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `service "Bad": `) {
			t.Errorf("problem %q does not name the service", l)
		}
	}
}

func TestValidateBackend(t *testing.T) {
	svc := okService()
	ok := Backend{Service: "web", Addr: netip.MustParseAddrPort("10.7.0.11:8080"), Node: "n1"}
	if err := ValidateBackend(ok, svc, blueNet()); err != nil {
		t.Fatalf("valid backend rejected: %v", err)
	}
	multi := svc
	multi.Ports = []PortSpec{{80, ProtoTCP}, {443, ProtoTCP}}
	for _, tc := range []struct {
		name string
		svc  Service
		mod  func(*Backend)
		want string
	}{
		{"outside subnet", svc, func(b *Backend) { b.Addr = netip.MustParseAddrPort("10.8.0.11:80") }, "outside network"},
		{"other service", svc, func(b *Backend) { b.Service = "api" }, `belongs to service "api"`},
		{"no address", svc, func(b *Backend) { b.Addr = netip.AddrPort{} }, "address is missing"},
		{"is the vip", svc, func(b *Backend) { b.Addr = netip.MustParseAddrPort("10.7.0.100:80") }, "own vip"},
		{"wrong family", svc, func(b *Backend) { b.Addr = netip.MustParseAddrPort("[fd00::1]:80") }, "IP family"},
		{"port on multi-port", multi, func(b *Backend) {}, "use port 0"},
		{"no node", svc, func(b *Backend) { b.Node = "" }, "node is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok
			tc.mod(&b)
			err := ValidateBackend(b, tc.svc, blueNet())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	zero := ok
	zero.Addr = netip.MustParseAddrPort("10.7.0.11:0")
	if err := ValidateBackend(zero, multi, blueNet()); err != nil {
		t.Fatalf("port-0 backend of a multi-port service rejected: %v", err)
	}
}

func TestParsePortSpecs(t *testing.T) {
	got, err := ParsePortSpecs("80/tcp, 53/udp,8080,443/TCP")
	if err != nil {
		t.Fatal(err)
	}
	want := []PortSpec{{80, ProtoTCP}, {53, ProtoUDP}, {8080, ProtoTCP}, {443, ProtoTCP}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", " ", "0/tcp", "65536/tcp", "70000", "80/sctp", "x/tcp", "80/tcp,80/tcp", "80,", "-1", "80/"} {
		if _, err := ParsePortSpecs(bad); err == nil {
			t.Errorf("ParsePortSpecs(%q) accepted", bad)
		}
	}
	if _, err := ParsePortSpecs(strings.Repeat("1,", MaxPortsPerService) + "2"); err == nil {
		t.Error("more than MaxPortsPerService ports accepted")
	}
}

func TestServiceJSON(t *testing.T) {
	s := okService()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"proto":"tcp"`) {
		t.Errorf("JSON %s does not spell the protocol", b)
	}
	var back Service
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Name != s.Name || back.VIP != s.VIP || !slices.Equal(back.Ports, s.Ports) || back.Mode != s.Mode {
		t.Fatalf("round trip %+v -> %s -> %+v", s, b, back)
	}
	if err := json.Unmarshal([]byte(`{"ports":[{"port":1,"proto":"icmp"}]}`), &back); err == nil {
		t.Error("icmp accepted as a service port protocol")
	}
}

// FuzzParsePortSpecs checks that whatever ParsePortSpecs accepts is valid
// and prints back to a string that parses to the same specs.
func FuzzParsePortSpecs(f *testing.F) {
	for _, s := range []string{"80/tcp,53/udp", "8080", "1/udp, 65535/tcp", "0/tcp", "80/tcp,80/tcp", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		specs, err := ParsePortSpecs(s)
		if err != nil {
			return
		}
		svc := Service{Name: "x", VNI: 1, VIP: netip.MustParseAddr("10.0.0.1"), Ports: specs, Mode: ModeVIP}
		if err := checkService(&svc); err != nil {
			t.Fatalf("ParsePortSpecs(%q) = %v, which does not validate: %v", s, specs, err)
		}
		parts := make([]string, len(specs))
		for i, p := range specs {
			parts[i] = p.String()
		}
		again, err := ParsePortSpecs(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, specs) {
			t.Fatalf("%v printed as %q parses to %v, %v", specs, strings.Join(parts, ","), again, err)
		}
	})
}
