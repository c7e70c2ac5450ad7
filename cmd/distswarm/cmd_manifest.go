package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/openpgp"
	"github.com/distswarm/distswarm/storage/layout"
)

// defaultDistdir is Portage's DISTDIR default since 2019.
const defaultDistdir = "/var/cache/distfiles"

func manifestCommand() *cli.Command {
	return &cli.Command{
		Name:  "manifest",
		Usage: "parse Gentoo Manifests and verify distfiles against them",
		Subcommands: []*cli.Command{
			manifestVerifyCommand(),
			manifestCheckCommand(),
		},
	}
}

func manifestCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "parse Manifests only (syntax, escapes, signed wrapper, duplicates)",
		ArgsUsage: "MANIFEST...",
		Description: `Parses each Manifest and reports the first problem with its file and line.
With --keyring, each Manifest must also be OpenPGP clear-signed by a key of
that keyring (armoured or binary, e.g. gentoo-keys' release keyring); only the
signed text is parsed. In the Gentoo tree only the top-level Manifest is signed.
Exit status: 0 when every Manifest parses (and verifies), 1 when a signature is
missing or bad, 2 when a Manifest does not parse.

Examples:
   distswarm manifest check /var/db/repos/gentoo/app-arch/zstd/Manifest
   distswarm manifest check --keyring /usr/share/openpgp-keys/gentoo-release.asc Manifest`,
		Flags: []cli.Flag{keyringFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErr("manifest check: no MANIFEST given")
			}
			verifier, err := manifestVerifier(c)
			if err != nil {
				return err
			}
			code := exitOK
			for _, path := range c.Args().Slice() {
				m, sig, err := parseManifest(verifier, path)
				if err != nil {
					fmt.Fprintf(c.App.ErrWriter, "%v\n", err)
					code = max(code, manifestErrCode(err))
					continue
				}
				fmt.Fprintf(c.App.Writer, "%s: ok, %d entries (%d DIST)%s\n", path, len(m.Entries), len(m.Dist()), sig)
			}
			if code != exitOK {
				return silentFailure(code)
			}
			return nil
		},
	}
}

func keyringFlag() cli.Flag {
	return &cli.StringFlag{Name: "keyring", Usage: "OpenPGP keyring: require every Manifest to be clear-signed by one of its keys"}
}

// manifestVerifier loads --keyring; nil without one.
func manifestVerifier(c *cli.Context) (*openpgp.Verifier, error) {
	path := c.String("keyring")
	if path == "" {
		return nil, nil
	}
	kr, err := openpgp.LoadKeyring(path)
	if err != nil {
		return nil, usageErr("--keyring: %v", err)
	}
	return &openpgp.Verifier{Keyring: kr}, nil
}

// signatureError marks a Manifest that parsed but whose signature did not
// verify (exit 1, not 2).
type signatureError struct{ err error }

func (e signatureError) Error() string { return e.err.Error() }
func (e signatureError) Unwrap() error { return e.err }

func manifestErrCode(err error) int {
	var se signatureError
	if errors.As(err, &se) {
		return exitFailed
	}
	return exitUsage
}

// parseManifest parses path, checking its signature when v is not nil.
// The second result describes the signature (empty without v).
func parseManifest(v *openpgp.Verifier, path string) (*manifest.Manifest, string, error) {
	if v == nil {
		m, err := manifest.ParseFile(path)
		return m, "", err
	}
	// The structure first: a parse error stays a parse error.
	if _, err := manifest.ParseFile(path); err != nil {
		return nil, "", err
	}
	m, sig, err := v.VerifyManifestFile(path)
	if err != nil {
		return nil, "", signatureError{err}
	}
	return m, ", " + sig.String(), nil
}

// verifyOutcome is one DIST entry's result, also the --json record.
type verifyOutcome struct {
	Manifest    string   `json:"manifest"`
	Line        int      `json:"line"`
	Name        string   `json:"name"`
	Status      string   `json:"status"` // ok, missing, failed
	Path        string   `json:"path,omitempty"`
	Size        int64    `json:"size"`
	Problem     string   `json:"problem,omitempty"`
	Checked     []string `json:"checked,omitempty"`
	Unsupported []string `json:"unsupported,omitempty"`
}

func manifestVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check every DIST entry of the Manifests against the files in a distdir",
		ArgsUsage: "MANIFEST...",
		Description: `Looks up each DIST entry's file in the distdir the way Portage does (the
directory's layout.conf, then the GLEP 75 layouts, then flat) and checks its size
and every supported hash (GLEP 74). Prints one line per problem, naming the
Manifest line, the file and what is wrong.

Exit status: 0 when every file present verified and none is missing (or
--ignore-missing), 1 when anything failed or is missing, 2 on a usage or parse
error.

Examples:
   distswarm manifest verify --distdir /var/cache/distfiles \
       /var/db/repos/gentoo/app-arch/zstd/Manifest
   distswarm manifest verify --ignore-missing --json */*/Manifest`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "distdir", Usage: "directory holding the distfiles (flat or GLEP 75)", Value: defaultDistdir, EnvVars: []string{"DISTDIR"}},
			&cli.BoolFlag{Name: "ignore-missing", Usage: "do not count files absent from the distdir as failures"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per DIST entry on standard output"},
			keyringFlag(),
		},
		Action: runManifestVerify,
	}
}

func runManifestVerify(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("manifest verify: no MANIFEST given")
	}
	distdir := c.String("distdir")
	if st, err := os.Stat(distdir); err != nil || !st.IsDir() {
		return usageErr("manifest verify: distdir %s is not a readable directory", distdir)
	}

	verifier, err := manifestVerifier(c)
	if err != nil {
		return err
	}
	// Parse everything first: a parse error is a usage error (exit 2), a
	// bad signature a failure (exit 1); neither may be hidden behind a
	// long verification run.
	var entries []manifest.Entry
	seen := map[string]bool{}
	for _, path := range c.Args().Slice() {
		m, _, err := parseManifest(verifier, path)
		if err != nil {
			return &exitError{code: manifestErrCode(err), err: err}
		}
		dist := m.Dist()
		names := make([]string, 0, len(dist))
		for name := range dist {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if seen[name] { // a distfile shared by several packages is checked once
				continue
			}
			seen[name] = true
			entries = append(entries, dist[name])
		}
	}

	var total int64
	for _, e := range entries {
		total += e.Size
	}
	prog := newProgress(c.App.ErrWriter, total, "verifying")
	enc := json.NewEncoder(c.App.Writer)
	var nOK, nFailed, nMissing int
	var bytesOK int64
	for _, e := range entries {
		out := verifyOutcome{Manifest: e.Pos.File, Line: e.Pos.Line, Name: e.Path, Size: e.Size}
		path, err := layout.Find(distdir, e.Path, e.Digests)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out.Status, out.Problem = "missing", e.Path+": missing from "+distdir
		case err != nil:
			out.Status, out.Problem = "failed", fmt.Sprintf("%s: %v", e.Path, err)
		default:
			out.Path = path
			res, verr := manifest.VerifyFile(c.Context, path, e)
			out.Checked, out.Unsupported = res.Checked, res.Unsupported
			if verr != nil {
				if errors.Is(verr, fs.ErrNotExist) {
					out.Status, out.Problem = "missing", e.Path+": missing from "+distdir
				} else {
					out.Status, out.Problem = "failed", verr.Error()
				}
			} else {
				out.Status = "ok"
			}
		}
		prog.add(e.Size)
		switch out.Status {
		case "ok":
			nOK++
			bytesOK += e.Size
		case "missing":
			nMissing++
		default:
			nFailed++
		}
		if c.Bool("json") {
			if err := enc.Encode(out); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		} else if out.Status != "ok" && !(out.Status == "missing" && c.Bool("ignore-missing")) {
			prog.clear()
			fmt.Fprintf(c.App.Writer, "%s:%d: %s\n", out.Manifest, out.Line, out.Problem)
		}
	}
	prog.finish()
	fmt.Fprintf(c.App.ErrWriter, "%d verified (%s), %d failed, %d missing\n",
		nOK, humanize.IBytes(uint64(bytesOK)), nFailed, nMissing)
	if nFailed > 0 || (nMissing > 0 && !c.Bool("ignore-missing")) {
		return silentFailure(exitFailed)
	}
	return nil
}
