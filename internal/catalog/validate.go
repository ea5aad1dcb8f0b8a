package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ValidateOptions carries what the catalog cannot know by itself.
type ValidateOptions struct {
	// Profiles are the cluster profile names seclab can create. Empty skips
	// the profile check.
	Profiles []string
	// Features are the kernel features seclab can tell (cluster.KnownFeatures).
	// Empty skips the check of kernel[].feature.
	Features []string
}

// Preflights are the canaries the engine knows how to run (one
// internal/engine/canary/<name>.yaml each), in the order doctor shows them.
var Preflights = []string{"networkpolicy", "podsecurity", "seccomp", "apparmor"}

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Validate returns every problem of the lab, each with its field path.
func (l *Lab) Validate(opts ValidateOptions) []string {
	var errs []string
	bad := func(path, format string, a ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, a...))
	}
	if !idPattern.MatchString(l.ID) {
		bad("id", "%q must be lowercase letters, digits and dashes", l.ID)
	}
	if strings.TrimSpace(l.Title) == "" {
		bad("title", "required")
	}
	if strings.TrimSpace(l.Domain) == "" {
		bad("domain", "required (the KCSA domain)")
	}
	if l.Minutes <= 0 {
		bad("minutes", "must be > 0")
	}
	if l.Profile == "" {
		bad("profile", "required")
	} else if len(opts.Profiles) > 0 && !contains(opts.Profiles, l.Profile) {
		bad("profile", "%q is not a known cluster profile (%s)", l.Profile, strings.Join(opts.Profiles, ", "))
	}
	if l.Intro != "" {
		l.checkFile(&errs, "intro", l.Intro)
	}
	for i, img := range l.Images {
		if msg := imageProblem(img); msg != "" {
			bad(fmt.Sprintf("images[%d]", i), "%s", msg)
		}
	}
	for i, ns := range l.Namespaces {
		if !idPattern.MatchString(ns) {
			bad(fmt.Sprintf("namespaces[%d]", i), "%q is not a valid namespace name", ns)
		}
		if ns == "default" || strings.HasPrefix(ns, "kube-") {
			bad(fmt.Sprintf("namespaces[%d]", i), "%q cannot be owned by a lab (reset deletes owned namespaces)", ns)
		}
	}
	for i, r := range l.Owns {
		if r.APIVersion == "" || r.Kind == "" || r.Name == "" {
			bad(fmt.Sprintf("owns[%d]", i), "apiVersion, kind and name are required")
		}
	}
	for i, f := range l.Setup {
		l.checkManifest(&errs, fmt.Sprintf("setup[%d]", i), f)
	}
	for i, p := range l.Preflight {
		if !contains(Preflights, p) {
			bad(fmt.Sprintf("preflight[%d]", i), "%q is not a known preflight (%s)", p, strings.Join(Preflights, ", "))
		}
	}
	declared := map[string]bool{}
	for i, k := range l.Kernel {
		kp := fmt.Sprintf("kernel[%d]", i)
		switch {
		case k.Feature == "":
			bad(kp+".feature", "required")
		case len(opts.Features) > 0 && !contains(opts.Features, k.Feature):
			bad(kp+".feature", "%q is not a kernel feature seclab can tell (%s)", k.Feature, strings.Join(opts.Features, ", "))
		case declared[k.Feature]:
			bad(kp+".feature", "%q is listed twice", k.Feature)
		}
		declared[k.Feature] = true
		if strings.TrimSpace(k.Missing) == "" {
			bad(kp+".missing", "required: what start says where the kernel lacks it")
		}
	}
	when := func(path, w string) {
		if w == "" {
			return
		}
		if !declared[strings.TrimPrefix(w, "!")] {
			bad(path+".when", "%q: want a feature the lab lists under kernel, or !feature", w)
		}
	}
	nodeCommands := func(path string, list []NodeCommand) {
		for i, c := range list {
			cp := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case len(c.Command) == 0 && c.Script == "":
				bad(cp, "set command or script")
			case len(c.Command) > 0 && c.Script != "":
				bad(cp, "set command or script, not both")
			case c.Script != "":
				l.checkFile(&errs, cp+".script", c.Script)
			case len(c.Args) > 0:
				bad(cp+".args", "only with script (a command carries its own arguments)")
			}
			if c.Role != "" && c.Role != "control-plane" && c.Role != "worker" {
				bad(cp+".role", "%q: want control-plane, worker, or nothing for every node", c.Role)
			}
			when(cp, c.When)
		}
	}
	nodeCommands("nodeSetup", l.NodeSetup)
	nodeCommands("nodeRestore", l.NodeRestore)
	if len(l.Steps) == 0 {
		bad("steps", "a lab needs at least one step")
	}
	// Every step must still be checked, and keep a check, on each kind of
	// kernel the lab adapts to.
	for _, features := range featureCombinations(l.Kernel) {
		for i, s := range l.For(features).Steps {
			if len(l.Steps[i].Checks) == 0 {
				continue // reported below
			}
			on := describeKernel(features)
			hasKeep := false
			for _, c := range s.Checks {
				hasKeep = hasKeep || c.Keep
			}
			switch {
			case len(s.Checks) == 0:
				bad(fmt.Sprintf("steps[%d].checks", i), "no check runs on a kernel %s (see when)", on)
			case !hasKeep && i < len(l.Steps)-1 && len(l.Kernel) > 0:
				bad(fmt.Sprintf("steps[%d].checks", i), "no kept check runs on a kernel %s (see when)", on)
			}
		}
	}
	for i, s := range l.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		if strings.TrimSpace(s.Title) == "" {
			bad(p+".title", "required")
		}
		if s.Text == "" {
			bad(p+".text", "required (a markdown file)")
		} else {
			l.checkFile(&errs, p+".text", s.Text)
		}
		if s.Explanation != "" {
			l.checkFile(&errs, p+".explanation", s.Explanation)
		}
		if len(s.Checks) == 0 {
			bad(p+".checks", "a step needs at least one check")
		}
		hasAnswer, hasKeep, answers := false, false, 0
		for _, c := range s.Checks {
			hasKeep = hasKeep || c.Keep
		}
		if !hasKeep && i < len(l.Steps)-1 && len(s.Checks) > 0 {
			// check --all judges earlier steps by their kept checks alone.
			bad(p+".checks", "mark at least one check keep: true (what must still hold once later steps are done); check --all judges this step by those")
		}
		for j, c := range s.Checks {
			for _, e := range c.Validate() {
				errs = append(errs, fmt.Sprintf("%s.checks[%d].%s", p, j, e))
			}
			when(fmt.Sprintf("%s.checks[%d]", p, j), c.When)
			if c.Answer != nil {
				hasAnswer = true
				answers++
			}
		}
		q := s.Question()
		if q != nil && answers > 1 {
			// Every answer check of a step judges the one answer given.
			bad(p+".checks", "a step with a multiple-choice answer check can have no other answer check")
		}
		if s.Solution.Text == "" {
			bad(p+".solution.text", "required (a markdown file)")
		} else {
			l.checkFile(&errs, p+".solution.text", s.Solution.Text)
		}
		for j, f := range s.Solution.Apply {
			l.checkManifest(&errs, fmt.Sprintf("%s.solution.apply[%d]", p, j), f)
		}
		nodeCommands(p+".solution.run", s.Solution.Run)
		live := s.LiveAnswer() != nil
		switch {
		case live && s.Solution.Answer != "":
			bad(p+".solution.answer", "leave it out: the answer check reads its value from the cluster (fromObject), so a written answer would be right on one cluster only; the self-test and solution --apply submit the live value")
		case hasAnswer && !live && s.Solution.Answer == "":
			bad(p+".solution.answer", "required: the step has an answer check")
		}
		if !hasAnswer && s.Solution.Answer != "" {
			bad(p+".solution.answer", "set, but the step has no answer check")
		}
		if q != nil && s.Solution.Answer != "" {
			got, err := q.ParseChoices(s.Solution.Answer)
			want, _ := q.ParseChoices(q.Equals)
			switch {
			case err != nil:
				bad(p+".solution.answer", "%v", err)
			case strings.Join(got, ",") != strings.Join(want, ","):
				bad(p+".solution.answer", "%q is not the answer check's equals %q", s.Solution.Answer, q.Equals)
			}
		}
		// Near-misses (must fail) and equivalents (must pass) are both
		// answers the self-test tries in the solution's place.
		for _, set := range []struct {
			field string
			list  []NearMiss
		}{{"nearMisses", s.NearMisses}, {"equivalents", s.Equivalents}} {
			for j, nm := range set.list {
				np := fmt.Sprintf("%s.%s[%d]", p, set.field, j)
				if nm.Name == "" {
					bad(np+".name", "required")
				}
				when(np, nm.When)
				if len(nm.Apply) == 0 && nm.Answer == "" && len(nm.Run) == 0 {
					bad(np, "set apply, run or answer: there is nothing to try")
				}
				nodeCommands(np+".run", nm.Run)
				if nm.Answer != "" && !hasAnswer {
					bad(np+".answer", "set, but the step has no answer check")
				}
				if nm.Answer != "" && q != nil {
					// An answer that is no choice fails whatever the
					// question: it proves nothing about the choices.
					if _, err := q.ParseChoices(nm.Answer); err != nil {
						bad(np+".answer", "%v", err)
					}
				}
				for k, f := range nm.Apply {
					l.checkManifest(&errs, fmt.Sprintf("%s.apply[%d]", np, k), f)
				}
			}
		}
		if len(s.EquivalentMutants) > 0 {
			l.checkEquivalentMutants(&errs, p, i+1)
		}
	}
	return errs
}

