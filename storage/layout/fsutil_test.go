package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteFileAtomic creates and then replaces a file, mode 0644, and leaves
// no temporary file behind; a missing directory is an error naming the file.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.torrent")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("content %q, %v; want %q", got, err, content)
		}
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the file", len(ents))
	}
	err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "missing/x") {
		t.Fatalf("write into a missing directory: %v", err)
	}
}
