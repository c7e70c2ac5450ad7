package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// DISTSWARM_MUTEXPROFILE and DISTSWARM_MEMPROFILE each write a pprof
// profile of their kind when the command returns; the mutex profile holds
// the contention the command caused (here two goroutines taking turns on
// one lock), and an unwritable path is reported on stderr, not ignored.
func TestProfilesWrittenOnReturn(t *testing.T) {
	dir := t.TempDir()
	mutexPath, memPath := filepath.Join(dir, "mutex.prof"), filepath.Join(dir, "mem.prof")
	t.Setenv("DISTSWARM_MUTEXPROFILE", mutexPath)
	t.Setenv("DISTSWARM_MEMPROFILE", memPath)
	defer runtime.SetMutexProfileFraction(0)
	code := withProfiles(func() int {
		contend()
		return 3
	})
	if code != 3 {
		t.Fatalf("exit code %d, want the command's 3", code)
	}
	// A pprof file is a gzipped protobuf whose string table names the sample
	// types and the functions seen.
	for path, want := range map[string][]string{
		mutexPath: {"contentions", "distswarm.contend"},
		memPath:   {"alloc_objects"},
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: not a pprof profile: %v", path, err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, w := range want {
			if !bytes.Contains(data, []byte(w)) {
				t.Errorf("%s: %q not in the profile", path, w)
			}
		}
	}
}

// contend makes goroutines wait for a lock another holds, many times.
func contend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				mu.Lock()
				time.Sleep(20 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestProfileUnwritablePathReported(t *testing.T) {
	var stderr bytes.Buffer
	writeProfileTo(&stderr, "DISTSWARM_MUTEXPROFILE", filepath.Join(t.TempDir(), "missing", "mutex.prof"), "mutex")
	if !strings.Contains(stderr.String(), "DISTSWARM_MUTEXPROFILE") {
		t.Fatalf("stderr %q does not name the variable", stderr.String())
	}
}
