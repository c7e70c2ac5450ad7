package binpkg

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Bounds of ReadMakeConf.
const (
	maxMakeConfSize   = 1 << 20  // bytes per file
	maxMakeConfFiles  = 64       // files of a make.conf directory, sourced files included
	maxMakeConfVars   = 4096     // assignments in all files
	maxMakeConfValue  = 64 << 10 // bytes of one value, expanded
	maxMakeConfSource = 8        // nesting of source statements
)

// MakeConf holds the variables of a make.conf, expanded.
type MakeConf map[string]string

// ReadMakeConf reads a make.conf file, or a make.conf directory (its
// regular files in name order, as Portage reads /etc/portage/make.conf/),
// with the shell subset Portage's getconfig accepts: "VAR=value" and
// "export VAR=value", values in double quotes (which may span lines, with
// ${VAR} and $VAR expanded from earlier assignments, an unset variable
// expanding to nothing), single quotes (literal) or unquoted, backslash
// escapes and line continuation, # comments, and "source FILE". Newlines
// inside a value become spaces, as in Portage. Errors name file and line.
func ReadMakeConf(path string) (MakeConf, error) {
	p := &makeConfParser{vars: MakeConf{}}
	if err := p.readPath(path, 0); err != nil {
		return nil, err
	}
	return p.vars, nil
}

// ParseMakeConf parses one make.conf text; name is used in errors. Sourced
// files are read from disk relative to the working directory.
func ParseMakeConf(name string, text string) (MakeConf, error) {
	p := &makeConfParser{vars: MakeConf{}}
	if err := p.parse(name, text, 0); err != nil {
		return nil, err
	}
	return p.vars, nil
}

type makeConfParser struct {
	vars        MakeConf
	files, sets int
}

func (p *makeConfParser) readPath(path string, depth int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("make.conf: %w", err)
	}
	if !fi.IsDir() {
		return p.readFile(path, depth)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("make.conf: %w", err)
	}
	for _, e := range ents { // ReadDir sorts by name
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), "~") {
			if err := p.readFile(filepath.Join(path, e.Name()), depth); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *makeConfParser) readFile(path string, depth int) error {
	if p.files++; p.files > maxMakeConfFiles {
		return fmt.Errorf("make.conf %s: more than %d files: %w", path, maxMakeConfFiles, ErrLimit)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("make.conf: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMakeConfSize+1))
	if err != nil {
		return fmt.Errorf("make.conf %s: %w", path, err)
	}
	if len(b) > maxMakeConfSize {
		return fmt.Errorf("make.conf %s: larger than %d bytes: %w", path, maxMakeConfSize, ErrLimit)
	}
	return p.parse(path, string(b), depth)
}

// parse runs the statements of one file.
func (p *makeConfParser) parse(name, text string, depth int) error {
	lx := &makeConfLexer{name: name, s: text, line: 1, vars: p.vars}
	for {
		w, err := lx.word()
		if err != nil {
			return err
		}
		if w == nil {
			return nil
		}
		if err := p.statement(lx, w, depth); err != nil {
			return err
		}
	}
}

func (p *makeConfParser) statement(lx *makeConfLexer, w *makeConfWord, depth int) error {
	if w.plain == "export" && !w.quoted {
		line := w.line
		var err error
		if w, err = lx.word(); err != nil {
			return err
		}
		if w == nil {
			return lx.errorf(line, "export without an assignment")
		}
	}
	if (w.plain == "source" || w.plain == ".") && !w.quoted {
		return p.source(lx, w.line, depth)
	}
	name, value, ok := strings.Cut(w.text, "=")
	if !ok || !w.assignment || !validVarName(name) {
		return lx.errorf(w.line, "expected VAR=value, found %q", w.text)
	}
	if p.sets++; p.sets > maxMakeConfVars {
		return lx.errorf(w.line, "more than %d assignments: %w", maxMakeConfVars, ErrLimit)
	}
	p.vars[name] = value
	return nil
}

func (p *makeConfParser) source(lx *makeConfLexer, line, depth int) error {
	f, err := lx.word()
	if err != nil {
		return err
	}
	if f == nil {
		return lx.errorf(line, "source without a file")
	}
	if depth >= maxMakeConfSource {
		return lx.errorf(line, "source nested deeper than %d: %w", maxMakeConfSource, ErrLimit)
	}
	path := f.text
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(lx.name), path)
	}
	if err := p.readPath(path, depth+1); err != nil {
		return lx.errorf(line, "source: %w", err)
	}
	return nil
}

func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return !isVarChar(byte(r)) || r > 127 })
}

func isVarChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// makeConfLexer splits a make.conf into shell words, removing quotes and
// expanding variables as it goes.
type makeConfLexer struct {
	name string
	s    string
	pos  int
	line int
	vars MakeConf
}

// makeConfWord is one shell word: text is its expanded value.
type makeConfWord struct {
	text       string
	plain      string // the text when the word has no quotes or expansions
	quoted     bool
	assignment bool // NAME= came unquoted
	line       int
}

func (lx *makeConfLexer) errorf(line int, format string, a ...any) error {
	return fmt.Errorf("%s:%d: %w", lx.name, line, fmt.Errorf(format, a...))
}

