package mat

import (
	"fmt"
	"strconv"
	"strings"
)

// Lookup follows a MATLAB-style path from array a. The path is a sequence of
//
//	.name or name   field name of a 1x1 struct
//	{i}             element i of a cell, counting from 1 in column-major order
//	(i)             element i of a struct array or cell, as a 1x1 struct or cell
//
// so that Lookup(net, "layers{1}.weights{1}") returns the filters of the first
// layer of a MatConvNet network. An empty path returns a itself. Errors for
// paths that do not exist wrap [ErrNotFound].
func Lookup(a Array, path string) (Array, error) {
	return walk(a, path, "")
}

// Lookup follows a MATLAB-style path whose first name is a variable of the
// file, such as "layers{1}.weights{1}" or "meta.normalization.averageImage".
// See the package-level [Lookup] for the syntax.
func (f *File) Lookup(path string) (Array, error) {
	name, rest := ident(path)
	if name == "" {
		return nil, fmt.Errorf("mat: bad path %q: want a variable name first", path)
	}
	v := f.Var(name)
	if v == nil {
		names := make([]string, len(f.Vars))
		for i, v := range f.Vars {
			names[i] = v.Header().Name
		}
		return nil, fmt.Errorf("%w: no variable %q (variables: %s)", ErrNotFound, name, strings.Join(names, ", "))
	}
	return walk(v, rest, name)
}

// LookupAs follows path from a like [Lookup] and checks that the array it finds
// has type T, such as *Numeric.
func LookupAs[T Array](a Array, path string) (T, error) {
	var zero T
	v, err := Lookup(a, path)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s is a %s, not a %T", ErrNotFound, pathName(path), describe(v), zero)
	}
	return t, nil
}

// LookupString follows path from a like [Lookup] and returns the text of the
// char array it finds.
func LookupString(a Array, path string) (string, error) {
	c, err := LookupAs[*Char](a, path)
	if err != nil {
		return "", err
	}
	return c.Value, nil
}

func pathName(p string) string {
	if p == "" {
		return "the array"
	}
	return p
}

// walk follows path from a; done is the path that led to a, for messages.
func walk(a Array, path, done string) (Array, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: no array to look up %q in", ErrNotFound, path)
	}
	p := path
	for p != "" {
		switch p[0] {
		case '{', '(':
			closing := byte('}')
			if p[0] == '(' {
				closing = ')'
			}
			j := strings.IndexByte(p, closing)
			if j < 0 {
				return nil, fmt.Errorf("mat: bad path %q: missing %q", path, closing)
			}
			i, err := strconv.Atoi(p[1:j])
			if err != nil || i < 1 {
				return nil, fmt.Errorf("mat: bad path %q: index %q is not a whole number from 1", path, p[1:j])
			}
			sel := p[:j+1]
			a, err = index(a, i-1, p[0] == '{', done, sel)
			if err != nil {
				return nil, err
			}
			done += sel
			p = p[j+1:]
		default:
			q := p
			if q[0] == '.' {
				q = q[1:]
			}
			name, rest := ident(q)
			if name == "" {
				return nil, fmt.Errorf("mat: bad path %q at %q", path, p)
			}
			s, ok := a.(*Struct)
			if !ok {
				return nil, fmt.Errorf("%w: %s is a %s, not a struct, so it has no field %q", ErrNotFound, pathName(done), describe(a), name)
			}
			if len(s.Elems) != 1 {
				return nil, fmt.Errorf("%w: %s is a %s: index it before .%s", ErrNotFound, pathName(done), describe(a), name)
			}
			var err error
			if a, err = s.FieldAt(0, name); err != nil {
				return nil, fmt.Errorf("%w: %s has no field %q (fields: %s)", ErrNotFound, pathName(done), name, strings.Join(s.Fields, ", "))
			}
			done += "." + name
			p = rest
		}
	}
	return a, nil
}

// index selects element i (from 0) of a with {} (brace) or ().
func index(a Array, i int, brace bool, done, sel string) (Array, error) {
	switch v := a.(type) {
	case *Cell:
		if i >= len(v.Elems) {
			return nil, fmt.Errorf("%w: %s%s: index out of range for %s", ErrNotFound, done, sel, describe(v))
		}
		if brace {
			return v.Elems[i], nil
		}
		return &Cell{ArrayHeader: ArrayHeader{Dims: []int{1, 1}, Class: ClassCell}, Elems: v.Elems[i : i+1 : i+1]}, nil
	case *Struct:
		if brace {
			return nil, fmt.Errorf("%w: %s%s: %s is a struct, index it with ()", ErrNotFound, done, sel, pathName(done))
		}
		if i >= len(v.Elems) {
			return nil, fmt.Errorf("%w: %s%s: index out of range for %s", ErrNotFound, done, sel, describe(v))
		}
		return &Struct{ArrayHeader: ArrayHeader{Dims: []int{1, 1}, Class: ClassStruct}, Fields: v.Fields, Elems: v.Elems[i : i+1 : i+1]}, nil
	}
	return nil, fmt.Errorf("%w: %s%s: %s is a %s, not a cell or struct", ErrNotFound, done, sel, pathName(done), describe(a))
}

// ident splits a leading MATLAB identifier off p.
func ident(p string) (name, rest string) {
	i := 0
	for i < len(p) {
		c := p[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			i++
			continue
		}
		break
	}
	return p[:i], p[i:]
}
