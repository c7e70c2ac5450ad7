package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tmpPrefix names the temporary files atomicWrite creates for layout.conf.
// It is a dotfile (ignored by Migrate and by Portage's distfile handling)
// and distinct from Portage's own ".layout.conf.<host>" mirror cache files.
const tmpPrefix = ".distswarm-layout-"

// WriteFileAtomic replaces the file name with data durably: a temporary
// file in the same directory is written, made mode 0644, fsynced and
// renamed over name, then the directory is fsynced. After a crash name has
// its old content or the new one, never a mix; a killed writer may leave a
// ".distswarm-tmp-*.tmp" file behind.
func WriteFileAtomic(name string, data []byte) error {
	if err := atomicWrite(filepath.Dir(name), filepath.Base(name), ".distswarm-tmp-", data, nil); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// atomicWrite replaces dir/name with content: temp file (named
// prefix*.tmp) + fsync + rename + directory fsync. hook, if non-nil, is
// called between the steps (tests use it to kill the process at each
// point).
func atomicWrite(dir, name, prefix string, content []byte, hook func(string)) (err error) {
	f, err := os.CreateTemp(dir, prefix+"*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	callHook(hook, "conf-temp-written")
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	callHook(hook, "conf-renamed")
	return SyncDir(dir)
}

// removeStaleTemps deletes temporary files a killed atomicWrite left behind.
func removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) && strings.HasSuffix(e.Name(), ".tmp") && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func callHook(hook func(string), step string) {
	if hook != nil {
		hook(step)
	}
}

// SyncDir fsyncs a directory so entries created, renamed or removed in it
// are durable. Filesystems that cannot sync a directory (EINVAL) are
// accepted as they are.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// mkdirAllSync creates root/rel (rel uses '/') component by component and
// fsyncs the parent of every directory it creates, so the new bucket is
// durable before a file is linked into it.
func mkdirAllSync(root, rel string) error {
	cur := root
	for comp := range strings.SplitSeq(rel, "/") {
		if comp == "" {
			continue
		}
		next := filepath.Join(cur, comp)
		err := os.Mkdir(next, 0o777)
		switch {
		case err == nil:
			if err := SyncDir(cur); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, serr := os.Stat(next)
			if serr != nil {
				return fmt.Errorf("mkdir: %w", serr)
			}
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: exists and is not a directory", next)
			}
		default:
			return fmt.Errorf("mkdir: %w", err)
		}
		cur = next
	}
	return nil
}
