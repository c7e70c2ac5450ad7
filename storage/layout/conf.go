package layout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ConfigName is the name of the layout file in a distfiles directory.
const ConfigName = "layout.conf"

// MaxConfigSize bounds how much of a layout.conf is read. Real files are a
// few dozen bytes; a larger one is refused as hostile.
const MaxConfigSize = 64 << 10

// maxStructureEntries bounds how many [structure] keys are considered.
const maxStructureEntries = 1024

// ErrSyntax is wrapped by ParseConfig's errors for input Python's
// configparser (and therefore Portage) would refuse.
var ErrSyntax = errors.New("layout.conf syntax error")

// Config is a parsed layout.conf.
type Config struct {
	// Layouts are the supported entries in preference order (key 0 first).
	Layouts []Layout
	// Skipped lists ignored entries with the reason, for diagnostics,
	// e.g. `0="filename-hash blake2b 8": unsupported layout: ...`.
	Skipped []string
}

// ParseConfig parses a GLEP 75 layout.conf with Portage's semantics
// (MirrorLayoutConfig.read_from_file on a strict configparser):
//
//   - Lines are "[section]" headers, "key=value" or "key: value" options,
//     comments ('#' or ';' as the first non-blank character) or blank.
//     Indented lines continue the previous value. No inline comments: in
//     "0=flat ; x" the "; x" is part of the value (making it invalid).
//   - Only section "structure" (case-sensitive) matters; options of a
//     "[DEFAULT]" section are inherited, as configparser does.
//   - Keys "0", "1", "2", … are read until the first missing one; each value
//     is split on whitespace and parsed by ParseSpec. Unsupported entries are
//     recorded in Skipped and never fatal. A value containing '%' stops the
//     reading (configparser interpolation error, which Portage treats as the
//     end of the list).
//
// Hard syntax errors (an option before any section, a line that is neither
// header nor option, duplicate sections or keys, input above MaxConfigSize)
// are returned wrapping ErrSyntax and naming name:line. Portage treats such a
// file as absent, i.e. flat.
func ParseConfig(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, ErrSyntax, MaxConfigSize)
	}
	sections, err := parseINI(data, name)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	st, ok := sections["structure"]
	if !ok {
		return c, nil
	}
	defaults := sections["DEFAULT"]
	for i := 0; i < maxStructureEntries; i++ {
		key := strconv.Itoa(i)
		v, ok := st[key]
		if !ok {
			v, ok = defaults[key]
		}
		if !ok {
			break
		}
		if strings.Contains(v, "%") {
			c.Skipped = append(c.Skipped, fmt.Sprintf("%s=%q: '%%' (interpolation) ends the structure list", key, v))
			break
		}
		l, err := ParseSpec(v)
		if err != nil {
			c.Skipped = append(c.Skipped, fmt.Sprintf("%s=%q: %v", key, v, err))
			continue
		}
		c.Layouts = append(c.Layouts, l)
	}
	return c, nil
}

// parseINI is the subset of Python's configparser.RawConfigParser._read
// (strict mode, default delimiters and comment prefixes, empty lines allowed
// in values) that layout.conf needs. Option names are lower-cased like
// configparser's optionxform.
func parseINI(data []byte, name string) (map[string]map[string]string, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n") // Python's universal newlines
	sections := map[string]map[string]string{}
	var (
		cur      map[string]string
		curName  string
		opt      string // option that continuation lines extend, "" if none
		indent   = -1   // indent of the current option line
		seenSect = map[string]bool{}
	)
	for i, line := range strings.Split(text, "\n") {
		lineno := i + 1
		value := strings.TrimSpace(line)
		if strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") {
			continue
		}
		if value == "" {
			continue // configparser keeps it in a multi-line value; split() drops it
		}
		lineIndent := len(line) - len(strings.TrimLeft(line, " \t\f\v"))
		if cur != nil && opt != "" && lineIndent > indent {
			cur[opt] += "\n" + value
			continue
		}
		indent = lineIndent
		if strings.HasPrefix(value, "[") && strings.LastIndexByte(value, ']') > 1 {
			curName = value[1:strings.LastIndexByte(value, ']')]
			switch {
			case curName == "DEFAULT" && seenSect[curName]:
				cur = sections[curName] // configparser allows repeating [DEFAULT]
			case seenSect[curName]:
				return nil, fmt.Errorf("%s:%d: %w: duplicate section [%s]", name, lineno, ErrSyntax, curName)
			default:
				seenSect[curName] = true
				cur = map[string]string{}
				sections[curName] = cur
			}
			opt = ""
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: %w: option before any [section]: %q", name, lineno, ErrSyntax, truncate(line))
		}
		i := strings.IndexAny(value, "=:")
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: %w: not an option or section: %q", name, lineno, ErrSyntax, truncate(line))
		}
		key := strings.ToLower(strings.TrimSpace(value[:i]))
		if key == "" {
			return nil, fmt.Errorf("%s:%d: %w: empty option name: %q", name, lineno, ErrSyntax, truncate(line))
		}
		if _, dup := cur[key]; dup {
			return nil, fmt.Errorf("%s:%d: %w: duplicate option %q in [%s]", name, lineno, ErrSyntax, key, curName)
		}
		cur[key] = strings.TrimSpace(value[i+1:])
		opt = key
	}
	return sections, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// LoadConfig reads the layout.conf at path. A missing file yields an empty
// Config (flat) and no error, as GLEP 75 requires.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load layout config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// Path returns where the first layout that can place the file puts it,
// falling back to flat. It returns "" only for an invalid name (ValidName).
func (c *Config) Path(name string, digests map[string]string) string {
	for _, l := range c.Layouts {
		if p, ok := l.Path(name, digests); ok {
			return p
		}
	}
	p, _ := flatLayout{}.Path(name, nil)
	return p
}

// Primary returns the most preferred layout (key 0), or flat if none.
func (c *Config) Primary() Layout {
	if len(c.Layouts) == 0 {
		return flatLayout{}
	}
	return c.Layouts[0]
}

// String renders the config as a layout.conf: "[structure]\n0=...\n".
// Skipped entries are not rendered; an empty config renders as "0=flat".
func (c *Config) String() string {
	return renderConfig(c.Layouts)
}

func renderConfig(layouts []Layout) string {
	var b strings.Builder
	b.WriteString("[structure]\n")
	if len(layouts) == 0 {
		layouts = []Layout{flatLayout{}}
	}
	for i, l := range layouts {
		fmt.Fprintf(&b, "%d=%s\n", i, l.String())
	}
	return b.String()
}

// WriteConfig atomically replaces dir/layout.conf with one listing layouts
// in order (flat if none): it writes a temporary file in dir, fsyncs it,
// renames it over layout.conf and fsyncs dir. It does nothing if the file
// already has exactly that content.
func WriteConfig(dir string, layouts ...Layout) error {
	return writeConfig(dir, layouts, nil)
}

func writeConfig(dir string, layouts []Layout, hook func(string)) error {
	content := []byte(renderConfig(layouts))
	path := filepath.Join(dir, ConfigName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := atomicWrite(dir, ConfigName, tmpPrefix, content, hook); err != nil {
		return fmt.Errorf("write layout config: %w", err)
	}
	return nil
}
