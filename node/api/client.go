package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
)

// Client talks to a running daemon over its control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	// No keep-alive: a unix socket costs nothing to connect, and a client
	// that is dropped without closing would pin an idle connection in the
	// daemon.
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// maxResponse bounds what the client reads from the daemon.
const maxResponse = 16 << 20

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Peers lists the cluster's members.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var out []Peer
	return out, c.Do(ctx, http.MethodGet, "/v1/peers", nil, &out)
}

// Networks lists the cluster's networks.
func (c *Client) Networks(ctx context.Context) ([]ClusterNetwork, error) {
	var out []ClusterNetwork
	return out, c.Do(ctx, http.MethodGet, "/v1/networks", nil, &out)
}

// CreateNetwork defines a network in the cluster.
func (c *Client) CreateNetwork(ctx context.Context, req CreateNetwork) (ClusterNetwork, error) {
	var out ClusterNetwork
	return out, c.Do(ctx, http.MethodPost, "/v1/networks", req, &out)
}

// JoinNetwork attaches the node to a network.
func (c *Client) JoinNetwork(ctx context.Context, name string, req JoinNetwork) error {
	return c.Do(ctx, http.MethodPost, "/v1/networks/"+url.PathEscape(name)+"/join", req, nil)
}

// LeaveNetwork detaches the node from a network.
func (c *Client) LeaveNetwork(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodPost, "/v1/networks/"+url.PathEscape(name)+"/leave", nil, nil)
}

// AddEndpoint allocates (or returns the existing) container endpoint on a
// network and publishes it.
func (c *Client) AddEndpoint(ctx context.Context, network string, req EndpointRequest) (ContainerEndpoint, error) {
	var out ContainerEndpoint
	return out, c.Do(ctx, http.MethodPost, "/v1/networks/"+url.PathEscape(network)+"/endpoints", req, &out)
}

// RemoveEndpoint withdraws a container endpoint; one the daemon does not
// know is no error.
func (c *Client) RemoveEndpoint(ctx context.Context, network, containerID, ifname string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/networks/"+url.PathEscape(network)+"/endpoints/"+
		url.PathEscape(containerID)+"/"+url.PathEscape(ifname), nil, nil)
}

// Endpoints lists a network's endpoints and this node's containers on it.
func (c *Client) Endpoints(ctx context.Context, network string) (NetworkEndpoints, error) {
	var out NetworkEndpoints
	return out, c.Do(ctx, http.MethodGet, "/v1/networks/"+url.PathEscape(network)+"/endpoints", nil, &out)
}

// Token asks an admin node for a join token.
func (c *Client) Token(ctx context.Context, ttl time.Duration) (Token, error) {
	var out Token
	return out, c.Do(ctx, http.MethodPost, "/v1/token", TokenRequest{TTLSeconds: int64(ttl.Seconds())}, &out)
}

// RotateKeys rotates the cluster keys (admin) or, with node, this node's
// identity key.
func (c *Client) RotateKeys(ctx context.Context, node bool) error {
	return c.Do(ctx, http.MethodPost, "/v1/keys/rotate", RotateRequest{Node: node}, nil)
}

// Evict evicts a node (admin).
func (c *Client) Evict(ctx context.Context, node string) error {
	return c.Do(ctx, http.MethodPost, "/v1/evict", EvictRequest{Node: node}, nil)
}

// Services lists the cluster's services.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var out []Service
	return out, c.Do(ctx, http.MethodGet, "/v1/services", nil, &out)
}

// CreateService defines a service.
func (c *Client) CreateService(ctx context.Context, req CreateService) (Service, error) {
	var out Service
	return out, c.Do(ctx, http.MethodPost, "/v1/services", req, &out)
}

// RemoveService removes a service everywhere.
func (c *Client) RemoveService(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/services/"+url.PathEscape(name), nil, nil)
}

// AddBackend registers a backend hosted by this node.
func (c *Client) AddBackend(ctx context.Context, service, addr string) error {
	return c.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/backends", BackendRequest{Addr: addr}, nil)
}

// RemoveBackend withdraws a backend hosted by this node.
func (c *Client) RemoveBackend(ctx context.Context, service, addr string) error {
	return c.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/backends/remove", BackendRequest{Addr: addr}, nil)
}

// Doctor runs the daemon's checks.
func (c *Client) Doctor(ctx context.Context) ([]Check, error) {
	var out []Check
	return out, c.Do(ctx, http.MethodGet, "/v1/doctor", nil, &out)
}

// Ping asks the daemon to ping a node or overlay address.
func (c *Client) Ping(ctx context.Context, req PingRequest) (PingResult, error) {
	var out PingResult
	return out, c.Do(ctx, http.MethodPost, "/v1/ping", req, &out)
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (if non-nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://meshnet"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.explain(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// ErrNoDaemon says nothing listens on the control socket.
var ErrNoDaemon = errors.New("no meshnet daemon is running")

// explain turns a dial failure into advice.
func (c *Client) explain(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w on %s (start one with `meshnet up`, or pass --state-dir)", ErrNoDaemon, c.socket)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("not allowed to use %s: run as root or as a member of the daemon's control group", c.socket)
	}
	return fmt.Errorf("contacting the daemon on %s: %w", c.socket, err)
}
