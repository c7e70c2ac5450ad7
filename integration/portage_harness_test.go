package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real-Portage harness: Portage's own source tree from
// ../shared/tools/portage (see its README), unpacked into the test's
// temporary directory and run in place in a private prefix
// (PORTAGE_OVERRIDE_EPREFIX), with a tiny ebuild repository whose Manifests
// Portage writes itself. Portage runs as root and, with FEATURES=userfetch
// as on Gentoo, drops to an unprivileged user (nobody:nogroup, which Debian
// has) with HOME set to a per-package temporary directory to run
// FETCHCOMMAND.

// portageFetchUser and portageFetchGroup stand in for Gentoo's portage
// user and group.
const (
	portageFetchUser  = "nobody"
	portageFetchGroup = "nogroup"
)

// emergeTimeout bounds every Portage command (a few seconds each when all
// goes well).
const emergeTimeout = 3 * time.Minute

// Portage is a private Portage installation: its tree, a prefix with a
// make.conf, an ebuild repository, DISTDIR and PORTAGE_TMPDIR, all below
// Root, which the fetch user can traverse.
type Portage struct {
	t       *testing.T
	Root    string
	Tree    string // Portage's unpacked source tree
	Prefix  string // PORTAGE_OVERRIDE_EPREFIX
	Repo    string // the ebuild repository "test"
	DistDir string
	TmpDir  string // PORTAGE_TMPDIR
	binDir  string // first on PATH: python → /usr/bin/python3
	UID     int    // of the fetch user
	GID     int    // of the fetch group
}

// Ebuild is one package of the test repository and its distfiles.
type Ebuild struct {
	Category, Name, Version string
	Files                   []File
}

// Atom is "=cat/name-version".
func (e Ebuild) Atom() string { return "=" + e.Category + "/" + e.Name + "-" + e.Version }

// EmergeResult is a finished Portage command.
type EmergeResult struct {
	Code   int
	Output string // stdout and stderr interleaved
}

// missingPortage skips the test locally and fails it under CI=true.
func missingPortage(t testing.TB, why string) {
	t.Helper()
	if inCI() {
		t.Fatalf("real Portage cannot run in CI: %s", why)
	}
	t.Skipf("real Portage: %s", why)
}

// portageTarball is ../shared/tools/portage/portage-*.tar.xz beside the
// repository, or "" with the directory looked in.
func portageTarball() (tarball, dir string) {
	_, self, _, _ := runtime.Caller(0)
	dir = filepath.Join(filepath.Dir(filepath.Dir(self)), "..", "shared", "tools", "portage")
	m, _ := filepath.Glob(filepath.Join(dir, "portage-*.tar.xz"))
	if len(m) == 0 {
		return "", dir
	}
	return m[0], dir
}

// NewPortage sets up a private prefix and an empty repository around
// Portage's tree (unpacked once per test binary). It needs root:
// FEATURES=userfetch drops privileges only when Portage runs as root.
func NewPortage(t *testing.T) *Portage {
	t.Helper()
	if tarball, dir := portageTarball(); tarball == "" {
		missingPortage(t, fmt.Sprintf("no portage-*.tar.xz in %s (../shared is not beside the repository)", dir))
	}
	if os.Geteuid() != 0 {
		missingPortage(t, "needs root (FEATURES=userfetch drops to the portage user only from root)")
	}
	for _, tool := range []string{"/usr/bin/python3", "/bin/bash", "wget", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			missingPortage(t, fmt.Sprintf("%s is missing: %v", tool, err))
		}
	}
	p := &Portage{t: t, Root: traversableTempDir(t)}
	p.lookupFetchUser()
	start := time.Now()
	tree, err := unpackPortage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Portage tree ready in %s", time.Since(start).Round(time.Millisecond))
	p.Tree = tree
	p.binDir = p.mkdir("bin")
	if err := os.Symlink("/usr/bin/python3", filepath.Join(p.binDir, "python")); err != nil {
		t.Fatal(err)
	}
	p.DistDir = p.mkdir("distdir")
	p.TmpDir = p.mkdir("tmp")
	p.setupRepo()
	p.setupPrefix()
	p.WriteMakeConf()
	return p
}

