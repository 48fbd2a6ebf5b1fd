package node

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
func (n *Node) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct{}{})
		n.Shutdown()
	})
	mux.HandleFunc("GET /v1/doctor", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Doctor())
	})
	mux.HandleFunc("POST /v1/ping", func(w http.ResponseWriter, r *http.Request) {
		var req api.PingRequest
		if !readJSON(w, r, &req) {
			return
		}
		res, err := n.Ping(req)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /v1/peers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.peers(n.table.Snapshot()))
	})
	mux.HandleFunc("GET /v1/networks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Networks())
	})
	mux.HandleFunc("POST /v1/networks", func(w http.ResponseWriter, r *http.Request) {
		var req api.CreateNetwork
		if !readJSON(w, r, &req) {
			return
		}
		out, err := n.CreateNetwork(req)
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, errConflict) {
				code = http.StatusConflict
			}
			writeError(w, code, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("POST /v1/networks/{name}/join", func(w http.ResponseWriter, r *http.Request) {
		var req api.JoinNetwork
		if !readJSON(w, r, &req) {
			return
		}
		if err := n.JoinNetwork(r.PathValue("name"), req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/token", func(w http.ResponseWriter, r *http.Request) {
		var req api.TokenRequest
		if !readJSON(w, r, &req) {
			return
		}
		tok, err := n.IssueToken(time.Duration(req.TTLSeconds) * time.Second)
		if err != nil {
			writeError(w, adminCode(err), err)
			return
		}
		writeJSON(w, http.StatusOK, tok)
	})
	mux.HandleFunc("POST /v1/keys/rotate", func(w http.ResponseWriter, r *http.Request) {
		var req api.RotateRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := n.RotateKeys(req.Node); err != nil {
			writeError(w, adminCode(err), err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/evict", func(w http.ResponseWriter, r *http.Request) {
		var req api.EvictRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := n.Evict(req.Node); err != nil {
			writeError(w, adminCode(err), err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Services())
	})
	mux.HandleFunc("POST /v1/services", func(w http.ResponseWriter, r *http.Request) {
		var req api.CreateService
		if !readJSON(w, r, &req) {
			return
		}
		out, err := n.CreateService(req)
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, errConflict) {
				code = http.StatusConflict
			}
			writeError(w, code, err)
			return
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("DELETE /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := n.RemoveService(r.PathValue("name")); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/services/{name}/backends", func(w http.ResponseWriter, r *http.Request) {
		var req api.BackendRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := n.AddBackend(r.PathValue("name"), req.Addr); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/services/{name}/backends/remove", func(w http.ResponseWriter, r *http.Request) {
		var req api.BackendRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := n.RemoveBackend(r.PathValue("name"), req.Addr); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/networks/{name}/leave", func(w http.ResponseWriter, r *http.Request) {
		if err := n.LeaveNetwork(r.PathValue("name")); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
}

// adminCode maps errors of admin operations to HTTP status codes.
func adminCode(err error) int {
	if errors.Is(err, errNotAdmin) {
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
