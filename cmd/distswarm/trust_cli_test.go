package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyCommands(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	r := runCLI(t, "", "key", "generate", "--keys-dir", keys, "--comment", "alice@test", "alice")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "alice SHA256:") {
		t.Fatalf("generate: %+v", r)
	}
	id := strings.Fields(r.stdout)[1]
	if r := runCLI(t, "", "key", "generate", "--keys-dir", keys, "alice"); r.code != exitFailed || !strings.Contains(r.stderr, "already") {
		t.Errorf("generate twice: %+v", r)
	}
	if r := runCLI(t, "", "key", "generate", "--keys-dir", keys); r.code != exitUsage {
		t.Errorf("generate without a name: %+v", r)
	}
	exp := runCLI(t, "", "key", "export", "--keys-dir", keys, "alice")
	if exp.code != 0 || !strings.HasPrefix(exp.stdout, "ssh-ed25519 ") {
		t.Fatalf("export: %+v", exp)
	}
	other := filepath.Join(t.TempDir(), "other")
	if r := runCLI(t, exp.stdout, "key", "import", "--keys-dir", other, "alice-pub"); r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("import from stdin: %+v", r)
	}
	if r := runCLI(t, "ssh-ed25519 garbage\n", "key", "import", "--keys-dir", other, "junk"); r.code != exitFailed {
		t.Errorf("import garbage: %+v", r)
	}
	l := runCLI(t, "", "key", "list", "--keys-dir", other, "--json")
	var infos []struct {
		Name, ID string
		Secret   bool
	}
	if err := json.Unmarshal([]byte(l.stdout), &infos); err != nil || l.code != 0 {
		t.Fatalf("list --json: %v %+v", err, l)
	}
	if len(infos) != 1 || infos[0].Name != "alice-pub" || infos[0].ID != id || infos[0].Secret {
		t.Errorf("list: %+v", infos)
	}
	if r := runCLI(t, "", "key", "list", "--keys-dir", keys); r.code != 0 || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "yes") {
		t.Errorf("list table: %+v", r)
	}
}

type builder struct {
	name, keys, pubLine string
}

func newBuilder(t *testing.T, name string) builder {
	t.Helper()
	keys := filepath.Join(t.TempDir(), name)
	if r := runCLI(t, "", "key", "generate", "--keys-dir", keys, name); r.code != 0 {
		t.Fatalf("generate %s: %+v", name, r)
	}
	exp := runCLI(t, "", "key", "export", "--keys-dir", keys, name)
	return builder{name, keys, strings.TrimSpace(exp.stdout)}
}

func (b builder) attest(t *testing.T, pkgdir, out string, extra ...string) {
	t.Helper()
	args := append([]string{"attest", "--keys-dir", b.keys, "--key", b.name, "--pkgdir", pkgdir, "--out", out}, extra...)
	if r := runCLI(t, "", args...); r.code != 0 {
		t.Fatalf("attest by %s: %+v", b.name, r)
	}
}

func trustFile(t *testing.T, threshold string, bs ...builder) string {
	t.Helper()
	text := "threshold = " + threshold + "\n"
	for _, b := range bs {
		text += "[[key]]\nname = \"" + b.name + "\"\npublic-key = \"" + b.pubLine + "\"\n"
	}
	path := filepath.Join(t.TempDir(), "trust.toml")
	write(t, path, []byte(text))
	return path
}

type cliVerdict struct {
	Subject  struct{ Path string }
	Trusted  int
	Agree    []struct{ Key string }
	Disagree []struct{ Key string }
	Missing  []string
	Accepted bool
	Summary  string
}

func verdicts(t *testing.T, r result) map[string]cliVerdict {
	t.Helper()
	var vs []cliVerdict
	if err := json.Unmarshal([]byte(r.stdout), &vs); err != nil {
		t.Fatalf("trust --json: %v\n%+v", err, r)
	}
	out := map[string]cliVerdict{}
	for _, v := range vs {
		out[v.Subject.Path] = v
	}
	return out
}

