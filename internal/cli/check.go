package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/verify"
)

func checkCmd() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "verify a step against the live cluster (default: the step you are on)",
		ArgsUsage: "[STEP]",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.BoolFlag{Name: "all", Usage: "check every step of the lab"},
		},
		Action: func(c *cli.Context) error {
			step, err := stepArg(c)
			if err != nil {
				return err
			}
			if step != 0 && c.Bool("all") {
				return usageErr(fmt.Errorf("give either STEP or --all, not both"))
			}
			e, asJSON, err := dataDeps(c)
			if err != nil {
				return err
			}
			reports, err := e.Check(c.Context, engine.CheckOptions{Step: step, All: c.Bool("all")})
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(c.App.Writer, reports); err != nil {
					return err
				}
			} else if err := printReports(c.App.Writer, e, reports, step == 0 && !c.Bool("all")); err != nil {
				return err
			}
			return checkExit(reports)
		},
	}
}

// checkExit is 0 when every check passed, 1 when one failed, 3 when seclab
// could not tell (an error result) and nothing failed.
func checkExit(reports []engine.StepReport) error {
	var fails, errs int
	for _, r := range reports {
		c := r.Counts()
		fails += c.Failed
		errs += c.Errors
	}
	switch {
	case fails > 0:
		return &ExitError{Code: ExitFailed}
	case errs > 0:
		return &ExitError{Code: ExitEnvError}
	}
	return nil
}

func printReports(w io.Writer, e *engine.Engine, reports []engine.StepReport, showNext bool) error {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Step %d/%d: %s\n", r.Step, r.Of, r.Title)
		for _, res := range r.Results {
			printResult(w, res)
		}
		fmt.Fprintln(w, summary(r))
		// One step checked: the learner just got there, so say why.
		if len(reports) == 1 && r.Explanation != "" {
			fmt.Fprintf(w, "\nWhy:\n%s\n", r.Explanation)
		}
	}
	if !showNext || len(reports) != 1 || !reports[0].Passed {
		return nil
	}
	act, err := e.Current()
	if err != nil {
		return err
	}
	n := act.Lab.NumSteps()
	next := act.Progress.NextStep(n)
	if next > n {
		fmt.Fprintf(w, "\nLab %s complete: all %d steps passed. Tear down with: seclab down\n", act.Lab.ID, n)
		return nil
	}
	fmt.Fprintln(w)
	return printStep(w, act.Lab, next)
}

// summary is a step's last line. Failures (the learner's to fix) and
// checks seclab could not run are counted apart: only failures mean the
// learner has more to do.
func summary(r engine.StepReport) string {
	c := r.Counts()
	total := len(r.Results)
	if r.Passed {
		return fmt.Sprintf("Step %d passed (%d/%d checks).", r.Step, c.Passed, total)
	}
	var parts []string
	if c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", c.Failed))
	}
	if c.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be checked", c.Errors))
	}
	if c.Passed > 0 {
		parts = append(parts, fmt.Sprintf("%d passed", c.Passed))
	}
	counts := fmt.Sprintf("%s (of %d)", strings.Join(parts, ", "), total)
	if c.Failed > 0 {
		return fmt.Sprintf("Step %d not done yet: %s. Stuck? seclab hint %d", r.Step, counts, r.Step)
	}
	return fmt.Sprintf("Step %d could not be verified: %s; see the errors above, then run seclab check again.", r.Step, counts)
}

func printResult(w io.Writer, res verify.Result) {
	mark := map[verify.Status]string{verify.Pass: "✓", verify.Fail: "✗", verify.Error: "!"}[res.Status]
	fmt.Fprintf(w, "  %s %s\n", mark, res.Name)
	if res.Status == verify.Pass {
		return
	}
	if res.Status == verify.Error {
		fmt.Fprintf(w, "      could not check: %s\n", oneBlock(res.Found, "                       "))
		return
	}
	fmt.Fprintf(w, "      expected: %s\n", oneBlock(res.Expected, "                "))
	fmt.Fprintf(w, "      found:    %s\n", oneBlock(res.Found, "                "))
}

// oneBlock indents continuation lines of a multi-line value.
func oneBlock(s, pad string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}
