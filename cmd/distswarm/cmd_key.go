package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/distswarm/distswarm/manifest/attest"
)

const keysDirFlagName = "keys-dir"

// keysDirFlag is the key store of key and attest.
func keysDirFlag() cli.Flag {
	return &cli.StringFlag{
		Name:        keysDirFlagName,
		Usage:       "key store directory (signing keys and imported public keys)",
		DefaultText: "$XDG_CONFIG_HOME/distswarm/keys, or ~/.config/distswarm/keys",
	}
}

// keyStore opens the store --keys-dir names, or the default one.
func keyStore(c *cli.Context) (attest.KeyStore, error) {
	dir := c.String(keysDirFlagName)
	if dir == "" {
		d, err := attest.DefaultKeyDir()
		if err != nil {
			return attest.KeyStore{}, usageErr("%v (give --%s)", err, keysDirFlagName)
		}
		dir = d
	}
	return attest.KeyStore{Dir: dir}, nil
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage the Ed25519 keys that sign and check attestations",
		Description: `Keys are OpenSSH Ed25519 keys in a key store directory (--keys-dir): NAME.key
(private, mode 0600) for keys generated here, NAME.pub for every key. Key IDs
are OpenSSH SHA256 fingerprints, as ssh-keygen -l prints them. Trusting a key
is done in a trust file, not here (docs/attestations.md).`,
		Subcommands: []*cli.Command{keyGenerateCommand(), keyListCommand(), keyExportCommand(), keyImportCommand()},
	}
}

func keyGenerateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "create a signing key",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			keysDirFlag(),
			&cli.StringFlag{Name: "comment", Usage: "comment stored with the key (e.g. builder@host)"},
		},
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "key generate", "NAME")
			if err != nil {
				return err
			}
			ks, err := keyStore(c)
			if err != nil {
				return err
			}
			info, err := ks.Generate(name, c.String("comment"))
			if err != nil {
				return failedErr("key generate: %v", err)
			}
			fmt.Fprintf(c.App.Writer, "%s %s\n", info.Name, info.ID)
			return nil
		},
	}
}

func keyListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the keys of the store",
		Flags: []cli.Flag{
			keysDirFlag(),
			&cli.BoolFlag{Name: "json", Usage: "one JSON array of {name, id, type, comment, secret}"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("key list: unexpected argument %q", c.Args().First())
			}
			ks, err := keyStore(c)
			if err != nil {
				return err
			}
			infos, err := ks.List()
			if err != nil {
				return failedErr("key list: %v", err)
			}
			if c.Bool("json") {
				if infos == nil {
					infos = []attest.KeyInfo{}
				}
				return writeJSON(c.App.Writer, infos)
			}
			return writeKeyTable(c.App.Writer, infos)
		},
	}
}

func writeKeyTable(w io.Writer, infos []attest.KeyInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tSECRET\tCOMMENT")
	for _, in := range infos {
		secret := "no"
		if in.Secret {
			secret = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, in.ID, secret, in.Comment)
	}
	return tw.Flush()
}

func keyExportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "print a key's public line (OpenSSH format) to give to others",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{keysDirFlag()},
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "key export", "NAME")
			if err != nil {
				return err
			}
			ks, err := keyStore(c)
			if err != nil {
				return err
			}
			line, err := ks.Export(name)
			if err != nil {
				return failedErr("key export: %v", err)
			}
			_, err = c.App.Writer.Write(line)
			return err
		},
	}
}

func keyImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "add someone's public key (one OpenSSH line) to the store",
		ArgsUsage: "NAME [FILE|-]",
		Description: `Reads the public key line from FILE, or standard input when FILE is - or
absent. Importing does not trust the key: add it to your trust file for that.`,
		Flags: []cli.Flag{keysDirFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return usageErr("key import: want NAME [FILE|-]")
			}
			line, err := readArgOrStdin(c, c.Args().Get(1))
			if err != nil {
				return usageErr("key import: %v", err)
			}
			ks, err := keyStore(c)
			if err != nil {
				return err
			}
			info, err := ks.Import(c.Args().First(), line)
			if err != nil {
				return failedErr("key import: %v", err)
			}
			fmt.Fprintf(c.App.Writer, "%s %s\n", info.Name, info.ID)
			return nil
		},
	}
}

// oneArg returns the single argument of a command.
func oneArg(c *cli.Context, cmd, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usageErr("%s: want exactly one %s", cmd, what)
	}
	return c.Args().First(), nil
}

// readArgOrStdin reads a small file, or standard input for "" and "-".
func readArgOrStdin(c *cli.Context, path string) ([]byte, error) {
	r := c.App.Reader
	if r == nil {
		r = os.Stdin
	}
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
