package attest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSH signatures (OpenSSH PROTOCOL.sshsig), the format `ssh-keygen -Y sign`
// writes and `ssh-keygen -Y verify` checks. Only Ed25519 keys are used:
// one algorithm, deterministic signatures, 32-byte keys.
const (
	sshsigMagic     = "SSHSIG"
	sshsigVersion   = 1
	sshsigHash      = "sha512"
	sshsigBegin     = "-----BEGIN SSH SIGNATURE-----"
	sshsigEnd       = "-----END SSH SIGNATURE-----"
	sshsigLineWidth = 70 // as ssh-keygen wraps
	// maxSigBlob bounds a decoded signature: an Ed25519 one is 83 bytes of
	// key, 83 of signature and the namespace.
	maxSigBlob = 1024
)

// Namespace is the sshsig namespace of attestations: a signature made for
// another purpose (git commits, files) never verifies as an attestation.
const Namespace = "attestation@distswarm"

// errSignature marks every reason a signature does not verify.
var errSignature = errors.New("bad signature")

// signedData is the blob that is actually signed (PROTOCOL.sshsig).
func signedData(namespace string, message []byte) []byte {
	h := sha512.Sum512(message)
	return append([]byte(sshsigMagic), ssh.Marshal(struct {
		Namespace, Reserved, Hash string
		Digest                    []byte
	}{namespace, "", sshsigHash, h[:]})...)
}

// sigBlob is the signature structure after the magic preamble.
type sigBlob struct {
	Version   uint32
	PublicKey []byte
	Namespace string
	Reserved  string
	Hash      string
	Signature []byte
}

// sshSign signs message with an Ed25519 signer and returns the armoured
// signature.
func sshSign(signer ssh.Signer, namespace string, message []byte) ([]byte, error) {
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("sign: key type %s, only %s is supported", signer.PublicKey().Type(), ssh.KeyAlgoED25519)
	}
	sig, err := signer.Sign(rand.Reader, signedData(namespace, message))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	blob := append([]byte(sshsigMagic), ssh.Marshal(sigBlob{
		Version: sshsigVersion, PublicKey: signer.PublicKey().Marshal(),
		Namespace: namespace, Hash: sshsigHash, Signature: ssh.Marshal(sig),
	})...)
	return armourSig(blob), nil
}

func armourSig(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.WriteString(sshsigBegin + "\n")
	for len(enc) > sshsigLineWidth {
		b.WriteString(enc[:sshsigLineWidth] + "\n")
		enc = enc[sshsigLineWidth:]
	}
	b.WriteString(enc + "\n" + sshsigEnd + "\n")
	return b.Bytes()
}

// sshVerify checks an armoured signature over message and returns the key
// that made it.
func sshVerify(armoured []byte, namespace string, message []byte) (ssh.PublicKey, error) {
	blob, err := dearmourSig(armoured)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(blob, []byte(sshsigMagic))
	if !ok {
		return nil, fmt.Errorf("%w: no %s preamble", errSignature, sshsigMagic)
	}
	var sb sigBlob
	if err := ssh.Unmarshal(rest, &sb); err != nil {
		return nil, fmt.Errorf("%w: signature structure: %v", errSignature, err)
	}
	if sb.Version != sshsigVersion || sb.Namespace != namespace || sb.Hash != sshsigHash || sb.Reserved != "" {
		return nil, fmt.Errorf("%w: version %d, namespace %q, hash %q: want %d, %q, %q",
			errSignature, sb.Version, sb.Namespace, sb.Hash, sshsigVersion, namespace, sshsigHash)
	}
	pub, err := ssh.ParsePublicKey(sb.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", errSignature, err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%w: key type %s, only %s is accepted", errSignature, pub.Type(), ssh.KeyAlgoED25519)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(sb.Signature, &sig); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", errSignature, err)
	}
	if err := pub.Verify(signedData(namespace, message), &sig); err != nil {
		return nil, fmt.Errorf("%w: %v", errSignature, err)
	}
	return pub, nil
}

// dearmourSig decodes the armour: BEGIN line, base64 lines, END line, each
// ended by "\n", nothing else.
func dearmourSig(armoured []byte) ([]byte, error) {
	text, ok := strings.CutPrefix(string(armoured), sshsigBegin+"\n")
	if !ok {
		return nil, fmt.Errorf("%w: no %s line", errSignature, sshsigBegin)
	}
	text, ok = strings.CutSuffix(text, sshsigEnd+"\n")
	if !ok {
		return nil, fmt.Errorf("%w: signature does not end with %s and a newline", errSignature, sshsigEnd)
	}
	if len(text) > 2*maxSigBlob {
		return nil, fmt.Errorf("%w: signature larger than %d bytes", errSignature, maxSigBlob)
	}
	var enc strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		l = strings.TrimSuffix(l, "\n")
		if l == "" || len(l) > 76 {
			return nil, fmt.Errorf("%w: armour line of %d characters", errSignature, len(l))
		}
		enc.WriteString(l)
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("%w: armour: %v", errSignature, err)
	}
	if len(blob) > maxSigBlob {
		return nil, fmt.Errorf("%w: signature larger than %d bytes", errSignature, maxSigBlob)
	}
	return blob, nil
}
