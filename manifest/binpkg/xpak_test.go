package binpkg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

const xpakSample = "testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak"

func manExample(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(`
		58 50 41 4b 50 41 43 4b  00 00 00 20 00 00 00 10
		00 00 00 04 66 69 6c 31  00 00 00 00 00 00 00 08
		00 00 00 04 66 69 6c 32  00 00 00 08 00 00 00 08
		64 64 44 64 64 44 64 64  6a 6a 4a 6a 6a 4a 6a 6a
		58 50 41 4b 53 54 4f 50`), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseXPAKManExample(t *testing.T) {
	blob := manExample(t)
	x, err := ParseXPAK(blob)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(x.Keys, ",") != "fil1,fil2" || string(x.Metadata["fil1"]) != "ddDddDdd" || string(x.Metadata["fil2"]) != "jjJjjJjj" {
		t.Fatalf("got %v %q", x.Keys, x.Metadata)
	}
	enc, err := EncodeXPAK(x.Metadata, x.Keys)
	if err != nil || !bytes.Equal(enc, blob) {
		t.Fatalf("EncodeXPAK differs from man 5 xpak (%v):\n%x\n%x", err, enc, blob)
	}
}

func TestReadXPAKRealSample(t *testing.T) {
	b, err := os.ReadFile(xpakSample)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ReadXPAK(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	// GENTOO-FORMATS §3.2: infosize 9463, 25 keys, zstd tar first.
	if len(x.Keys) != 25 || x.TarSize != int64(len(b))-8-9463 {
		t.Fatalf("%d keys, tar %d bytes", len(x.Keys), x.TarSize)
	}
	if !bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatal("sample no longer starts with zstd magic")
	}
	for k, want := range map[string]string{"CATEGORY": "acct-group", "PF": "adm-0-r2", "BUILD_ID": "1", "CHOST": "x86_64-pc-linux-gnu", "EAPI": "7"} {
		if got := x.Metadata.Value(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if cpv, err := x.Metadata.CPV(); err != nil || cpv.String() != "acct-group/adm-0-r2" {
		t.Fatalf("cpv %v %v", cpv, err)
	}
	if f, err := Sniff(bytes.NewReader(b), int64(len(b))); err != nil || f != FormatXPAK {
		t.Fatalf("sniff: %v %v", f, err)
	}
}

func TestReadXPAKCorrupt(t *testing.T) {
	good, err := os.ReadFile(xpakSample)
	if err != nil {
		t.Fatal(err)
	}
	n := len(good)
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"truncated end":   {good[:n-1], "no XPAK trailer"},
		"truncated start": {good[n-200:], "does not fit"},
		"tiny":            {good[n-10:], "too short"},
		"no STOP":         {mutate(func(b []byte) []byte { b[n-1] = 'X'; return b }), "no XPAK trailer"},
		"huge infosize":   {mutate(func(b []byte) []byte { copy(b[n-8:], []byte{0x7f, 0xff, 0xff, 0xff}); return b }), "limit exceeded"},
		"no XPAKPACK":     {mutate(func(b []byte) []byte { b[n-8-9463] = 'Y'; return b }), "not XPAKPACK"},
		"index too long":  {mutate(func(b []byte) []byte { b[n-8-9463+11]++; return b }), "do not fill"},
		"entry overruns":  {mutate(func(b []byte) []byte { b[n-8-9463+16+2] = 0xff; return b }), "overruns the index"},
		"data out of range": {mutate(func(b []byte) []byte {
			i := n - 8 - 9463 + 16 + 4 + int(b[n-8-9463+16+3]) // first entry's offset
			b[i] = 0x10
			return b
		}), "outside the"},
	}
	for name, tc := range cases {
		_, err := ReadXPAK(bytes.NewReader(tc.in), int64(len(tc.in)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
		if name == "truncated end" && !errors.Is(err, ErrNotXPAK) {
			t.Errorf("%s: %v does not wrap ErrNotXPAK", name, err)
		}
	}
}

func TestParseXPAKDuplicateAndBadKeys(t *testing.T) {
	for name, keys := range map[string][]string{"dup": {"A", "A"}, "slash": {"a/b"}, "dotdot": {".."}} {
		m := Metadata{}
		for _, k := range keys {
			m[k] = []byte("v")
		}
		blob, err := EncodeXPAK(m, keys)
		if name != "dup" {
			if err == nil {
				t.Errorf("%s: encoded", name)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseXPAK(blob); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
