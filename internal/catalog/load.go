package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/seclab/seclab/internal/strictyaml"
)

// Catalog is the set of labs seclab knows.
type Catalog struct {
	labs []*Lab
}

// Labs returns the labs in catalog order (by id).
func (c *Catalog) Labs() []*Lab { return c.labs }

// IDs returns every lab id, sorted.
func (c *Catalog) IDs() []string {
	ids := make([]string, len(c.labs))
	for i, l := range c.labs {
		ids[i] = l.ID
	}
	return ids
}

// UnknownLabError is returned by Get for an id the catalog lacks.
type UnknownLabError struct {
	ID    string
	Valid []string
}

func (e *UnknownLabError) Error() string {
	return fmt.Sprintf("unknown lab %q; valid labs: %s", e.ID, strings.Join(e.Valid, ", "))
}

// Get returns the lab with this id.
func (c *Catalog) Get(id string) (*Lab, error) {
	for _, l := range c.labs {
		if l.ID == id {
			return l, nil
		}
	}
	return nil, &UnknownLabError{ID: id, Valid: c.IDs()}
}

// ErrNoLabs means a labs directory holds no lab at all: a catalog without
// labs is a mistake (a wrong --labs-dir), never something to run with.
var ErrNoLabs = errors.New("no labs found (a lab is a subdirectory with a lab.yaml)")

// Load reads every <dir>/lab.yaml at the top of fsys and validates each lab.
// It returns all problems of all labs in one error; no partial catalog.
func Load(fsys fs.FS, opts ValidateOptions) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading labs: %w", err)
	}
	var all *multierror.Error
	c := &Catalog{}
	found := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(e.Name(), "lab.yaml")); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found++
		sub, err := fs.Sub(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		lab, err := LoadLab(sub, e.Name(), opts)
		if err != nil {
			all = multierror.Append(all, err)
			continue
		}
		c.labs = append(c.labs, lab)
	}
	if err := all.ErrorOrNil(); err != nil {
		return nil, flatten(err)
	}
	if found == 0 {
		return nil, ErrNoLabs
	}
	sort.Slice(c.labs, func(i, j int) bool { return c.labs[i].ID < c.labs[j].ID })
	return c, nil
}

// LabsDirError is a labs directory that cannot hold labs: missing, not a
// directory, or without a single lab. It is the caller's input that is
// wrong, not a lab.
type LabsDirError struct {
	Dir    string
	Reason string
}

func (e *LabsDirError) Error() string { return fmt.Sprintf("labs directory %s: %s", e.Dir, e.Reason) }

// LoadDir is Load on a directory of the file system (instructors' own labs).
func LoadDir(dir string, opts ValidateOptions) (*Catalog, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &LabsDirError{Dir: dir, Reason: "does not exist"}
	case err != nil:
		return nil, fmt.Errorf("labs directory: %w", err)
	case !st.IsDir():
		return nil, &LabsDirError{Dir: dir, Reason: "is not a directory"}
	}
	c, err := Load(os.DirFS(dir), opts)
	if errors.Is(err, ErrNoLabs) {
		reason := ErrNoLabs.Error()
		if _, serr := os.Stat(filepath.Join(dir, "lab.yaml")); serr == nil {
			reason += "; it is a lab itself: point --labs-dir at its parent directory"
		}
		return nil, &LabsDirError{Dir: dir, Reason: reason}
	}
	return c, err
}

// LoadLabDir reads the lab in dir (a directory holding lab.yaml, named
// after the lab) as a catalog of that one lab: an instructor's lab tested
// on its own, whatever is beside it.
func LoadLabDir(dir string, opts ValidateOptions) (*Catalog, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	lab, err := LoadLab(os.DirFS(abs), filepath.Base(abs), opts)
	if err != nil {
		return nil, flatten(err)
	}
	return &Catalog{labs: []*Lab{lab}}, nil
}

// LoadLab reads one lab from fsys (the lab's own directory) and validates it.
// dirName is the directory's name, which must equal the lab id.
func LoadLab(fsys fs.FS, dirName string, opts ValidateOptions) (*Lab, error) {
	data, err := fs.ReadFile(fsys, "lab.yaml")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dirName, err)
	}
	lab := &Lab{files: fsys, dir: dirName}
	var errs *multierror.Error
	problems, decoded := strictyaml.Decode(data, lab)
	for _, p := range problems {
		errs = multierror.Append(errs, fmt.Errorf("%s/lab.yaml: %s", dirName, p))
	}
	// Validate whatever was decoded, even around unknown fields and wrong
	// types, so the author sees every problem in one run. A field the
	// decoder already reported is left out: "minutes: must be > 0" after
	// "minutes: wrong type" says nothing new.
	if decoded {
		var semantic []string
		if lab.ID != dirName {
			semantic = append(semantic, fmt.Sprintf("id: %q must equal its directory name %q", lab.ID, dirName))
		}
		for _, e := range append(semantic, lab.Validate(opts)...) {
			if !underProblem(e, problems) {
				errs = multierror.Append(errs, fmt.Errorf("%s/lab.yaml: %s", dirName, e))
			}
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		errs.ErrorFormat = listFormat
		return nil, errs
	}
	return lab, nil
}

// underProblem reports whether the validation error e ("path: message")
// is about a field at or under one the decoder reported.
func underProblem(e string, ps []strictyaml.Problem) bool {
	for _, p := range ps {
		if p.Path == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(e, p.Path); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "[")) {
			return true
		}
	}
	return false
}

// flatten merges nested multierrors so each problem is one line.
func flatten(err error) error {
	var me *multierror.Error
	if !errors.As(err, &me) {
		return err
	}
	var out *multierror.Error
	for _, e := range me.Errors {
		var inner *multierror.Error
		if errors.As(e, &inner) {
			out = multierror.Append(out, flatten(inner).(*multierror.Error).Errors...)
			continue
		}
		out = multierror.Append(out, e)
	}
	out.ErrorFormat = listFormat
	return out
}

var listFormat = strictyaml.ProblemList(func(n int) string {
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid lab data, %d %s", n, noun)
})
