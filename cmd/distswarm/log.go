package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"
)

// logger returns a slog logger on standard error with --verbose, else nil
// (the swarm package then discards library logs).
func logger(c *cli.Context) *slog.Logger {
	if !c.Bool("verbose") {
		return nil
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
