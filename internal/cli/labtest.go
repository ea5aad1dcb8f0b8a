package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/verify"
)

func labCmd() *cli.Command {
	return &cli.Command{
		Name:            "lab",
		Usage:           "tools for lab authors",
		HideHelpCommand: true,
		Subcommands:     []*cli.Command{labTestCmd()},
	}
}

func labTestCmd() *cli.Command {
	return &cli.Command{
		Name:  "test",
		Usage: "self-test a lab (built in, or a lab directory) on a real cluster; starts it, discarding your progress on it",
		Description: "A fresh start must fail every step. Then, step by step on top of the earlier steps' solutions,\n" +
			"each near-miss and each chosen mutant of the step's solution (a copy with one thing wrong:\n" +
			"a dropped field, a changed label, another namespace, a widened selector, an allow-all rule,\n" +
			"ingress and egress swapped) must fail a check, and the reference solution must pass.\n" +
			"A mutant that passes every check SURVIVED: a lab defect, unless lab.yaml lists it under\n" +
			"equivalentMutants with a reason. Exit 0: the self-test held; 1: it did not; 3: it could not run.",
		ArgsUsage: "LAB|DIR",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "mutants", Value: engine.MutantPlan{Sample: engine.DefaultMutantSample}.String(),
				Usage: "which generated mutants to run: all, none or sample=N (a fixed choice of N)"},
		},
		Action: func(c *cli.Context) error {
			arg, mutants, output, err := labTestArgs(c)
			if err != nil {
				return err
			}
			plan, err := engine.ParseMutantPlan(mutants)
			if err != nil {
				return usageErr(err)
			}
			asJSON, err := isJSON(output)
			if err != nil {
				return err
			}
			e, id, err := labTestDeps(c, arg)
			if err != nil {
				return err
			}
			report, err := e.SelfTest(c.Context, id, engine.SelfTestOptions{Mutants: plan})
			if report != nil {
				var perr error
				if asJSON {
					perr = writeJSON(c.App.Writer, report)
				} else {
					perr = printSelfTest(c.App.Writer, report, err == nil)
				}
				if perr != nil {
					return perr
				}
			}
			if err != nil {
				return err
			}
			return selfTestExit(report)
		},
	}
}

// selfTestExit is 0 when the self-test held (no survivor, no broken
// contract), else 1; not running at all is an error, exit 3.
func selfTestExit(r *engine.SelfTestReport) error {
	if !r.Held() {
		return &ExitError{Code: ExitFailed}
	}
	return nil
}

// labTestArgs returns LAB|DIR and the flags, which may also follow it as
// the usage line shows (urfave/cli stops parsing flags at an argument).
func labTestArgs(c *cli.Context) (arg, mutants, output string, err error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return "", "", "", usageErr(errors.New("lab test needs one LAB id or lab DIR (a directory with lab.yaml)"))
	}
	fs := flag.NewFlagSet("lab test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	m := fs.String("mutants", c.String("mutants"), "")
	o := fs.String("output", c.String("output"), "")
	fs.StringVar(o, "o", c.String("output"), "")
	if err := fs.Parse(args[1:]); err != nil {
		return "", "", "", usageErr(fmt.Errorf("lab test: %v", err))
	}
	if fs.NArg() > 0 {
		return "", "", "", usageErr(fmt.Errorf("lab test takes one LAB|DIR, got also: %s", strings.Join(fs.Args(), " ")))
	}
	return args[0], *m, *o, nil
}

// labTestDeps resolves LAB|DIR. A path (with a separator or a leading dot),
// or a directory that is not a lab of the catalog, is a lab directory,
// loaded on its own; anything else is a lab id.
func labTestDeps(c *cli.Context, arg string) (*engine.Engine, string, error) {
	isPath := strings.ContainsRune(arg, os.PathSeparator) || strings.ContainsRune(arg, '/') || strings.HasPrefix(arg, ".")
	if !isPath {
		cat, err := loadCatalog(c)
		if err != nil {
			return nil, "", err
		}
		if _, err := cat.Get(arg); err == nil || !isDir(arg) {
			e, err := engineFor(c, cat)
			return e, arg, err
		}
	}
	if _, err := os.Stat(filepath.Join(arg, "lab.yaml")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", usageErr(fmt.Errorf("%s is not a lab directory: it has no lab.yaml", arg))
		}
		return nil, "", err
	}
	profiles, err := loadProfiles(c)
	if err != nil {
		return nil, "", err
	}
	cat, err := catalog.LoadLabDir(arg, validateOptions(profiles))
	if err != nil {
		return nil, "", &ExitError{Code: ExitFailed, Err: err} // the lab's defect, as for validate
	}
	e, err := engineFor(c, cat)
	return e, cat.IDs()[0], err
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Marks of the text report.
var outcomeMark = map[engine.Outcome]string{
	engine.Killed:       "✓",
	engine.Survived:     "✗",
	engine.Equivalent:   "=",
	engine.Rejected:     "–",
	engine.Inconclusive: "!",
}

