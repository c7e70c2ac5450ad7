package attest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeyStoreGenerateListExportImport(t *testing.T) {
	ks := KeyStore{Dir: filepath.Join(t.TempDir(), "keys")}
	if infos, err := ks.List(); err != nil || len(infos) != 0 {
		t.Fatalf("empty store: %v %v", infos, err)
	}
	alice, err := ks.Generate("alice", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Generate("alice", ""); !errors.Is(err, ErrKeyExists) {
		t.Errorf("second alice: %v, want ErrKeyExists", err)
	}
	st, err := os.Stat(filepath.Join(ks.Dir, "alice.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v, mode %v", err, st.Mode())
	}
	line, err := ks.Export("alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(line), "ssh-ed25519 ") || !strings.HasSuffix(string(line), " alice@example.org\n") {
		t.Errorf("export: %q", line)
	}

	other := KeyStore{Dir: t.TempDir()}
	imported, err := other.Import("alice-builder", line)
	if err != nil {
		t.Fatal(err)
	}
	if imported.ID != alice.ID || imported.Secret {
		t.Errorf("imported %+v, want ID %s and no secret", imported, alice.ID)
	}
	if _, err := other.Import("again", line); !errors.Is(err, ErrKeyExists) {
		t.Errorf("same key twice: %v, want ErrKeyExists", err)
	}
	if _, err := other.Signer("alice-builder"); err == nil {
		t.Error("an imported public key gave a signer")
	}
	infos, err := other.List()
	if err != nil || len(infos) != 1 || infos[0].Name != "alice-builder" || infos[0].ID != alice.ID {
		t.Errorf("list after import: %+v %v", infos, err)
	}
}

func TestKeyStoreRejects(t *testing.T) {
	ks := KeyStore{Dir: t.TempDir()}
	for _, name := range []string{"", ".hidden", "a/b", "../x", strings.Repeat("n", 65), "sp ace"} {
		if _, err := ks.Generate(name, ""); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	rsa := "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 x\n"
	for name, line := range map[string]string{"garbage": "hello\n", "rsa": rsa, "empty": ""} {
		if _, err := ks.Import("k", []byte(line)); err == nil {
			t.Errorf("%s public key accepted", name)
		}
	}
}

// sshKeygen returns the path of ssh-keygen: skipped without it, except
// under CI=true, where it fails (.ci/run installs openssh-client).
func sshKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen not found (install openssh-client)")
		}
		t.Skip("ssh-keygen not found")
	}
	return p
}

func runTool(t *testing.T, stdin []byte, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// OpenSSH reads our key files, checks our attestations, and signs
// attestations we accept: the format is plain sshsig.
func TestOpenSSHInteroperates(t *testing.T) {
	keygen := sshKeygen(t)
	ks := KeyStore{Dir: t.TempDir()}
	info, err := ks.Generate("builder", "builder@test")
	if err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, nil, keygen, "-l", "-f", filepath.Join(ks.Dir, "builder.pub"))
	if err != nil || !strings.Contains(out, info.ID) {
		t.Fatalf("ssh-keygen -l: %v\n%s\nwant %s", err, out, info.ID)
	}

	signer, err := ks.Signer("builder")
	if err != nil {
		t.Fatal(err)
	}
	file, err := Sign(statementFor("a/b/b-1.gpkg.tar", "k", []byte("b")), signer)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(file, []byte(sshsigBegin))
	body, sig := file[:i], file[i:]
	dir := t.TempDir()
	pub, _ := ks.Export("builder")
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("builder "), pub...), 0o644); err != nil {
		t.Fatal(err)
	}
	sigPath := filepath.Join(dir, "att.sig")
	if err := os.WriteFile(sigPath, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := []string{"-Y", "verify", "-f", allowed, "-I", "builder", "-n", Namespace, "-s", sigPath}
	if out, err := runTool(t, body, keygen, verify...); err != nil {
		t.Errorf("ssh-keygen -Y verify of our attestation: %v\n%s", err, out)
	}
	if _, err := runTool(t, append(bytes.Clone(body), 'x'), keygen, verify...); err == nil {
		t.Error("ssh-keygen verified a changed statement")
	}

	// ssh-keygen signs, we verify.
	stmt := statementFor("c/d/d-2.gpkg.tar", "", []byte("d"))
	stmt.Signer = info.ID
	body2, _ := stmt.Encode()
	msg := filepath.Join(dir, "stmt")
	if err := os.WriteFile(msg, body2, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runTool(t, nil, keygen, "-Y", "sign", "-f", filepath.Join(ks.Dir, "builder.key"), "-n", Namespace, msg); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig2, err := os.ReadFile(msg + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse(append(body2, sig2...))
	if err != nil || a.Path != "c/d/d-2.gpkg.tar" {
		t.Errorf("attestation signed by ssh-keygen: %+v %v", a.Statement, err)
	}
}