// Three builders, two honest, one lying about one package, through the
// built binary: attest, then trust at thresholds 1, 2 and 3.
func TestAttestAndTrustThreeBuilders(t *testing.T) {
	pkgdir, evil := t.TempDir(), t.TempDir()
	pkgs := map[string]string{"app-misc/one/one-1-1.gpkg.tar": "one", "app-misc/two/two-1-1.gpkg.tar": "two"}
	for p, data := range pkgs {
		write(t, filepath.Join(pkgdir, p), []byte(data))
		if p == "app-misc/two/two-1-1.gpkg.tar" {
			data = "trojan"
		}
		write(t, filepath.Join(evil, p), []byte(data))
	}
	write(t, filepath.Join(pkgdir, "Packages"), []byte("not a package\n"))
	alice, bob, mallory := newBuilder(t, "alice"), newBuilder(t, "bob"), newBuilder(t, "mallory")
	alice.attest(t, pkgdir, pkgdir, "--build-key", "cfg1")
	bob.attest(t, pkgdir, pkgdir, "--build-key", "cfg1", "--checked")
	mallory.attest(t, evil, pkgdir, "--build-key", "cfg1")

	for _, k := range []string{"1", "2", "3"} {
		tf := trustFile(t, "1", alice, bob, mallory)
		r := runCLI(t, "", "trust", "--trust-file", tf, "--pkgdir", pkgdir, "--build-key", "cfg1", "--threshold", k, "--json")
		vs := verdicts(t, r)
		one, two := vs["app-misc/one/one-1-1.gpkg.tar"], vs["app-misc/two/two-1-1.gpkg.tar"]
		if len(vs) != 2 || one.Summary != "3 of 3 agree, 0 disagree, 0 missing" || !one.Accepted {
			t.Errorf("k=%s: one: %+v", k, one)
		}
		if two.Summary != "2 of 3 agree, 1 disagree, 0 missing" || two.Accepted != (k != "3") ||
			len(two.Disagree) != 1 || two.Disagree[0].Key != "mallory" {
			t.Errorf("k=%s: two: %+v", k, two)
		}
		if r.code != exitFailed || !strings.Contains(r.stderr, `key "mallory"`) {
			t.Errorf("k=%s: a disagreement must fail loudly: code %d, stderr %s", k, r.code, r.stderr)
		}
	}

	// Only the honest keys trusted: all agree, exit 0, plain output.
	r := runCLI(t, "", "trust", "--trust-file", trustFile(t, "2", alice, bob), "--pkgdir", pkgdir, "--build-key", "cfg1")
	if r.code != 0 || strings.Count(r.stdout, "2 of 2 agree, 0 disagree, 0 missing (threshold 2): accepted") != 2 {
		t.Errorf("honest keys: %+v", r)
	}
	// Another build configuration: every trusted key is missing.
	r = runCLI(t, "", "trust", "--trust-file", trustFile(t, "1", alice, bob), "--pkgdir", pkgdir, "--build-key", "cfg2")
	if r.code != exitFailed || strings.Count(r.stdout, "0 of 2 agree, 0 disagree, 2 missing (threshold 1): NOT accepted") != 2 {
		t.Errorf("other build key: %+v", r)
	}
}

func TestTrustReportsBadAttestations(t *testing.T) {
	pkgdir := t.TempDir()
	write(t, filepath.Join(pkgdir, "a/b/b-1.gpkg.tar"), []byte("b"))
	alice, bob := newBuilder(t, "alice"), newBuilder(t, "bob")
	// Not a real package: no Packages entry to derive a build key from.
	alice.attest(t, pkgdir, pkgdir, "--build-key", "cfg")
	bob.attest(t, pkgdir, pkgdir, "--build-key", "cfg")
	files, _ := filepath.Glob(filepath.Join(pkgdir, "attestations", "*", "a", "b", "b-1.gpkg.tar.attestation"))
	if len(files) != 2 {
		t.Fatalf("attestation files: %v", files)
	}
	tampered := false
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if strings.Contains(string(data), "kind=built") && strings.Contains(f, bobDir(t, bob)) {
			write(t, f, []byte(strings.Replace(string(data), "kind=built", "kind=checked", 1)))
			tampered = true
		}
	}
	if !tampered {
		t.Fatal("bob's attestation not found")
	}
	write(t, filepath.Join(pkgdir, "attestations", "junk.attestation"), []byte("junk"))
	r := runCLI(t, "", "trust", "--trust-file", trustFile(t, "2", alice, bob), "--pkgdir", pkgdir, "--build-key", "cfg")
	if r.code != exitFailed || !strings.Contains(r.stdout, "1 of 2 agree, 0 disagree, 1 missing (threshold 2): NOT accepted") {
		t.Errorf("tampered attestation: %+v", r)
	}
	if !strings.Contains(r.stderr, "bad attestation") || !strings.Contains(r.stderr, "junk.attestation") {
		t.Errorf("bad attestations not reported: %s", r.stderr)
	}
	if r := runCLI(t, "", "trust", "--trust-file", trustFile(t, "3", alice, bob), "--pkgdir", pkgdir, "--build-key", "cfg"); r.code != exitUsage {
		t.Errorf("threshold above M: %+v", r)
	}
	if r := runCLI(t, "", "attest", "--keys-dir", alice.keys, "--key", "alice", "--pkgdir", pkgdir, "--built", "--checked"); r.code != exitUsage {
		t.Errorf("--built --checked: %+v", r)
	}
	if r := runCLI(t, "", "attest", "--keys-dir", alice.keys, "--key", "nobody", "--pkgdir", pkgdir); r.code != exitUsage {
		t.Errorf("unknown key: %+v", r)
	}
}

