package manifest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"testing"
)

// TestVerifyRealGPKG verifies the members of a real GPKG (GLEP 78) binary
// package against its inner Manifest (DATA entries, BLAKE2B+SHA512), both
// streamed (VerifyReader) and from extracted files (VerifyFile), and checks
// that a flipped byte is caught.
func TestVerifyRealGPKG(t *testing.T) {
	f, err := os.Open("testdata/joepasss-gentoo-bin__amd64__acct-group__dnsmasq__dnsmasq-0-r3-1.gpkg.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		members[path.Base(h.Name)] = b
	}
	m, err := Parse(bytes.NewReader(members["Manifest"]), "dnsmasq-0-r3-1/Manifest")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	for _, e := range m.Entries {
		data, ok := members[e.Path]
		if !ok {
			t.Fatalf("member %s missing", e.Path)
		}
		if res, err := VerifyReader(ctx, bytes.NewReader(data), e); err != nil || len(res.Checked) != 2 {
			t.Errorf("%s: %v %+v", e.Path, err, res)
		}
		p := dir + "/" + e.Path
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyFile(ctx, p, e); err != nil {
			t.Errorf("%s: %v", e.Path, err)
		}
		if len(data) > 0 {
			bad := bytes.Clone(data)
			bad[len(bad)-1] ^= 0x80
			var me *MismatchError
			if _, err := VerifyReader(ctx, bytes.NewReader(bad), e); !errors.As(err, &me) || me.What != BLAKE2B {
				t.Errorf("%s corrupted: %v", e.Path, err)
			}
		}
	}
	if len(m.Entries) != 3 {
		t.Errorf("%d entries", len(m.Entries))
	}
}
