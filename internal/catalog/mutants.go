package catalog

import (
	"path"

	"github.com/seclab/seclab/internal/mutate"
)

// Mutant is a generated wrong variant of one object of a step's solution.
type Mutant struct {
	mutate.Mutant
	// File is the solution manifest the object comes from (lab-relative).
	File string `json:"file"`
}

// Mutants returns the mutants of step n's solution manifests, in the
// generator's order, file by file. Ids name a file by its base name, or
// by its lab-relative path when two of the step's files share one.
func (l *Lab) Mutants(n int) ([]Mutant, error) {
	step := l.Step(n)
	if step == nil {
		return nil, nil
	}
	bases := map[string]int{}
	for _, f := range step.Solution.Apply {
		bases[path.Base(f)]++
	}
	var out []Mutant
	for _, f := range step.Solution.Apply {
		objs, err := l.Manifests(f)
		if err != nil {
			return nil, err
		}
		name := path.Base(f)
		if bases[name] > 1 {
			name = path.Clean(f)
		}
		for _, m := range mutate.Generate(name, objs, mutate.Options{Namespaces: l.Namespaces}) {
			out = append(out, Mutant{Mutant: m, File: f})
		}
	}
	return out, nil
}
