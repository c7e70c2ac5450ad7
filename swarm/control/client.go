package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/distswarm/distswarm/swarm"
	"github.com/distswarm/distswarm/swarm/collection"
)

// ErrNoDaemon means no node answers on the store's socket: run in-process.
var ErrNoDaemon = errors.New("no distswarm daemon on this store")

// Client talks to the node that owns a store.
type Client struct {
	hc   *http.Client
	sock string
}

// Dial returns a client of the node listening on sock. It returns an error
// wrapping ErrNoDaemon when there is no socket or nobody answers (a stale
// socket of a killed process), and another error when a node answers but
// refuses this user.
func Dial(ctx context.Context, sock string) (*Client, error) {
	if _, err := os.Stat(sock); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDaemon
	}
	c := &Client{sock: sock, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var pong map[string]int
	err := c.call(pctx, http.MethodGet, pathPing, nil, &pong)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, fs.ErrNotExist):
		return nil, ErrNoDaemon
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("control socket %s: permission denied: add this user to the daemon's --socket-group", sock)
	}
	return nil, fmt.Errorf("control socket %s: %w", sock, err)
}

// Fetch runs `distswarm fetch` on the node.
func (c *Client) Fetch(ctx context.Context, req FetchRequest) (FetchResponse, error) {
	var out FetchResponse
	return out, c.call(ctx, http.MethodPost, pathFetch, req, &out)
}

// Obtain runs Portage mode on the node.
func (c *Client) Obtain(ctx context.Context, req ObtainRequest) (ObtainResponse, error) {
	var out ObtainResponse
	return out, c.call(ctx, http.MethodPost, pathObtain, req, &out)
}

// Seed makes the node seed collections (and a distdir in place).
func (c *Client) Seed(ctx context.Context, req SeedRequest) (SeedResponse, error) {
	var out SeedResponse
	return out, c.call(ctx, http.MethodPost, pathSeed, req, &out)
}

// FetchBinpkgs runs `distswarm binpkg fetch` on the node.
func (c *Client) FetchBinpkgs(ctx context.Context, req BinpkgFetchRequest) (BinpkgFetchResponse, error) {
	var out BinpkgFetchResponse
	return out, c.call(ctx, http.MethodPost, pathBinpkgs, req, &out)
}

// Status is the node's status snapshot.
func (c *Client) Status(ctx context.Context) (swarm.NodeStatus, error) {
	var out swarm.NodeStatus
	return out, c.call(ctx, http.MethodGet, pathStatus, nil, &out)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://distswarm"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize))
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("daemon: %s", e.Error)
		}
		return fmt.Errorf("daemon: %s", resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("daemon: reply: %w", err)
	}
	return nil
}

// TorrentsOf encodes collections for a request.
func TorrentsOf(colls []*collection.Collection) ([]Torrent, error) {
	var out []Torrent
	for _, c := range colls {
		for i, mi := range c.Torrents {
			var buf bytes.Buffer
			if err := mi.Write(&buf); err != nil {
				return nil, err
			}
			t := Torrent{MetaInfo: buf.Bytes()}
			if i < len(c.Manifests) {
				t.Manifest = c.Manifests[i]
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// EntriesOf sends what auth knows of names (everything with all).
func EntriesOf(auth *swarm.Authority, names []string, all bool) []Entry {
	es := auth.Subset(names)
	if all {
		es = auth.All()
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Name: e.Path, Size: e.Size, Digests: e.Digests}
	}
	return out
}
