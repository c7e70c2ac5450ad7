package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// rejectFlagsAfterNames makes every command refuse an argument that looks
// like a flag after its first name: the flag parser stops at the first
// name, so `fetch foo --offline` would fetch a file named "--offline" and
// leave the DHT on. "-" (standard input or output) stays a name.
func rejectFlagsAfterNames(commands []*cli.Command) {
	walkLeaves(commands, nil, func(path []string, cmd *cli.Command) {
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := flagAfterName(c.Args().Slice()); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	})
}

// flagAfterName returns a usage error for the first argument that looks
// like a flag.
func flagAfterName(args []string) error {
	for i, a := range args {
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			if i == 0 {
				return usageErr("%q: unknown flag here, or a name that starts with '-' (see --help)", a)
			}
			return usageErr("flag %s after the name %q: put flags before names", a, args[0])
		}
	}
	return nil
}

// closestCommand returns the command name within two edits of typed, if
// any (the closest one).
func closestCommand(commands []*cli.Command, typed string) string {
	best, bestDist := "", 3
	for _, cmd := range commands {
		if cmd.Hidden {
			continue
		}
		for _, name := range cmd.Names() {
			if d := editDistance(name, typed); d < bestDist {
				best, bestDist = name, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
