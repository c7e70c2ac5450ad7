package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/distswarm/distswarm/swarm/lantracker"
)

// trackerServer is the daemon's embedded tracker (--tracker).
type trackerServer struct {
	srv *http.Server
	ln  net.Listener
	url string
}

// startTracker listens on addr and returns the tracker with its announce
// URL: on an unspecified address (":6969"), the URL names the machine's
// first LAN address (what other machines can reach), else addr's.
func startTracker(addr string, log *slog.Logger) (*trackerServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /announce", lantracker.New(0))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	tcp := ln.Addr().(*net.TCPAddr)
	host := tcp.IP
	if host.IsUnspecified() {
		host = lanAddress()
	}
	url := "http://" + net.JoinHostPort(host.String(), strconv.Itoa(tcp.Port)) + "/announce"
	return &trackerServer{srv: srv, ln: ln, url: url}, nil
}

func (t *trackerServer) serve() error {
	if err := t.srv.Serve(t.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("tracker: %w", err)
	}
	return nil
}

// lanAddress is the first IPv4 address of an interface that is up and
// not loopback, else 127.0.0.1.
func lanAddress() net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.To4()
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