// featureCombinations is every kind of kernel a lab adapts to: each
// declared feature present or absent (one, empty, for a lab without any).
func featureCombinations(kernel []KernelFeature) []map[string]bool {
	out := []map[string]bool{{}}
	for _, k := range kernel {
		var next []map[string]bool
		for _, c := range out {
			for _, has := range []bool{true, false} {
				m := map[string]bool{k.Feature: has}
				for f, v := range c {
					m[f] = v
				}
				next = append(next, m)
			}
		}
		out = next
	}
	return out
}

func describeKernel(features map[string]bool) string {
	var with, without []string
	for f, has := range features {
		if has {
			with = append(with, f)
		} else {
			without = append(without, f)
		}
	}
	sort.Strings(with)
	sort.Strings(without)
	var parts []string
	if len(with) > 0 {
		parts = append(parts, "with "+strings.Join(with, ", "))
	}
	if len(without) > 0 {
		parts = append(parts, "without "+strings.Join(without, ", "))
	}
	if len(parts) == 0 {
		return "of any kind"
	}
	return strings.Join(parts, " and ")
}

// checkEquivalentMutants rejects entries the generator does not produce
// (a renamed file or a changed solution leaves them stale) and entries
// without a reason.
func (l *Lab) checkEquivalentMutants(errs *[]string, p string, n int) {
	muts, err := l.Mutants(n)
	if err != nil {
		return // the manifest problem is reported with solution.apply
	}
	known := map[string]bool{}
	byTail := map[string]string{}
	for _, m := range muts {
		known[m.ID] = true
		_, tail, _ := strings.Cut(m.ID, "#")
		byTail[tail] = m.ID
	}
	seen := map[string]bool{}
	for j, em := range l.Step(n).EquivalentMutants {
		ep := fmt.Sprintf("%s.equivalentMutants[%d]", p, j)
		switch {
		case em.ID == "":
			*errs = append(*errs, ep+".id: required")
		case !known[em.ID]:
			msg := fmt.Sprintf("%s.id: %q is not a mutant of this step's solution", ep, em.ID)
			_, tail, _ := strings.Cut(em.ID, "#")
			if id, ok := byTail[tail]; ok {
				msg += fmt.Sprintf(" (did you mean %q?)", id)
			} else {
				msg += " (stale? seclab lab test LAB --mutants all -o json lists every id)"
			}
			*errs = append(*errs, msg)
		case seen[em.ID]:
			*errs = append(*errs, fmt.Sprintf("%s.id: %q is listed twice", ep, em.ID))
		}
		seen[em.ID] = true
		if strings.TrimSpace(em.Reason) == "" {
			*errs = append(*errs, ep+".reason: required: say why no check can tell it from the solution")
		}
	}
}

func (l *Lab) checkFile(errs *[]string, path, name string) {
	if _, err := l.ReadFile(name); err != nil {
		*errs = append(*errs, fmt.Sprintf("%s: file %q: not found in lab directory", path, name))
	}
}

func (l *Lab) checkManifest(errs *[]string, path, name string) {
	if _, err := l.Manifests(name); err != nil {
		*errs = append(*errs, fmt.Sprintf("%s: %v", path, err))
	}
}

// imageProblem says why an image reference is not pinned, or "".
// Nothing can be pulled on an offline machine, so every image must be a
// fixed tag (or digest) that seclab can load from the local docker engine.
func imageProblem(img string) string {
	if img == "" {
		return "empty image reference"
	}
	if strings.Contains(img, "@sha256:") {
		return ""
	}
	name := img
	if i := strings.LastIndex(img, "/"); i >= 0 {
		name = img[i+1:]
	}
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return fmt.Sprintf("%q has no tag; pin one (e.g. %s:1.27)", img, img)
	case tag == "latest":
		return fmt.Sprintf("%q uses :latest; pin a version so it can be loaded offline", img)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
