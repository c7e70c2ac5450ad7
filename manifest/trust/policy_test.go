package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func pubLine(p party) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p.signer.PublicKey())))
}

func TestLoadTrustFile(t *testing.T) {
	alice, bob, carol := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	text := `# trust file
threshold = 2

[[key]]
name = "alice"
public-key = "` + pubLine(alice) + ` alice@example.org"

[[key]]
name = "bob"
public-key = "` + pubLine(bob) + `"
expires = 2027-06-30T00:00:00Z

[[key]]
name = "carol"
public-key = "` + pubLine(carol) + `"
revoked = true
`
	path := filepath.Join(t.TempDir(), "trust.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Threshold != 2 || len(p.Keys) != 3 || p.Keys[0].ID != alice.key.ID || !p.Keys[2].Revoked ||
		!p.Keys[1].Expires.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("policy %+v", p)
	}
	if err := p.SetThreshold(3); !errors.Is(err, ErrThreshold) {
		t.Errorf("threshold 3 with a revoked key of 3: %v", err)
	}
}

func TestTrustFileErrors(t *testing.T) {
	alice, bob := newParty(t, "alice"), newParty(t, "bob")
	key := func(name string, p party) string {
		return "[[key]]\nname = \"" + name + "\"\npublic-key = \"" + pubLine(p) + "\"\n"
	}
	cases := map[string]string{
		"threshold zero":     "threshold = 0\n" + key("alice", alice),
		"threshold too high": "threshold = 3\n" + key("alice", alice) + key("bob", bob),
		"no keys":            "threshold = 1\n",
		"unknown field":      "threshold = 1\nthreshhold = 2\n" + key("alice", alice),
		"unknown key field":  "threshold = 1\n" + key("alice", alice) + "trusted = true\n",
		"duplicate name":     "threshold = 1\n" + key("alice", alice) + key("alice", bob),
		"duplicate key":      "threshold = 1\n" + key("alice", alice) + key("bob", alice),
		"bad key":            "threshold = 1\n[[key]]\nname = \"x\"\npublic-key = \"ssh-ed25519 AAAA\"\n",
		"bad name":           "threshold = 1\n" + key("a/b", alice),
		"not toml":           "threshold = = 1\n",
		"oversize":           "# " + strings.Repeat("x", MaxPolicySize) + "\n",
	}
	for name, text := range cases {
		if _, err := Parse(strings.NewReader(text), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
