package control

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

type peerKey struct{}

// peerCred is who is on the other end of a unix socket connection.
type peerCred struct {
	uid, gid, pid int
	ok            bool
}

// withPeer records the connection's peer credentials (SO_PEERCRED).
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return context.WithValue(ctx, peerKey{}, peerCred{})
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return context.WithValue(ctx, peerKey{}, peerCred{})
	}
	var cred *unix.Ucred
	var credErr error
	_ = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if credErr != nil || cred == nil {
		return context.WithValue(ctx, peerKey{}, peerCred{})
	}
	return context.WithValue(ctx, peerKey{}, peerCred{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid), ok: true})
}

// peerAuth admits root, the daemon's own user and members of group.
type peerAuth struct {
	uid   int
	group int // -1: none
}

func (a peerAuth) allowed(p peerCred) bool {
	if !p.ok {
		return false
	}
	if p.uid == 0 || p.uid == a.uid {
		return true
	}
	if a.group < 0 {
		return false
	}
	if p.gid == a.group {
		return true
	}
	groups, err := supplementaryGroups(p.pid)
	return err == nil && slices.Contains(groups, a.group)
}

func (a peerAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peerCred)
		if !a.allowed(p) {
			fail(w, http.StatusForbidden, fmt.Errorf("uid %d may not use this distswarm daemon (allowed: root, uid %d, group %d)", p.uid, a.uid, a.group))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// supplementaryGroups reads the Groups line of /proc/PID/status.
func supplementaryGroups(pid int) ([]int, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var out []int
		for _, g := range strings.Fields(line) {
			if n, err := strconv.Atoi(g); err == nil {
				out = append(out, n)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("pid %d: no Groups line", pid)
}

func pathDir(p string) string { return filepath.Dir(p) }
