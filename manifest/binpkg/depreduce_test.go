package binpkg

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var depAtoms = []string{
	"a/b", "c/d[x?]", ">=e/f-1:2=[y=,-z,!w?]", "!g/h", "!!i/j[u(+)?,v(-)=]", "k/l:0/1[!x=]",
	"=m/n-2*[x,-y]", "o/p[z?,w?]", "q/r[!u?,x(+)]",
}

var depFlags = []string{"x", "y", "z", "w", "u", "v"}

// randomDeps builds a dependency string of nested groups, conditionals
// and any-of groups.
func randomDeps(rng *rand.Rand, depth int, atoms bool) string {
	n := 1 + rng.IntN(3)
	parts := make([]string, 0, n)
	for range n {
		choice := rng.IntN(10)
		if depth <= 0 {
			choice = 0
		}
		inner := func() string { return randomDeps(rng, depth-1, atoms) }
		switch {
		case choice < 4 && atoms:
			parts = append(parts, depAtoms[rng.IntN(len(depAtoms))])
		case choice < 4:
			parts = append(parts, []string{"GPL-2", "MIT", "BSD", "test", "mirror"}[rng.IntN(5)])
		case choice < 6:
			parts = append(parts, depFlags[rng.IntN(len(depFlags))]+"? ( "+inner()+" )")
		case choice < 7:
			parts = append(parts, "!"+depFlags[rng.IntN(len(depFlags))]+"? ( "+inner()+" )")
		case choice < 9:
			parts = append(parts, "|| ( "+inner()+" )")
		default:
			parts = append(parts, "( "+inner()+" )")
		}
	}
	return strings.Join(parts, " ")
}

// portageReduceScript runs Portage's use_reduce + paren_enclose as
// binarytree._eval_use_flags does, on JSON [[depstr, [use…], atoms], …].
const portageReduceScript = `
import json, sys
from portage.dep import use_reduce, paren_enclose, Atom
from portage.exception import InvalidDependString
out = []
for depstr, use, atoms in json.load(open(sys.argv[1])):
    try:
        out.append(paren_enclose(use_reduce(depstr, uselist=frozenset(use), token_class=Atom if atoms else None)))
    except InvalidDependString:
        out.append(None)
json.dump(out, sys.stdout)
`

// TestReduceDepsAgainstPortage compares ReduceDeps with Portage's own
// use_reduce on hand-picked and 3,000 random dependency strings.
func TestReduceDepsAgainstPortage(t *testing.T) {
	tree := portageTree(t)
	type depCase struct {
		Dep   string
		Use   []string
		Atoms bool
	}
	cases := []depCase{
		{"|| ( foo? ( a/b ) )", []string{"x"}, true},
		{"|| ( a/b )", nil, true},
		{"( ( a/b ) )", nil, true},
		{"|| ( x? ( a/b c/d ) e/f )", []string{"x"}, true},
		{"|| ( ( a/b c/d ) || ( e/f g/h ) )", nil, true},
		{"x? ( || ( a/b c/d ) ) y? ( || ( e/f ) )", []string{"x", "y"}, true},
		{"( )", nil, true}, {"|| a/b", nil, true}, {"x? a/b", nil, true}, {") a/b", nil, true},
		{"a/b )", nil, true}, {"( a/b", nil, true}, {"x?", nil, true}, {"_x? ( a/b )", nil, true},
		{"c/d[x?", []string{"x"}, true}, {"c/d[x??]", nil, true}, {"GPL-2 || ( MIT BSD )", nil, false},
		// Found by make fuzz-long: an "atom" that evaluates to "(", and a string whose
		// reduction Portage reduces further (use_reduce is not idempotent).
		{"([0?]", []string{"1"}, true}, {"|| ( ( 0 || ( ( 0 0 ) ) ) )", nil, false}, {"0 ( 0 0 )", nil, false},
	}
	rng := rand.New(rand.NewPCG(9, 78))
	for range 3000 {
		var use []string
		for _, f := range depFlags {
			if rng.IntN(2) == 0 {
				use = append(use, f)
			}
		}
		atoms := rng.IntN(4) != 0
		cases = append(cases, depCase{randomDeps(rng, 1+rng.IntN(4), atoms), use, atoms})
	}
	in, err := json.Marshal(func() [][]any {
		var rows [][]any
		for _, c := range cases {
			rows = append(rows, []any{c.Dep, append([]string{}, c.Use...), c.Atoms})
		}
		return rows
	}())
	if err != nil {
		t.Fatal(err)
	}
	inFile := filepath.Join(t.TempDir(), "deps.json")
	if err := os.WriteFile(inFile, in, 0o644); err != nil {
		t.Fatal(err)
	}
	var want []*string
	if err := json.Unmarshal(runPortagePython(t, tree, portageReduceScript, inFile), &want); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, c := range cases {
		use := map[string]bool{}
		for _, f := range c.Use {
			use[f] = true
		}
		got, err := ReduceDeps(c.Dep, use, c.Atoms)
		switch {
		case want[i] == nil && err == nil:
			t.Errorf("%q use %v: Portage rejects, we give %q", c.Dep, c.Use, got)
		case want[i] != nil && err != nil:
			t.Errorf("%q use %v: Portage gives %q, we fail: %v", c.Dep, c.Use, *want[i], err)
		case want[i] != nil && got != *want[i]:
			t.Errorf("%q use %v:\n ours    %q\n portage %q", c.Dep, c.Use, got, *want[i])
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatal("too many differences")
		}
	}
}
