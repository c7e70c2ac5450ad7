package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key file suffixes in a KeyStore.
const (
	publicSuffix = ".pub"
	secretSuffix = ".key"
	// maxKeyFile bounds every key file read.
	maxKeyFile = 16 << 10
)

// ErrKeyExists is returned when a name or key is already in the store.
var ErrKeyExists = errors.New("key already in the store")

// KeyStore is a directory of named keys: NAME.pub holds an OpenSSH public
// key line (authorized_keys format), NAME.key, for keys generated here,
// the OpenSSH private key (mode 0600, unencrypted). Imported keys have
// only NAME.pub.
type KeyStore struct {
	Dir string
}

// DefaultKeyDir is distswarm/keys under the user's configuration
// directory ($XDG_CONFIG_HOME or ~/.config on Linux).
func DefaultKeyDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("key store: %w", err)
	}
	return filepath.Join(base, "distswarm", "keys"), nil
}

// KeyInfo describes one key of the store.
type KeyInfo struct {
	Name    string `json:"name"`
	ID      string `json:"id"` // KeyID
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
	Secret  bool   `json:"secret"` // the private key is in the store
}

// CheckKeyName accepts 1-64 characters of [A-Za-z0-9._@-], not starting
// with '.'.
func CheckKeyName(name string) error {
	if name == "" || len(name) > 64 || name[0] == '.' {
		return fmt.Errorf("key name %q: want 1-64 characters, not starting with '.'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return fmt.Errorf("key name %q: only letters, digits and . _ @ -", name)
		}
	}
	return nil
}

// Generate makes an Ed25519 key named name. It never overwrites a key.
func (k KeyStore) Generate(name, comment string) (KeyInfo, error) {
	if err := CheckKeyName(name); err != nil {
		return KeyInfo{}, err
	}
	if err := k.checkFree(name); err != nil {
		return KeyInfo{}, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("encode private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("encode public key: %w", err)
	}
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return KeyInfo{}, fmt.Errorf("key store: %w", err)
	}
	if err := writeNew(filepath.Join(k.Dir, name+secretSuffix), pem.EncodeToMemory(block), 0o600); err != nil {
		return KeyInfo{}, err
	}
	if err := writeNew(filepath.Join(k.Dir, name+publicSuffix), authorizedLine(sshPub, comment), 0o644); err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{Name: name, ID: KeyID(sshPub), Type: sshPub.Type(), Comment: comment, Secret: true}, nil
}

// Import adds a public key (one OpenSSH public key line) under name. A
// name or key already in the store is ErrKeyExists.
func (k KeyStore) Import(name string, line []byte) (KeyInfo, error) {
	if err := CheckKeyName(name); err != nil {
		return KeyInfo{}, err
	}
	pub, comment, err := ParsePublicKey(line)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := k.checkFree(name); err != nil {
		return KeyInfo{}, err
	}
	infos, err := k.List()
	if err != nil {
		return KeyInfo{}, err
	}
	for _, in := range infos {
		if in.ID == KeyID(pub) {
			return KeyInfo{}, fmt.Errorf("%w: %s is already there as %q", ErrKeyExists, in.ID, in.Name)
		}
	}
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return KeyInfo{}, fmt.Errorf("key store: %w", err)
	}
	if err := writeNew(filepath.Join(k.Dir, name+publicSuffix), authorizedLine(pub, comment), 0o644); err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{Name: name, ID: KeyID(pub), Type: pub.Type(), Comment: comment}, nil
}

// ParsePublicKey parses one OpenSSH public key line ("ssh-ed25519 AAAA…
// comment"); only Ed25519 keys are accepted.
func ParsePublicKey(line []byte) (ssh.PublicKey, string, error) {
	if len(line) > maxKeyFile {
		return nil, "", fmt.Errorf("public key longer than %d bytes", maxKeyFile)
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, "", fmt.Errorf("public key: %w", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, "", errors.New("public key: more than one key given")
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, "", fmt.Errorf("public key type %s: only %s is supported", pub.Type(), ssh.KeyAlgoED25519)
	}
	return pub, comment, nil
}

// Export returns the public key line of the key named name.
func (k KeyStore) Export(name string) ([]byte, error) {
	pub, comment, err := k.Public(name)
	if err != nil {
		return nil, err
	}
	return authorizedLine(pub, comment), nil
}

// Public reads the public key named name.
func (k KeyStore) Public(name string) (ssh.PublicKey, string, error) {
	if err := CheckKeyName(name); err != nil {
		return nil, "", err
	}
	data, err := readKeyFile(filepath.Join(k.Dir, name+publicSuffix))
	if err != nil {
		return nil, "", err
	}
	return ParsePublicKey(data)
}

// Signer loads the private key named name.
func (k KeyStore) Signer(name string) (ssh.Signer, error) {
	if err := CheckKeyName(name); err != nil {
		return nil, err
	}
	data, err := readKeyFile(filepath.Join(k.Dir, name+secretSuffix))
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", name, err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("private key %s: type %s, only %s is supported", name, signer.PublicKey().Type(), ssh.KeyAlgoED25519)
	}
	return signer, nil
}

// List returns every key of the store, by name. A missing directory is an
// empty store.
func (k KeyStore) List() ([]KeyInfo, error) {
	entries, err := os.ReadDir(k.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	var out []KeyInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), publicSuffix)
		if !ok || CheckKeyName(name) != nil {
			continue
		}
		pub, comment, err := k.Public(name)
		if err != nil {
			return nil, fmt.Errorf("key store: %s: %w", e.Name(), err)
		}
		_, serr := os.Stat(filepath.Join(k.Dir, name+secretSuffix))
		out = append(out, KeyInfo{Name: name, ID: KeyID(pub), Type: pub.Type(), Comment: comment, Secret: serr == nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (k KeyStore) checkFree(name string) error {
	for _, suffix := range []string{publicSuffix, secretSuffix} {
		if _, err := os.Lstat(filepath.Join(k.Dir, name+suffix)); err == nil {
			return fmt.Errorf("%w: %q", ErrKeyExists, name)
		}
	}
	return nil
}

func authorizedLine(pub ssh.PublicKey, comment string) []byte {
	line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n"))
	if comment != "" {
		line = append(line, ' ')
		line = append(line, comment...)
	}
	return append(line, '\n')
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}

// writeNew creates path exclusively (never replacing a file) and writes
// data.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