// unpackPortage unpacks Portage's tree once per test binary, beside the
// binary (TestMain removes that directory), and byte-compiles it: without
// that every Portage command spends seconds compiling. Portage only reads
// its tree, so tests share it.
var unpackPortage = sync.OnceValues(func() (string, error) {
	tarball, _ := portageTarball()
	tree := filepath.Join(filepath.Dir(binary), "portage")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return "", err
	}
	steps := [][]string{
		{"tar", "-xJf", tarball, "-C", tree},
		{"/usr/bin/python3", "-m", "compileall", "-q", "-j", "0", filepath.Join(tree, "lib")},
	}
	for _, s := range steps {
		if r := runBounded(3*time.Minute, nil, s[0], s[1:]...); r.Code != 0 {
			return "", fmt.Errorf("%s: exit %d\n%s", strings.Join(s, " "), r.Code, r.Output)
		}
	}
	// Portage runs from a tree that has this file.
	return tree, os.WriteFile(filepath.Join(tree, ".portage_not_installed"), nil, 0o644)
})

// traversableTempDir is a t.TempDir that the fetch user can reach (the
// test's temporary directories are private to root by default).
func traversableTempDir(t *testing.T) string {
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (p *Portage) lookupFetchUser() {
	u, err := user.Lookup(portageFetchUser)
	if err != nil {
		missingPortage(p.t, fmt.Sprintf("no user %s: %v", portageFetchUser, err))
	}
	g, err := user.LookupGroup(portageFetchGroup)
	if err != nil {
		missingPortage(p.t, fmt.Sprintf("no group %s: %v", portageFetchGroup, err))
	}
	p.UID, _ = strconv.Atoi(u.Uid)
	p.GID, _ = strconv.Atoi(g.Gid)
}

func (p *Portage) mkdir(rel string) string {
	d := filepath.Join(p.Root, rel)
	if err := os.MkdirAll(d, 0o755); err != nil {
		p.t.Fatal(err)
	}
	return d
}

func (p *Portage) writeFile(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// setupRepo writes the skeleton of the repository "test" and its minimal
// profile.
func (p *Portage) setupRepo() {
	p.Repo = p.mkdir("repo")
	files := map[string]string{
		"profiles/repo_name":             "test\n",
		"profiles/categories":            "app-misc\n",
		"profiles/arch.list":             "amd64\n",
		"profiles/default/eapi":          "8\n",
		"profiles/default/make.defaults": "ARCH=\"amd64\"\nACCEPT_KEYWORDS=\"amd64\"\nELIBC=\"glibc\"\nKERNEL=\"linux\"\nUSERLAND=\"GNU\"\n",
		"metadata/layout.conf":           "masters =\nthin-manifests = true\nmanifest-hashes = BLAKE2B SHA512\n",
	}
	for rel, content := range files {
		p.writeFile(filepath.Join(p.Repo, rel), content)
	}
}

// setupPrefix makes the private prefix: make.profile and Portage's sets.
func (p *Portage) setupPrefix() {
	p.Prefix = p.mkdir("prefix")
	etc := p.mkdir("prefix/etc/portage")
	if err := os.Symlink(filepath.Join(p.Repo, "profiles", "default"), filepath.Join(etc, "make.profile")); err != nil {
		p.t.Fatal(err)
	}
	sets, err := os.ReadFile(filepath.Join(p.Tree, "cnf", "sets", "portage.conf"))
	if err != nil {
		p.t.Fatal(err)
	}
	p.writeFile(filepath.Join(p.Prefix, "usr/share/portage/config/sets/portage.conf"), string(sets))
}

// WriteMakeConf writes the prefix's make.conf: the base settings (DISTDIR,
// PORTAGE_TMPDIR, no sandbox, FEATURES=userfetch as the fetch user, no
// mirrors) followed by lines, which override them.
func (p *Portage) WriteMakeConf(lines ...string) {
	base := []string{
		fmt.Sprintf("DISTDIR=%q", p.DistDir),
		fmt.Sprintf("PORTAGE_TMPDIR=%q", p.TmpDir),
		fmt.Sprintf("PKGDIR=%q", filepath.Join(p.Root, "packages")),
		`GENTOO_MIRRORS=""`,
		`ACCEPT_LICENSE="*"`,
		// Debian has no sandbox binaries; userfetch is Portage's default,
		// named here so that no one mistakes it for off.
		`FEATURES="-sandbox -usersandbox -network-sandbox -pid-sandbox -ipc-sandbox -news userfetch"`,
		fmt.Sprintf("PORTAGE_USERNAME=%q", portageFetchUser),
		fmt.Sprintf("PORTAGE_GRPNAME=%q", portageFetchGroup),
	}
	p.writeFile(filepath.Join(p.Prefix, "etc/portage/make.conf"), strings.Join(append(base, lines...), "\n")+"\n")
}

// env is the whole environment of a Portage command: nothing of the
// test's own environment leaks in (DISTSWARM_STORE, CI, a pyenv python).
func (p *Portage) env(extra ...string) []string {
	repos := fmt.Sprintf("[DEFAULT]\nmain-repo = test\n\n[test]\nlocation = %s\n", p.Repo)
	return append([]string{
		"PATH=" + p.binDir + ":/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + p.mkdir("home"),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NOCOLOR=true",
		"PYTHONPATH=" + filepath.Join(p.Tree, "lib"),
		"PORTAGE_OVERRIDE_EPREFIX=" + p.Prefix,
		"PORTAGE_REPOSITORIES=" + repos,
	}, extra...)
}

// run runs a helper command to success or fails the test.
func (p *Portage) run(timeout time.Duration, env []string, name string, args ...string) string {
	p.t.Helper()
	r := runBounded(timeout, env, name, args...)
	if r.Code != 0 {
		p.t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), r.Code, lastLines(r.Output, 40))
	}
	return r.Output
}

