package binpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sharedDir is ../shared beside the repository.
const sharedDir = "../../../shared"

// needShared skips the test when ../shared is absent and fails it under
// CI=true, where .ci/run provides it.
func needShared(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

// portageTree unpacks the real Portage tarball into a temporary directory
// and returns its root (with .portage_not_installed, so it runs in place).
func portageTree(t *testing.T) string {
	t.Helper()
	tarballs, _ := filepath.Glob(filepath.Join(sharedDir, "tools", "portage", "portage-*.tar.xz"))
	if len(tarballs) == 0 {
		needShared(t, "no ../shared/tools/portage/portage-*.tar.xz beside the repository")
	}
	for _, tool := range []string{"/usr/bin/python3", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			needShared(t, tool+" is missing")
		}
	}
	tree := t.TempDir()
	out, err := exec.Command("tar", "-xJf", tarballs[0], "-C", tree).CombinedOutput()
	if err != nil {
		t.Fatalf("unpack %s: %v\n%s", tarballs[0], err, out)
	}
	if err := os.WriteFile(filepath.Join(tree, ".portage_not_installed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return tree
}

// runPortagePython runs a Python script with Portage's lib on PYTHONPATH in
// a private prefix and returns its stdout.
func runPortagePython(t *testing.T, tree, script string, args ...string) []byte {
	t.Helper()
	prefix := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(),
		"PYTHONPATH="+filepath.Join(tree, "lib"),
		"PYTHONDONTWRITEBYTECODE=1",
		"PORTAGE_OVERRIDE_EPREFIX="+prefix,
		"PORTAGE_CONFIGROOT="+prefix)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr)
	}
	return out
}

// portageIndexScript reads each Packages file given with the PackageIndex
// binarytree configures (Portage's own allowed keys, defaults, inherited and
// translated keys), prints header and packages as JSON (empty values
// dropped, as Index keeps them) and writes the index back to FILE.portage
// unmodified except for PACKAGES.
const portageIndexScript = `
import json, sys, portage
from portage.dbapi.bintree import binarytree
import os
root = os.environ["PORTAGE_OVERRIDE_EPREFIX"]
s = portage.config(config_root=root, target_root=root)
bt = binarytree(pkgdir=root + "/pkgdir", settings=s)
result = []
for path in sys.argv[1:]:
    idx = bt._new_pkgindex()
    with open(path, encoding="utf-8") as f:
        idx.read(f)
    nonempty = lambda d: {k: v for k, v in d.items() if v}
    result.append({"header": nonempty(idx.header), "packages": [nonempty(p) for p in idx.packages]})
    idx.modified = False
    idx.header["PACKAGES"] = str(len(idx.packages))
    with open(path + ".portage", "w", encoding="utf-8") as f:
        idx.write(f)
json.dump(result, sys.stdout)
`

// portageBinpkgScript checks binpkgs with Portage's own readers: for each
// argument "gpkg:PREFIX:FILE" it runs gpkg._verify_binpkg() (unsigned) and
// prints "ok" or the exception; for "xpak:FILE" it prints the keys and
// value lengths portage.xpak.tbz2 reads, as JSON lines.
const portageBinpkgScript = `
import json, os, sys, portage
from portage.gpkg import gpkg
from portage import xpak
root = os.environ["PORTAGE_OVERRIDE_EPREFIX"]
s = portage.config(config_root=root, target_root=root)
for arg in sys.argv[1:]:
    kind, rest = arg.split(":", 1)
    if kind == "gpkg":
        prefix, path = rest.split(":", 1)
        try:
            gpkg(s, prefix, path, verify_signature=False)._verify_binpkg()
            print(json.dumps("ok"))
        except Exception as e:
            print(json.dumps(type(e).__name__ + ": " + str(e)))
    else:
        data = xpak.tbz2(rest).get_data()
        print(json.dumps({k.decode(): len(v) for k, v in data.items()}))
`

// portageReindexScript makes Portage's binarytree index the PKGDIR given
// (as `emaint binhost --fix` does) and write PKGDIR/Packages.
const portageReindexScript = `
import os, sys, portage
from portage.dbapi.bintree import binarytree
root = os.environ["PORTAGE_OVERRIDE_EPREFIX"]
s = portage.config(config_root=root, target_root=root)
bt = binarytree(pkgdir=sys.argv[1], settings=s)
bt._pkgindex_write(bt._populate_local())
`
