package layout

import (
	"path/filepath"
	"testing"
)

// Every private directory of a Tree is what IsPrivateName refuses, and
// nothing public is.
func TestTreePrivateNames(t *testing.T) {
	tr := Tree{Root: "/var/cache/distswarm"}
	for _, p := range tr.Private() {
		if filepath.Dir(p) != tr.Root || !IsPrivateName(filepath.Base(p)) {
			t.Errorf("private dir %s: not a top-level private name", p)
		}
	}
	for _, p := range []string{tr.Distfiles(), tr.Collections()} {
		if IsPrivateName(filepath.Base(p)) {
			t.Errorf("public dir %s is refused as private", p)
		}
	}
	for _, p := range []string{tr.StateDB(), tr.ControlSocket(), tr.HTTPStaging()} {
		if !underAny(p, tr.Private()) {
			t.Errorf("%s is outside the private dirs", p)
		}
	}
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && rel != "." && filepath.IsLocal(rel) {
			return true
		}
	}
	return false
}