// runBounded runs a command in its own process group, killing the whole
// group when timeout passes (Code -1 then). env nil means the test's.
func runBounded(timeout time.Duration, env []string, name string, args ...string) EmergeResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return EmergeResult{-1, fmt.Sprintf("%s\n(killed: still running after %s)", out.String(), timeout)}
	case errors.As(err, &ee):
		return EmergeResult{ee.ExitCode(), out.String()}
	case err != nil:
		return EmergeResult{-1, fmt.Sprintf("%s\n(%v)", out.String(), err)}
	}
	return EmergeResult{0, out.String()}
}

// Emerge runs Portage's emerge with args, bounded in time; extraEnv is
// added to the environment (it overrides make.conf).
func (p *Portage) Emerge(extraEnv []string, args ...string) EmergeResult {
	p.t.Helper()
	start := time.Now()
	r := runBounded(emergeTimeout, p.env(extraEnv...), filepath.Join(p.Tree, "bin", "emerge"), args...)
	p.t.Logf("emerge %s: exit %d in %s", strings.Join(args, " "), r.Code, time.Since(start).Round(time.Millisecond))
	return r
}

// AddEbuilds writes the ebuilds with SRC_URI at origin (an HTTP base URL
// serving every distfile by name) and lets Portage write their Manifests
// (`ebuild … manifest`, a few at a time), fetching the distfiles from
// origin with its default FETCHCOMMAND into a DISTDIR of its own. It checks
// each Manifest against digests computed here.
func (p *Portage) AddEbuilds(origin string, ebuilds ...Ebuild) {
	p.t.Helper()
	start := time.Now()
	distdir := p.mkdir("manifest-distdir")
	env := p.env("DISTDIR="+distdir, "GENTOO_MIRRORS=")
	errs := make([]error, len(ebuilds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, e := range ebuilds {
		path := filepath.Join(p.Repo, e.Category, e.Name, e.Name+"-"+e.Version+".ebuild")
		p.writeFile(path, ebuildText(origin, e))
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := runBounded(emergeTimeout, env, filepath.Join(p.Tree, "bin", "ebuild"), path, "manifest")
			if r.Code != 0 {
				errs[i] = fmt.Errorf("ebuild %s manifest: exit %d\n%s", path, r.Code, lastLines(r.Output, 40))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("Portage wrote %d Manifests in %s", len(ebuilds), time.Since(start).Round(time.Millisecond))
	for _, e := range ebuilds {
		p.checkManifest(e)
	}
}

func ebuildText(origin string, e Ebuild) string {
	var uris []string
	for _, f := range e.Files {
		uris = append(uris, strings.TrimSuffix(origin, "/")+"/"+f.Name)
	}
	return fmt.Sprintf(`EAPI=8
DESCRIPTION="distswarm test package %s"
HOMEPAGE="https://example.org/"
SRC_URI="%s"
LICENSE="MIT"
SLOT="0"
KEYWORDS="amd64"
`, e.Name, strings.Join(uris, " "))
}

// checkManifest asserts Portage's Manifest lists exactly the package's
// distfiles with the digests computed here.
func (p *Portage) checkManifest(e Ebuild) {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Repo, e.Category, e.Name, "Manifest"))
	if err != nil {
		p.t.Fatalf("Portage wrote no Manifest for %s: %v", e.Atom(), err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(got) != len(e.Files) {
		p.t.Fatalf("Manifest of %s has %d lines, want %d:\n%s", e.Atom(), len(got), len(e.Files), b)
	}
	for _, f := range e.Files {
		if !strings.Contains(string(b), DistLine(f)+"\n") {
			p.t.Fatalf("Manifest of %s lacks %q:\n%s", e.Atom(), DistLine(f), b)
		}
	}
}

// NewStore makes an empty store directory the way the README says for
// /var/cache/distswarm: owned by the fetch user and group, group-writable.
func (p *Portage) NewStore(rel string) string {
	p.t.Helper()
	d := p.mkdir(rel)
	if err := os.Chown(d, p.UID, p.GID); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Chmod(d, 0o775); err != nil {
		p.t.Fatal(err)
	}
	return d
}

// CheckDistDir asserts every file is in DISTDIR with its content and no
// download is left half-done there.
func (p *Portage) CheckDistDir(files []File) {
	p.t.Helper()
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(p.DistDir, f.Name))
		if err != nil {
			p.t.Errorf("%s not in DISTDIR: %v", f.Name, err)
		} else if !bytes.Equal(got, f.Data) {
			p.t.Errorf("%s in DISTDIR has wrong content (%d bytes, want %d)", f.Name, len(got), len(f.Data))
		}
	}
	left, _ := filepath.Glob(filepath.Join(p.DistDir, "*.__download__"))
	if len(left) > 0 {
		p.t.Errorf("downloads left in DISTDIR: %v", left)
	}
}

// ClearDistDir empties DISTDIR (Portage's fetch lock files included).
func (p *Portage) ClearDistDir() {
	p.t.Helper()
	ents, err := os.ReadDir(p.DistDir)
	if err != nil {
		p.t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(p.DistDir, e.Name())); err != nil {
			p.t.Fatal(err)
		}
	}
}

// CheckOwner asserts path belongs to uid: a file the fetch user placed
// proves FETCHCOMMAND ran unprivileged (FEATURES=userfetch).
func CheckOwner(t testing.TB, path string, uid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Errorf("stat %s: %v", path, err)
	} else if int(st.Uid) != uid {
		t.Errorf("%s is owned by uid %d, want %d (the fetch user)", path, st.Uid, uid)
	}
}