// skipBlank skips blanks, newlines, comments and line continuations.
func (lx *makeConfLexer) skipBlank() {
	for lx.pos < len(lx.s) {
		switch c := lx.s[lx.pos]; {
		case c == '\n':
			lx.line++
			lx.pos++
		case c == ' ' || c == '\t' || c == '\r':
			lx.pos++
		case c == '#':
			for lx.pos < len(lx.s) && lx.s[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '\\' && lx.pos+1 < len(lx.s) && lx.s[lx.pos+1] == '\n':
			lx.pos += 2
			lx.line++
		default:
			return
		}
	}
}

// word returns the next word, or nil at the end of the text.
func (lx *makeConfLexer) word() (*makeConfWord, error) {
	lx.skipBlank()
	if lx.pos >= len(lx.s) {
		return nil, nil
	}
	w := &makeConfWord{line: lx.line}
	var b strings.Builder
	start := lx.pos
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		if c == '=' && !w.assignment && !w.quoted && validVarName(b.String()) && b.Len() == lx.pos-start {
			w.assignment = true
		}
		if err := lx.wordPart(&b, w); err != nil {
			return nil, err
		}
		if b.Len() > maxMakeConfValue {
			return nil, lx.errorf(w.line, "value longer than %d bytes: %w", maxMakeConfValue, ErrLimit)
		}
	}
	w.text = b.String()
	if !w.quoted && w.text == lx.s[start:lx.pos] {
		w.plain = w.text
	}
	return w, nil
}

// wordPart consumes one piece of a word: a quoted string, an escape, an
// expansion or one plain character.
func (lx *makeConfLexer) wordPart(b *strings.Builder, w *makeConfWord) error {
	switch c := lx.s[lx.pos]; c {
	case '\'':
		w.quoted = true
		return lx.singleQuoted(b)
	case '"':
		w.quoted = true
		return lx.doubleQuoted(b)
	case '\\':
		lx.pos++
		if lx.pos >= len(lx.s) {
			b.WriteByte('\\')
			return nil
		}
		if lx.s[lx.pos] == '\n' {
			lx.line++
		} else {
			b.WriteByte(lx.s[lx.pos])
		}
		lx.pos++
		return nil
	case '$':
		w.quoted = true
		return lx.expand(b)
	default:
		b.WriteByte(c)
		lx.pos++
		return nil
	}
}

func (lx *makeConfLexer) singleQuoted(b *strings.Builder) error {
	open := lx.line
	end := strings.IndexByte(lx.s[lx.pos+1:], '\'')
	if end < 0 {
		return lx.errorf(open, "unterminated single quote")
	}
	text := lx.s[lx.pos+1 : lx.pos+1+end]
	lx.line += strings.Count(text, "\n")
	b.WriteString(strings.ReplaceAll(text, "\n", " "))
	lx.pos += end + 2
	return nil
}

func (lx *makeConfLexer) doubleQuoted(b *strings.Builder) error {
	open := lx.line
	lx.pos++
	for lx.pos < len(lx.s) {
		switch c := lx.s[lx.pos]; c {
		case '"':
			lx.pos++
			return nil
		case '\\':
			lx.doubleQuotedEscape(b)
		case '$':
			if err := lx.expand(b); err != nil {
				return err
			}
		case '\n':
			lx.line++
			b.WriteByte(' ')
			lx.pos++
		default:
			b.WriteByte(c)
			lx.pos++
		}
		if b.Len() > maxMakeConfValue {
			return lx.errorf(open, "value longer than %d bytes: %w", maxMakeConfValue, ErrLimit)
		}
	}
	return lx.errorf(open, "unterminated double quote")
}

// doubleQuotedEscape handles a backslash inside double quotes: it escapes
// only $ ` " \ and newline, as in the shell.
func (lx *makeConfLexer) doubleQuotedEscape(b *strings.Builder) {
	if lx.pos+1 >= len(lx.s) {
		b.WriteByte('\\')
		lx.pos++
		return
	}
	switch n := lx.s[lx.pos+1]; n {
	case '$', '`', '"', '\\':
		b.WriteByte(n)
	case '\n':
		lx.line++
	default:
		b.WriteByte('\\')
		b.WriteByte(n)
	}
	lx.pos += 2
}

// expand replaces $NAME or ${NAME} by the variable's value so far.
func (lx *makeConfLexer) expand(b *strings.Builder) error {
	lx.pos++ // the $
	if lx.pos >= len(lx.s) {
		b.WriteByte('$')
		return nil
	}
	braced := lx.s[lx.pos] == '{'
	if braced {
		lx.pos++
	}
	start := lx.pos
	for lx.pos < len(lx.s) && isVarChar(lx.s[lx.pos]) {
		lx.pos++
	}
	name := lx.s[start:lx.pos]
	if braced {
		if lx.pos >= len(lx.s) || lx.s[lx.pos] != '}' || name == "" {
			return lx.errorf(lx.line, "bad substitution: only ${VAR} and $VAR are supported")
		}
		lx.pos++
	} else if name == "" {
		b.WriteByte('$')
		return nil
	}
	b.WriteString(lx.vars[name])
	return nil
}

// Fields returns a variable's words (nil when unset).
func (m MakeConf) Fields(name string) []string { return strings.Fields(m[name]) }

// Has reports whether a variable is set (possibly empty).
func (m MakeConf) Has(name string) bool {
	_, ok := m[name]
	return ok
}