// printSelfTest writes the report as text; complete is false when the run
// stopped early (the error follows on stderr).
func printSelfTest(w io.Writer, r *engine.SelfTestReport, complete bool) error {
	fmt.Fprintf(w, "Self-test of lab %s on cluster %s (mutants: %s)\n", r.Lab, r.Cluster, r.Mutants)
	for _, s := range r.Steps {
		fmt.Fprintf(w, "\nStep %d/%d: %s\n", s.Step, len(r.Steps), s.Title)
		if s.Fresh.Passed {
			fmt.Fprintln(w, "  ✗ fresh lab PASSES it: its checks accept the starting state")
		} else {
			fmt.Fprintf(w, "  ✓ fresh lab fails it: %s\n", checkList(s.Step, s.Fresh.NotPassed, false))
		}
		for _, tr := range s.NearMisses {
			fmt.Fprintf(w, "  %s near-miss %q: %s\n", outcomeMark[tr.Outcome], tr.Name, trialText(s.Step, tr))
		}
		for _, tr := range s.Equivalents {
			if tr.Outcome == engine.Survived {
				fmt.Fprintf(w, "  ✓ equivalent answer %q passes\n", tr.Name)
			} else {
				fmt.Fprintf(w, "  ✗ equivalent answer %q REJECTED: %s\n", tr.Name, trialText(s.Step, tr))
			}
		}
		for _, tr := range s.Mutants {
			fmt.Fprintf(w, "  %s mutant %s: %s\n", outcomeMark[tr.Outcome], tr.ID, trialText(s.Step, tr))
		}
		switch sol := s.Solution; {
		case sol == nil:
			fmt.Fprintln(w, "  – solution: not reached")
		case sol.Error != "":
			fmt.Fprintf(w, "  ✗ solution could not be applied: %s\n", sol.Error)
		case sol.Passed:
			fmt.Fprintln(w, "  ✓ solution passes")
		default:
			fmt.Fprintf(w, "  ✗ solution does not pass: %s\n", checkList(s.Step, sol.NotPassed, true))
		}
	}
	fmt.Fprintln(w)
	tally := r.MutantTally()
	var counts []string
	for _, o := range []engine.Outcome{engine.Killed, engine.Survived, engine.Rejected, engine.Equivalent, engine.Inconclusive} {
		if tally[o] > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", tally[o], o))
		}
	}
	mutants := "no mutants run"
	if len(counts) > 0 {
		mutants = "mutants: " + strings.Join(counts, ", ")
	}
	switch {
	case !r.Held():
		fmt.Fprintf(w, "Self-test FAILED (%s), %d %s:\n", mutants, len(r.Problems), plural(len(r.Problems), "problem"))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	case !complete:
		fmt.Fprintf(w, "Self-test stopped before the end (%s); see the error below.\n", mutants)
	default:
		fmt.Fprintf(w, "Self-test held: %d steps (%s).\n", len(r.Steps), mutants)
	}
	return nil
}

// trialText is what became of a near-miss or mutant, in one line.
func trialText(step int, tr engine.Trial) string {
	switch tr.Outcome {
	case engine.Killed:
		return "killed by " + checkList(step, tr.CaughtBy, true)
	case engine.Survived:
		return fmt.Sprintf("SURVIVED (%s): passed every check", tr.Name)
	case engine.Inconclusive:
		return fmt.Sprintf("inconclusive (%s): %s", tr.Name, tr.Reason)
	}
	return fmt.Sprintf("%s (%s)", tr.Outcome, tr.Reason)
}

// checkList names checks, "step N: " for a kept check of an earlier step.
// With failuresOnly and at least one failure, it names the failures alone;
// otherwise each check with its status.
func checkList(step int, vs []engine.CheckVerdict, failuresOnly bool) string {
	var fails []engine.CheckVerdict
	for _, v := range vs {
		if v.Status == verify.Fail {
			fails = append(fails, v)
		}
	}
	withStatus := !failuresOnly || len(fails) == 0
	if !withStatus {
		vs = fails
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%q", v.Name)
		if v.Step != step {
			parts[i] = fmt.Sprintf("step %d: %q", v.Step, v.Name)
		}
		if withStatus {
			parts[i] += " (" + string(v.Status) + ")"
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