// SampleEbuilds returns n packages app-misc/dsN-1 with one distfile each of
// a few KiB to about a MiB, and a second small one for every third
// package; the data is deterministic for seed.
func SampleEbuilds(n int, seed int64) []Ebuild {
	r := rand.New(rand.NewSource(seed))
	out := make([]Ebuild, n)
	for i := range out {
		e := Ebuild{Category: "app-misc", Name: fmt.Sprintf("ds%d", i), Version: "1"}
		sizes := []int{4<<10 + r.Intn(1<<20)}
		if i%3 == 0 {
			sizes = append(sizes, 1+r.Intn(64<<10))
		}
		for j, sz := range sizes {
			b := make([]byte, sz)
			r.Read(b)
			name := fmt.Sprintf("%s-%s.tar.gz", e.Name, e.Version)
			if j > 0 {
				name = fmt.Sprintf("%s-%s-patches-%d.tar.xz", e.Name, e.Version, j)
			}
			e.Files = append(e.Files, File{Name: name, Data: b})
		}
		out[i] = e
	}
	return out
}

// EbuildFiles are the distfiles of ebuilds, in order.
func EbuildFiles(ebuilds []Ebuild) []File {
	var out []File
	for _, e := range ebuilds {
		out = append(out, e.Files...)
	}
	return out
}

// Atoms are the "=cat/name-version" of ebuilds.
func Atoms(ebuilds []Ebuild) []string {
	out := make([]string, len(ebuilds))
	for i, e := range ebuilds {
		out[i] = e.Atom()
	}
	return out
}

// WriteFlat writes files by name into dir (an HTTP origin's tree).
func WriteFlat(t testing.TB, dir string, files []File) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
