package manifest

import (
	"encoding/hex"
	"testing"
)

// Empty-input digests, as they appear in real Manifests and in the
// standard test vectors of each algorithm.
func TestRegistryEmptyInputVectors(t *testing.T) {
	want := map[string]string{
		BLAKE2B:   "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
		BLAKE2S:   "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9",
		SHA512:    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		SHA256:    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		SHA1:      "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		MD5:       "d41d8cd98f00b204e9800998ecf8427e",
		RMD160:    "9c1185a5c5e9fc54612808977ee8f548b2258d31",
		SHA3_256:  "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
		SHA3_512:  "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
		WHIRLPOOL: "19fa61d75522a4669b44e39c1d2e1726c530232130d407f89afee0964997f7a73e83be698b288febcf88e3e03c4f0757ea8964e59b63d93708b138cc42a66eb3",
	}
	if got := len(SupportedNames()); got != len(want) {
		t.Fatalf("registry has %d names, vectors cover %d", got, len(want))
	}
	for name, hexWant := range want {
		h, ok := NewHash(name)
		if !ok {
			t.Fatalf("%s not supported", name)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != hexWant {
			t.Errorf("%s(\"\") = %s, want %s", name, got, hexWant)
		}
		if DigestSize(name)*2 != len(hexWant) {
			t.Errorf("%s: DigestSize %d does not match vector", name, DigestSize(name))
		}
	}
	for _, bad := range []string{"blake2b", "STREEBOG256", "", "SHA-512"} {
		if Supported(bad) {
			t.Errorf("%q must not be supported (names are case-sensitive, STREEBOG dropped)", bad)
		}
	}
}
