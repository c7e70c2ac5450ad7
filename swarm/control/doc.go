// Package control is the control API of a distswarm node: HTTP with JSON
// bodies over a unix socket in the store (STORE/.distswarm/control.sock),
// through which one-shot commands (fetch, seed, collection add, Portage
// mode) hand their work to the process that owns the store.
//
// The socket is mode 0660 with a configurable group; every connection's
// peer credentials are checked too (root, the daemon's own user, or a
// member of that group), so other users are refused even if the socket's
// mode is loosened. Request bodies are bounded.
package control
