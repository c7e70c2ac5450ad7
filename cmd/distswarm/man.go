package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// manCommand prints distswarm(1) in roff, generated from the commands and
// flags themselves (make man, make install). Hidden: it is for packaging.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the distswarm(1) man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("man: unexpected argument %q", c.Args().First())
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("man: %w", err)
			}
			_, err = fmt.Fprint(c.App.Writer, page+manFiles)
			return err
		},
	}
}

// manFiles is appended to the generated page: where the configuration is
// and how it is read.
const manFiles = `.SH ENVIRONMENT
.PP
Every flag of a command can be set with \fBDISTSWARM_\fP\fIFLAG\fP: the flag name in
upper case with \fB-\fP as \fB_\fP, e.g. \fBDISTSWARM_STORE\fP, \fBDISTSWARM_SWARM_TIMEOUT\fP.
Lists are comma-separated. \fBDISTSWARM_CONFIG\fP names the config file.
.SH FILES
.TP
.B /etc/distswarm/distswarm.toml
The config file, read when it exists (or the file \fB--config\fP names). Keys are flag
names; top-level keys apply to every command that has the flag, a table named after a
command (\fB[daemon]\fP, \fB[fetch]\fP) to that command only. A flag given on the command
line wins over the environment, which wins over the file. Unknown keys are reported.
-v is command-line only: use \fBlog-level\fP in the file.
`
