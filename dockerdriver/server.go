package dockerdriver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Handler serves the plugin protocol.
func (d *Driver) Handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(path string, fn func(body []byte) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			var out any
			if err == nil {
				out, err = fn(body)
			}
			w.Header().Set("Content-Type", ContentType)
			if err != nil {
				json.NewEncoder(w).Encode(errResponse{Err: err.Error(), Error: err.Error()})
				return
			}
			json.NewEncoder(w).Encode(out)
		})
	}
	empty := func([]byte) (any, error) { return struct{}{}, nil }
	reply("/Plugin.Activate", func([]byte) (any, error) {
		return activateResponse{Implements: []string{"NetworkDriver", "IpamDriver"}}, nil
	})
	// Each Docker host holds its own network object (local scope) for a
	// network that reaches every node (global connectivity): meshnet's
	// gossip is the cluster store, so no swarm is needed.
	reply("/NetworkDriver.GetCapabilities", func([]byte) (any, error) {
		return capabilitiesResponse{Scope: "local", ConnectivityScope: "global"}, nil
	})
	reply("/NetworkDriver.CreateNetwork", handle(func(r createNetworkRequest) (any, error) { return struct{}{}, d.createNetwork(r) }))
	reply("/NetworkDriver.DeleteNetwork", handle(func(r networkRequest) (any, error) { return struct{}{}, d.nets.remove(r.NetworkID) }))
	reply("/NetworkDriver.CreateEndpoint", handle(func(r createEndpointRequest) (any, error) { return d.createEndpoint(r) }))
	reply("/NetworkDriver.EndpointOperInfo", func([]byte) (any, error) { return infoResponse{Value: map[string]string{}}, nil })
	reply("/NetworkDriver.DeleteEndpoint", handle(func(r endpointRequest) (any, error) { return struct{}{}, d.removeVeth(r.EndpointID, true) }))
	reply("/NetworkDriver.Join", handle(func(r joinRequest) (any, error) { return d.join(r) }))
	reply("/NetworkDriver.Leave", handle(func(r endpointRequest) (any, error) { return struct{}{}, d.removeVeth(r.EndpointID, false) }))
	for _, p := range []string{"/NetworkDriver.DiscoverNew", "/NetworkDriver.DiscoverDelete",
		"/NetworkDriver.ProgramExternalConnectivity", "/NetworkDriver.RevokeExternalConnectivity", "/IpamDriver.ReleasePool"} {
		reply(p, empty)
	}
	reply("/IpamDriver.GetCapabilities", func([]byte) (any, error) { return ipamCapabilitiesResponse{}, nil })
	reply("/IpamDriver.GetDefaultAddressSpaces", func([]byte) (any, error) {
		return addressSpacesResponse{LocalDefaultAddressSpace: AddressSpace, GlobalDefaultAddressSpace: AddressSpace}, nil
	})
	reply("/IpamDriver.RequestPool", handle(func(r requestPoolRequest) (any, error) { return d.requestPool(r) }))
	reply("/IpamDriver.RequestAddress", handle(func(r requestAddressRequest) (any, error) { return d.requestAddress(r) }))
	reply("/IpamDriver.ReleaseAddress", handle(func(r releaseAddressRequest) (any, error) { return struct{}{}, d.releaseAddress(r) }))
	return mux
}

// handle decodes a request body into R before calling fn; an empty body
// is an empty request.
func handle[R any](fn func(R) (any, error)) func([]byte) (any, error) {
	return func(body []byte) (any, error) {
		var req R
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, errors.New("malformed request: " + err.Error())
			}
		}
		return fn(req)
	}
}
