package binpkg

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A port of Portage's use_reduce (dep/__init__.py, Portage 3.0.82) for the
// one use binarytree makes of it when writing Packages: evaluate USE
// conditionals against the package's USE, drop redundant parentheses, and
// evaluate conditional USE dependencies of atoms ([foo?], [!foo=], ...).
// paren_enclose formats the result. Atoms are not otherwise validated.

// MaxDepTokens bounds the tokens of one dependency string.
const MaxDepTokens = 1 << 16

var (
	useFlagRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+_@-]*$`)
	useDepRe  = regexp.MustCompile(`^([!-]?)([A-Za-z0-9][A-Za-z0-9+_@-]*)(\(\+\)|\(-\))?([?=]?)$`)
)

// errDep is wrapped by every dependency-string error.
var errDep = errors.New("invalid dependency string")

// depNode is a token or a parenthesised group.
type depNode struct {
	tok   string
	group []depNode
	isGrp bool
}

func (n depNode) is(tok string) bool { return !n.isGrp && n.tok == tok }

// ReduceDeps evaluates a dependency string (BDEPEND … RESTRICT) against
// the enabled flags the way binarytree does before writing Packages;
// atoms' conditional USE deps are evaluated when atoms is true (the
// *DEPEND keys).
func ReduceDeps(s string, use map[string]bool, atoms bool) (string, error) {
	nodes, err := reduceDeps(s, use, atoms)
	if err != nil {
		return "", err
	}
	return parenEnclose(nodes), nil
}

func parenEnclose(nodes []depNode) string {
	parts := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if n.isGrp {
			parts = append(parts, "( "+parenEnclose(n.group)+" )")
		} else {
			parts = append(parts, n.tok)
		}
	}
	return strings.Join(parts, " ")
}

// depReducer holds use_reduce's state.
type depReducer struct {
	use   map[string]bool
	stack [][]depNode
}

func reduceDeps(s string, use map[string]bool, atoms bool) ([]depNode, error) {
	tokens := strings.Fields(s)
	if len(tokens) > MaxDepTokens {
		return nil, fmt.Errorf("%w: more than %d tokens: %w", errDep, MaxDepTokens, ErrLimit)
	}
	r := &depReducer{use: use, stack: [][]depNode{{}}}
	needBracket := false
	for pos, tok := range tokens {
		var err error
		switch {
		case tok == "(":
			if pos+1 < len(tokens) && tokens[pos+1] == ")" {
				return nil, fmt.Errorf("%w: empty group at token %d", errDep, pos+1)
			}
			needBracket = false
			r.stack = append(r.stack, nil)
		case needBracket:
			return nil, fmt.Errorf("%w: expected '(' at token %d, got %q", errDep, pos+1, tok)
		case tok == ")":
			err = r.closeGroup(pos)
		case tok == "||":
			needBracket = true
			r.push(depNode{tok: tok})
		case strings.HasSuffix(tok, "?"):
			needBracket = true
			r.push(depNode{tok: tok})
		default:
			if atoms {
				tok, err = evaluateAtomUse(tok, use)
			}
			r.push(depNode{tok: tok})
		}
		if err != nil {
			return nil, err
		}
	}
	if len(r.stack) != 1 || needBracket {
		return nil, fmt.Errorf("%w: unbalanced parentheses", errDep)
	}
	return r.stack[0], nil
}

func (r *depReducer) top() int           { return len(r.stack) - 1 }
func (r *depReducer) push(n depNode)     { r.stack[r.top()] = append(r.stack[r.top()], n) }
func (r *depReducer) pop()               { r.stack[r.top()] = r.stack[r.top()][:len(r.stack[r.top()])-1] }
func (r *depReducer) extend(l []depNode) { r.stack[r.top()] = append(r.stack[r.top()], l...) }

// last returns the last node of level k, if any.
func (r *depReducer) last(k int) (depNode, bool) {
	if k < 0 || len(r.stack[k]) == 0 {
		return depNode{}, false
	}
	return r.stack[k][len(r.stack[k])-1], true
}

func (r *depReducer) endsInAnyOf(k int) bool {
	n, ok := r.last(k)
	return ok && n.is("||")
}

// lastAnyOfLevel is last_any_of_operator_level.
func (r *depReducer) lastAnyOfLevel(k int) int {
	for ; k >= 0; k-- {
		n, ok := r.last(k)
		if !ok || n.isGrp {
			continue
		}
		if n.tok == "||" {
			return k
		}
		if !strings.HasSuffix(n.tok, "?") {
			return -1
		}
	}
	return -1
}

func (r *depReducer) isActive(cond string) (bool, error) {
	neg := strings.HasPrefix(cond, "!")
	flag := strings.TrimSuffix(strings.TrimPrefix(cond, "!"), "?")
	if !useFlagRe.MatchString(flag) {
		return false, fmt.Errorf("%w: invalid use flag %q in conditional %q", errDep, flag, cond)
	}
	return r.use[flag] != neg, nil
}

// closeGroup handles ")": use_reduce's bracket logic, not opconvert, not flat.
func (r *depReducer) closeGroup(pos int) error {
	if len(r.stack) == 1 {
		return fmt.Errorf("%w: no matching '(' for ')' at token %d", errDep, pos+1)
	}
	l := r.stack[r.top()]
	r.stack = r.stack[:r.top()]
	single := len(l) == 1 || (len(l) == 2 && l[0].is("||"))
	ignore := false
	if n, ok := r.last(r.top()); ok && !n.isGrp {
		switch {
		case n.tok == "||" && len(l) == 0:
			l = append(l, depNode{tok: "__const__/empty-any-of"})
			r.pop()
		case strings.HasSuffix(n.tok, "?"):
			active, err := r.isActive(n.tok)
			if err != nil {
				return err
			}
			ignore = !active
			r.pop()
		}
	}
	if len(l) == 0 || ignore {
		return nil
	}
	level := r.top()
	switch {
	case !r.endsInAnyOf(level-1) && !r.endsInAnyOf(level):
		r.extend(l)
	case len(r.stack[level]) == 0:
		return r.specialAppend(l, single)
	case single && r.endsInAnyOf(level):
		r.pop()
		return r.specialAppend(l, single)
	case r.endsInAnyOf(level) && r.endsInAnyOf(level-1):
		r.pop()
		r.extend(l)
	default:
		return r.specialAppend(l, single)
	}
	return nil
}

// specialAppend extends instead of appending where that drops redundant
// parentheses.
func (r *depReducer) specialAppend(l []depNode, single bool) error {
	level := r.top()
	switch {
	case !single:
		r.push(depNode{group: l, isGrp: true})
	case l[0].is("||") && r.endsInAnyOf(level-1):
		if !l[1].isGrp {
			return fmt.Errorf("%w: any-of without a group", errDep)
		}
		r.extend(l[1].group)
	case len(l) == 1 && l[0].isGrp:
		if r.lastAnyOfLevel(level-1) == -1 {
			r.extend(l[0].group)
		} else {
			r.push(l[0])
		}
	default:
		r.extend(l)
	}
	return nil
}

// evaluateAtomUse evaluates an atom's conditional USE deps as Portage's
// Atom.evaluate_conditionals does; atoms without them are unchanged.
func evaluateAtomUse(atom string, use map[string]bool) (string, error) {
	open := strings.IndexByte(atom, '[')
	if open < 0 {
		return atom, nil
	}
	if !strings.HasSuffix(atom, "]") {
		return "", fmt.Errorf("%w: atom %q: malformed USE dependency", errDep, atom)
	}
	if base := atom[:open]; base == "" || strings.ContainsAny(base, "()|?") {
		// Portage rejects such an atom; evaluated, "([x?]" would become a group's "(".
		return "", fmt.Errorf("%w: atom %q: invalid package name before its USE dependency", errDep, atom)
	}
	var out []string
	conditional := false
	for _, x := range strings.Split(atom[open+1:len(atom)-1], ",") {
		m := useDepRe.FindStringSubmatch(x)
		if m == nil {
			return "", fmt.Errorf("%w: atom %q: invalid USE dependency %q", errDep, atom, x)
		}
		prefix, flag, def, suffix := m[1], m[2], m[3], m[4]
		on := use[flag]
		switch prefix + suffix {
		case "?":
			conditional = true
			if on {
				out = append(out, flag+def)
			}
		case "!?":
			conditional = true
			if !on {
				out = append(out, "-"+flag+def)
			}
		case "=", "!=":
			conditional = true
			if on == (prefix == "") {
				out = append(out, flag+def)
			} else {
				out = append(out, "-"+flag+def)
			}
		case "", "-":
			out = append(out, x)
		default:
			return "", fmt.Errorf("%w: atom %q: invalid USE dependency %q", errDep, atom, x)
		}
	}
	if !conditional {
		return atom, nil
	}
	if len(out) == 0 {
		return atom[:open], nil
	}
	return atom[:open] + "[" + strings.Join(out, ",") + "]", nil
}