// TestAttestDerivesBuildKey: with no --build-key, attest and trust derive
// each package's build key from its Packages entry (here from the real
// XPAK's metadata): they agree with each other, and an attestation judged
// against another build key counts as missing.
func TestAttestDerivesBuildKey(t *testing.T) {
	pkgdir := t.TempDir()
	xpak, err := os.ReadFile("../../manifest/binpkg/testdata/257-binpkgs__acct-group__adm__adm-0-r2-1.xpak")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(pkgdir, "acct-group/adm/adm-0-r2-1.xpak"), xpak)
	alice := newBuilder(t, "alice")
	alice.attest(t, pkgdir, pkgdir)
	files, _ := filepath.Glob(filepath.Join(pkgdir, "attestations", "*", "acct-group", "adm", "adm-0-r2-1.xpak.attestation"))
	if len(files) != 1 {
		t.Fatalf("attestation files: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), "\nbuild-key=sha256:") {
		t.Fatalf("no derived build key:\n%s", data)
	}
	tf := trustFile(t, "1", alice)
	if r := runCLI(t, "", "trust", "--trust-file", tf, "--pkgdir", pkgdir); r.code != 0 || !strings.Contains(r.stdout, "1 of 1 agree, 0 disagree, 0 missing") {
		t.Errorf("derived build key: %+v", r)
	}
	if r := runCLI(t, "", "trust", "--trust-file", tf, "--pkgdir", pkgdir, "--build-key", "other"); r.code != exitFailed || !strings.Contains(r.stdout, "0 of 1 agree, 0 disagree, 1 missing") {
		t.Errorf("other build key: %+v", r)
	}
}

// bobDir is the attestations directory name of bob's key: the hex
// SHA-256 of the key, found as the directory his attest run created.
func bobDir(t *testing.T, bob builder) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "x/y/y-1.xpak"), []byte("y"))
	bob.attest(t, dir, dir, "--build-key", "cfg")
	entries, err := os.ReadDir(filepath.Join(dir, "attestations"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("bob's attestations dir: %v %v", entries, err)
	}
	return entries[0].Name()
}

// manifest check/verify --keyring: gemato's real signed Manifest and keys.
func TestManifestKeyring(t *testing.T) {
	const (
		signed   = "../../manifest/testdata/gemato-tests__SIGNED_MANIFEST.txt"
		unsigned = "../../manifest/testdata/gentoo__sys-libs__zlib__Manifest"
		gemato   = "../../manifest/openpgp/testdata/gemato-valid-public-key.gpg"
		other    = "../../manifest/openpgp/testdata/gemato-other-valid-public-key.gpg"
	)
	r := runCLI(t, "", "manifest", "check", "--keyring", gemato, signed)
	if r.code != 0 || !strings.Contains(r.stdout, "good signature by 81E12C16BD8DCD60BE180845136880E72A7B1384") {
		t.Errorf("good signature: %+v", r)
	}
	if r := runCLI(t, "", "manifest", "check", "--keyring", other, signed); r.code != exitFailed || !strings.Contains(r.stderr, "not in the keyring") {
		t.Errorf("wrong key: %+v", r)
	}
	if r := runCLI(t, "", "manifest", "check", "--keyring", gemato, unsigned); r.code != exitFailed || !strings.Contains(r.stderr, "not OpenPGP-signed") {
		t.Errorf("unsigned: %+v", r)
	}
	if r := runCLI(t, "", "manifest", "check", signed, unsigned); r.code != 0 {
		t.Errorf("without a keyring nothing is required: %+v", r)
	}
	tampered := filepath.Join(t.TempDir(), "Manifest")
	data, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	write(t, tampered, []byte(strings.Replace(string(data), "IGNORE local", "IGNORE locals", 1)))
	if r := runCLI(t, "", "manifest", "check", "--keyring", gemato, tampered); r.code != exitFailed || !strings.Contains(r.stderr, "bad signature") {
		t.Errorf("tampered: %+v", r)
	}

	distdir := t.TempDir()
	write(t, filepath.Join(distdir, "mydistfile.tar.gz"), nil) // the signed DIST entry: size 0
	if r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, "--keyring", gemato, signed); r.code != 0 {
		t.Errorf("verify with the signer's key: %+v", r)
	}
	if r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, "--keyring", other, signed); r.code != exitFailed {
		t.Errorf("verify with another key: %+v", r)
	}
	if r := runCLI(t, "", "manifest", "verify", "--distdir", distdir, "--keyring", "/nonexistent", signed); r.code != exitUsage {
		t.Errorf("missing keyring: %+v", r)
	}
}
