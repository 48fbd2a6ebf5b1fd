package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"meshnet.dev/meshnet/node/api"
)

// maxRequestBody bounds control API request bodies.
const maxRequestBody = 64 << 10

// routes registers the control API's handlers.
func routes(mux *http.ServeMux, n Node) {
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Status(n.State()))
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct{}{})
		n.Shutdown()
	})
	mux.HandleFunc("GET /v1/doctor", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Doctor(n))
	})
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Peers(n.State()))
	})
	mux.HandleFunc("GET /v1/peers/{name}/setup", func(w http.ResponseWriter, r *http.Request) {
		setup, err := PeerSetup(n.State(), r.PathValue("name"))
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				code = http.StatusNotFound
			}
			writeError(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, setup)
	})
	mux.HandleFunc("GET /v1/networks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Networks())
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Services())
	})
	mux.HandleFunc("POST /v1/ping", call(http.StatusOK, badRequest, func(_ *http.Request, req api.PingRequest) (api.PingResult, error) {
		return Ping(n.State(), req)
	}))
	mux.HandleFunc("POST /v1/networks", call(http.StatusCreated, conflictCode, func(_ *http.Request, req api.CreateNetwork) (api.ClusterNetwork, error) {
		return n.CreateNetwork(req)
	}))
	mux.HandleFunc("POST /v1/networks/{name}/join", call(http.StatusOK, badRequest, func(r *http.Request, req api.JoinNetwork) (struct{}, error) {
		return done(n.JoinNetwork(r.PathValue("name"), req))
	}))
	mux.HandleFunc("POST /v1/networks/{name}/leave", call(http.StatusOK, badRequest, func(r *http.Request, _ struct{}) (struct{}, error) {
		return done(n.LeaveNetwork(r.PathValue("name")))
	}))
	mux.HandleFunc("POST /v1/networks/{name}/endpoints", call(http.StatusOK, badRequest, func(r *http.Request, req api.EndpointRequest) (api.ContainerEndpoint, error) {
		return n.AddEndpoint(r.Context(), r.PathValue("name"), req)
	}))
	mux.HandleFunc("DELETE /v1/networks/{name}/endpoints/{container}/{ifname}", call(http.StatusOK, badRequest, func(r *http.Request, _ struct{}) (struct{}, error) {
		return done(n.RemoveEndpoint(r.PathValue("name"), r.PathValue("container"), r.PathValue("ifname")))
	}))
	mux.HandleFunc("GET /v1/networks/{name}/endpoints", func(w http.ResponseWriter, r *http.Request) {
		eps, err := n.Endpoints(r.PathValue("name"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, eps)
	})
	mux.HandleFunc("POST /v1/token", call(http.StatusOK, adminCode, func(_ *http.Request, req api.TokenRequest) (api.Token, error) {
		return n.IssueToken(time.Duration(req.TTLSeconds) * time.Second)
	}))
	mux.HandleFunc("POST /v1/keys/rotate", call(http.StatusOK, adminCode, func(_ *http.Request, req api.RotateRequest) (struct{}, error) {
		return done(n.RotateKeys(req.Node))
	}))
	mux.HandleFunc("POST /v1/evict", call(http.StatusOK, adminCode, func(_ *http.Request, req api.EvictRequest) (struct{}, error) {
		return done(n.Evict(req.Node))
	}))
	mux.HandleFunc("POST /v1/services", call(http.StatusCreated, conflictCode, func(_ *http.Request, req api.CreateService) (api.Service, error) {
		return n.CreateService(req)
	}))
	mux.HandleFunc("DELETE /v1/services/{name}", call(http.StatusOK, badRequest, func(r *http.Request, _ struct{}) (struct{}, error) {
		return done(n.RemoveService(r.PathValue("name")))
	}))
	mux.HandleFunc("POST /v1/services/{name}/backends", call(http.StatusOK, badRequest, func(r *http.Request, req api.BackendRequest) (struct{}, error) {
		return done(n.AddBackend(r.PathValue("name"), req.Addr))
	}))
	mux.HandleFunc("POST /v1/services/{name}/backends/remove", call(http.StatusOK, badRequest, func(r *http.Request, req api.BackendRequest) (struct{}, error) {
		return done(n.RemoveBackend(r.PathValue("name"), req.Addr))
	}))
}

// call makes the handler of a request whose JSON body decodes into R: it
// answers fn's result with status ok, or fn's error with code(err).
func call[R, T any](ok int, code func(error) int, fn func(*http.Request, R) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req R
		if !readJSON(w, r, &req) {
			return
		}
		out, err := fn(r, req)
		if err != nil {
			writeError(w, code(err), err)
			return
		}
		writeJSON(w, ok, out)
	}
}

// done is the result of an operation that returns nothing but an error.
func done(err error) (struct{}, error) { return struct{}{}, err }

// badRequest maps every error to 400.
func badRequest(error) int { return http.StatusBadRequest }

// conflictCode maps a definition that conflicts with an existing one to
// 409, other errors to 400.
func conflictCode(err error) int {
	if errors.Is(err, ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// adminCode maps errors of admin operations to HTTP status codes.
func adminCode(err error) int {
	if errors.Is(err, ErrNotAllowed) {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// readJSON decodes a bounded JSON body; an empty body is an empty request.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return false
	}
	if len(body) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, errors.New("malformed request: "+err.Error()))
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, api.Error{Error: err.Error()})
}
