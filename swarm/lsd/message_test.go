package lsd

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
)

func hashN(n int) metainfo.Hash {
	var h metainfo.Hash
	for i := range h {
		h[i] = byte(n*7 + i + 1)
	}
	return h
}

func TestParseOtherClients(t *testing.T) {
	ih := hashN(1)
	lower := ih.HexString()
	upper := strings.ToUpper(lower)
	cases := map[string]struct {
		msg    string
		port   int
		cookie string
	}{
		// libtorrent 2.0 (and qBittorrent): one infohash, hex cookie
		"libtorrent":    {"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + lower + "\r\ncookie: 1a2b3c\r\n\r\n\r\n", 6881, "1a2b3c"},
		"libtorrent-v6": {"BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 51413\r\nInfohash: " + lower + "\r\ncookie: 7fffffff\r\n\r\n\r\n", 51413, "7fffffff"},
		// Transmission 3 writes no cookie; hex in upper case is accepted too
		"transmission": {"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: " + upper + "\r\n\r\n\r\n", 51413, ""},
		// bare LF line ends and odd header case
		"lf": {"bt-search * HTTP/1.1\nHOST: 239.192.152.143:6771\nport:  7000 \ninfohash:" + lower + "\n\n", 7000, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := ParseAnnounce([]byte(c.msg))
			if err != nil {
				t.Fatal(err)
			}
			if a.Port != c.port || a.Cookie != c.cookie || len(a.Infohashes) != 1 || a.Infohashes[0] != ih {
				t.Fatalf("got %+v", a)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := hashN(2).HexString()
	cases := map[string]string{
		"empty":          "",
		"other method":   "M-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + good + "\r\n\r\n",
		"no port":        "BT-SEARCH * HTTP/1.1\r\nInfohash: " + good + "\r\n\r\n",
		"port 0":         "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: " + good + "\r\n\r\n",
		"port too large": "BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: " + good + "\r\n\r\n",
		"short hash":     "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: abcd\r\n\r\n",
		"zero hash":      "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + strings.Repeat("0", 40) + "\r\n\r\n",
		"not hex":        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + strings.Repeat("zz", 20) + "\r\n\r\n",
		"v2 hash":        "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + strings.Repeat("ab", 32) + "\r\n\r\n",
		"no colon":       "BT-SEARCH * HTTP/1.1\r\nPort 1\r\nInfohash: " + good + "\r\n\r\n",
		"after headers":  "BT-SEARCH * HTTP/1.1\r\n\r\nPort: 1\r\nInfohash: " + good + "\r\n\r\n",
	}
	for name, msg := range cases {
		if a, err := ParseAnnounce([]byte(msg)); !errors.Is(err, ErrNotAnnounce) {
			t.Errorf("%s: got %+v, %v; want ErrNotAnnounce", name, a, err)
		}
	}
	big := "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: " + good + "\r\nX: " + strings.Repeat("a", MaxDatagram) + "\r\n\r\n"
	if _, err := ParseAnnounce([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized datagram: %v, want ErrTooLarge", err)
	}
}

func TestParseBoundsInfohashes(t *testing.T) {
	var b strings.Builder
	b.WriteString("BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n")
	for i := range MaxInfohashesPerDatagram + 4 {
		b.WriteString("Infohash: " + hashN(i).HexString() + "\r\n")
	}
	b.WriteString("\r\n")
	a, err := ParseAnnounce([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Infohashes) != MaxInfohashesPerDatagram {
		t.Fatalf("took %d infohashes, want the first %d", len(a.Infohashes), MaxInfohashesPerDatagram)
	}
}

func TestMarshalRoundTripAndSplit(t *testing.T) {
	var ihs []metainfo.Hash
	for i := range 60 {
		ihs = append(ihs, hashN(i))
	}
	for _, v6 := range []bool{false, true} {
		dgs := MarshalAnnounces(v6, 6881, "c0ffee", ihs)
		if len(dgs) < 3 {
			t.Fatalf("60 infohashes in %d datagrams: they cannot fit in %d bytes each", len(dgs), maxSendDatagram)
		}
		var got []metainfo.Hash
		for _, dg := range dgs {
			if len(dg) > maxSendDatagram {
				t.Fatalf("datagram of %d bytes", len(dg))
			}
			wantHost := hostV4
			if v6 {
				wantHost = hostV6
			}
			if !bytes.Contains(dg, []byte("\r\nHost: "+wantHost+"\r\n")) {
				t.Fatalf("no Host %s in %q", wantHost, dg)
			}
			a, err := ParseAnnounce(dg)
			if err != nil {
				t.Fatal(err)
			}
			if a.Port != 6881 || a.Cookie != "c0ffee" {
				t.Fatalf("got %+v", a)
			}
			got = append(got, a.Infohashes...)
		}
		if len(got) != len(ihs) {
			t.Fatalf("round trip: %d infohashes, want %d", len(got), len(ihs))
		}
		for i := range ihs {
			if got[i] != ihs[i] {
				t.Fatalf("infohash %d: %s, want %s", i, got[i], ihs[i])
			}
		}
	}
	if MarshalAnnounces(false, 1, "x", nil) != nil {
		t.Fatal("datagrams for no infohashes")
	}
}

func FuzzParseAnnounce(f *testing.F) {
	ih := hashN(3).HexString()
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: " + ih + "\r\ncookie: 1\r\n\r\n\r\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\nPort: 1\nInfohash: " + strings.ToUpper(ih) + "\nInfohash: " + ih + "\n\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnnounce(b)
		if err != nil {
			return
		}
		if a.Port < 1 || a.Port > 65535 || len(a.Infohashes) == 0 || len(a.Infohashes) > MaxInfohashesPerDatagram {
			t.Fatalf("accepted %+v", a)
		}
		// what we accept, we can say again and read back the same
		for _, dg := range MarshalAnnounces(false, a.Port, "c", a.Infohashes) {
			if _, err := ParseAnnounce(dg); err != nil {
				t.Fatalf("re-marshalled announce does not parse: %v", err)
			}
		}
	})
}
