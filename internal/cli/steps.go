package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/verify"
)

// stepArg reads the optional STEP argument (0 = not given).
func stepArg(c *cli.Context) (int, error) {
	switch c.NArg() {
	case 0:
		return 0, nil
	case 1:
		n, err := strconv.Atoi(c.Args().First())
		if err != nil || n < 1 {
			return 0, usageErr(fmt.Errorf("STEP must be a step number like 2, not %q", c.Args().First()))
		}
		return n, nil
	}
	return 0, usageErr(fmt.Errorf("too many arguments: %s", strings.Join(c.Args().Slice(), " ")))
}

// stepDeps is the prologue of commands about one step of the active lab.
func stepDeps(c *cli.Context) (*engine.Engine, engine.Active, int, error) {
	n, err := stepArg(c)
	if err != nil {
		return nil, engine.Active{}, 0, err
	}
	e, err := deps(c)
	if err != nil {
		return nil, engine.Active{}, 0, err
	}
	act, n, err := currentStep(e, n)
	return e, act, n, err
}

// currentStep resolves STEP against the active lab: the given one, or the
// step the learner is on.
func currentStep(e *engine.Engine, n int) (engine.Active, int, error) {
	act, err := e.Current()
	if err != nil {
		return act, 0, err
	}
	steps := act.Lab.NumSteps()
	if n == 0 {
		n = act.OnStep()
	}
	if act.Lab.Step(n) == nil {
		return act, 0, &engine.StepRangeError{Step: n, Max: steps, Lab: act.Lab.ID}
	}
	return act, n, nil
}

// stepView is a step as -o json shows it: its text and choices, never
// the right one.
type stepView struct {
	Lab    string `json:"lab"`
	Step   int    `json:"step"`
	Of     int    `json:"of"`
	Title  string `json:"title"`
	Domain string `json:"domain,omitempty"`
	// Text is the task, markdown.
	Text     string          `json:"text"`
	Choices  []verify.Choice `json:"choices,omitempty"`
	Multiple bool            `json:"multiple,omitempty"`
	Passed   bool            `json:"passed"`
}

func stepCmd() *cli.Command {
	return &cli.Command{
		Name:      "step",
		Usage:     "show a step's task again, with its choices if it asks a question (default: the step you are on)",
		ArgsUsage: "[STEP]",
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			_, act, n, err := stepDeps(c)
			if err != nil {
				return err
			}
			if !asJSON {
				return printStep(c.App.Writer, act.Lab, n)
			}
			step := act.Lab.Step(n)
			text, err := act.Lab.ReadFile(step.Text)
			if err != nil {
				return fmt.Errorf("lab %s: %w", act.Lab.ID, err)
			}
			_, passed := act.Progress.Passed[n]
			v := stepView{Lab: act.Lab.ID, Step: n, Of: act.Lab.NumSteps(), Title: step.Title, Domain: step.Domain, Text: string(text), Passed: passed}
			if q := step.Question(); q != nil {
				v.Choices, v.Multiple = q.Choices, q.Multiple
			}
			return writeJSON(c.App.Writer, v)
		},
	}
}

func hintCmd() *cli.Command {
	return &cli.Command{
		Name:      "hint",
		Usage:     "show hints for a step (default: the step you are on)",
		ArgsUsage: "[STEP]",
		Action: func(c *cli.Context) error {
			_, act, n, err := stepDeps(c)
			if err != nil {
				return err
			}
			step := act.Lab.Step(n)
			w := c.App.Writer
			fmt.Fprintf(w, "Step %d/%d: %s\n", n, act.Lab.NumSteps(), step.Title)
			if len(step.Hints) == 0 {
				fmt.Fprintln(w, "  No hints for this step; seclab solution shows the answer.")
				return nil
			}
			for i, h := range step.Hints {
				fmt.Fprintf(w, "  %d. %s\n", i+1, strings.TrimSpace(h))
			}
			return nil
		},
	}
}

func solutionCmd() *cli.Command {
	return &cli.Command{
		Name:      "solution",
		Usage:     "show the reference solution of a step (default: the step you are on)",
		ArgsUsage: "[STEP]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "apply", Usage: "also apply it to the cluster (then run seclab check)"},
		},
		Action: func(c *cli.Context) error {
			e, act, n, err := stepDeps(c)
			if err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Step %d/%d: %s — solution\n\n", n, act.Lab.NumSteps(), act.Lab.Step(n).Title)
			if err := printFile(w, act.Lab, act.Lab.Step(n).Solution.Text); err != nil {
				return err
			}
			if ex := act.Lab.Step(n).Explanation; ex != "" {
				fmt.Fprintln(w, "\nWhy:")
				if err := printFile(w, act.Lab, ex); err != nil {
					return err
				}
			}
			if !c.Bool("apply") {
				return nil
			}
			if err := e.Solve(c.Context, n); err != nil {
				return err
			}
			fmt.Fprintf(w, "\nApplied. Verify with: seclab check %d\n", n)
			return nil
		},
	}
}

func answerCmd() *cli.Command {
	return &cli.Command{
		Name:      "answer",
		Usage:     "submit an answer for a step that asks a question, then check it",
		ArgsUsage: "VALUE",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "step", Usage: "step number (default: the step you are on)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Errorf("answer needs exactly one VALUE (quote it if it has spaces)"))
			}
			e, err := deps(c)
			if err != nil {
				return err
			}
			n, err := e.Answer(c.Int("step"), c.Args().First())
			if err != nil {
				return err
			}
			reports, err := e.Check(c.Context, engine.CheckOptions{Step: n})
			if err != nil {
				return err
			}
			if err := printReports(c.App.Writer, e, reports, true); err != nil {
				return err
			}
			return checkExit(reports)
		},
	}
}

func resetCmd() *cli.Command {
	return &cli.Command{
		Name:  "reset",
		Usage: "put the active lab back to its start on the same cluster (--step N: resume at step N with earlier steps solved)",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "step", Usage: "resume at this step; earlier steps get their reference solution"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageErr(fmt.Errorf("reset takes no arguments (did you mean --step %s?)", c.Args().First()))
			}
			e, err := deps(c)
			if err != nil {
				return err
			}
			act, err := e.Reset(c.Context, c.Int("step"))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Lab %s reset on cluster %s.\n\n", act.Lab.ID, act.Progress.Cluster)
			return printStep(c.App.Writer, act.Lab, act.OnStep())
		},
	}
}

func downCmd() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "delete the active lab's cluster (--all: every cluster seclab created; others are never touched)",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "delete every seclab cluster"}},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			e, err := deps(c)
			if err != nil {
				return err
			}
			deleted, err := e.Down(c.Context, c.Bool("all"))
			for _, d := range deleted {
				fmt.Fprintf(c.App.Writer, "deleted cluster %s\n", d)
			}
			if err == nil && len(deleted) == 0 {
				fmt.Fprintln(c.App.Writer, "no seclab clusters to delete")
			}
			return err
		},
	}
}
