//go:build !unix

package regfile

import (
	"errors"
	"os"
)

const fdCloexec = 0

func fcntlGetFD(*os.File) (int, error) { return 0, errors.New("no fcntl here") }
