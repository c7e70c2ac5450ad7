package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Manifest over the size limit is "too large" wherever the limit falls,
// never a syntax error of the line the limit cut (issue 12, case 7: a
// Manifest over 256 MiB was reported as a syntax error on its last line).
// The limit is a parameter of parseLimited, so a real gentoo Manifest
// stands in for a 256 MiB one.
func TestOversizedManifestIsTooLarge(t *testing.T) {
	files, err := filepath.Glob("testdata/gentoo__*")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob: %v", err)
	}
	var data []byte
	for _, f := range files {
		if !strings.Contains(f, "EXCERPT") && !strings.HasSuffix(f, ".gz") {
			data, err = os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if _, err := parseLimited(bytes.NewReader(data), "Manifest", int64(len(data))); err != nil {
		t.Fatalf("at a limit of its own size: %v", err)
	}
	for limit := int64(1); limit < int64(len(data)); limit += 7 {
		_, err := parseLimited(bytes.NewReader(data), "Manifest", limit)
		var se *SyntaxError
		if !errors.Is(err, ErrTooLarge) || errors.As(err, &se) {
			t.Fatalf("cut at %d of %d bytes: %v, want ErrTooLarge", limit, len(data), err)
		}
	}
	_, err = parseLimited(bytes.NewReader(data), "Manifest", int64(len(data))-1)
	if want := "Manifest: manifest too large (limit"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want it to start %q", err, want)
	}
}
