//go:build linux

package swarm

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
)

func manifestAuthority(t *testing.T, dir, name string, data []byte) *Authority {
	t.Helper()
	b, s := blake2b.Sum512(data), sha512.Sum512(data)
	mf := filepath.Join(dir, name+".Manifest")
	line := fmt.Sprintf("DIST %s %d BLAKE2B %s SHA512 %s\n", name, len(data), hex.EncodeToString(b[:]), hex.EncodeToString(s[:]))
	if err := os.WriteFile(mf, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	a := NewAuthority()
	if err := a.AddManifest(mf); err != nil {
		t.Fatal(err)
	}
	return a
}

// cancelled is a context that makes any real hashing fail: a verify that
// succeeds with it did not hash.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestVerifiedCopiesSkipHashingOnlyForTheSameFileAndEntry(t *testing.T) {
	dir := t.TempDir()
	name, data := "big-1.tar.gz", []byte("the verified content of a distfile")
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	auth := manifestAuthority(t, dir, name, data)
	v := newVerifiedCopies()
	if err := v.verify(cancelled(), auth, name, path); err == nil {
		t.Fatal("a file never verified passed without hashing")
	}
	if err := v.verify(context.Background(), auth, name, path); err != nil {
		t.Fatalf("first verify: %v", err)
	}
	if err := v.verify(cancelled(), auth, name, path); err != nil {
		t.Errorf("unchanged file hashed again: %v", err)
	}

	// Same size, mtime set back: ctime still moves, so it is hashed again.
	fi, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	forged := []byte("THE VERIFIED CONTENT OF A DISTFILE")
	if err := os.WriteFile(path, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := v.verify(context.Background(), auth, name, path); err == nil {
		t.Fatal("a rewritten file with its old size and mtime passed as verified")
	}

	// Another authority entry for the name (other digests) is not
	// satisfied by what matched the first one.
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.verify(context.Background(), auth, name, path); err != nil {
		t.Fatal(err)
	}
	other := manifestAuthority(t, t.TempDir(), name, forged)
	if err := v.verify(cancelled(), other, name, path); err == nil {
		t.Error("a copy verified against one entry passed another entry without hashing")
	}
}
