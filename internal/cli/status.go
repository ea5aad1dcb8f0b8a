package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
)

type statusStep struct {
	Step     int        `json:"step"`
	Title    string     `json:"title"`
	Passed   bool       `json:"passed"`
	PassedAt *time.Time `json:"passedAt,omitempty"`
}

// statusRun is one earlier run of the lab.
type statusRun struct {
	Cluster   string     `json:"cluster"`
	Started   time.Time  `json:"started"`
	Passed    int        `json:"passed"` // steps passed
	Completed *time.Time `json:"completed,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	EndReason string     `json:"endReason,omitempty"`
}

type statusView struct {
	Lab     string       `json:"lab"`
	Title   string       `json:"title"`
	Cluster string       `json:"cluster"`
	Context string       `json:"context"`
	Started time.Time    `json:"started"`
	Next    int          `json:"next"` // 0 when all steps passed
	Steps   []statusStep `json:"steps"`
	// Completed is when this run passed every step.
	Completed *time.Time `json:"completed,omitempty"`
	// Ended is when this run's cluster was deleted or replaced (why:
	// EndReason); the run is over, and seclab start begins a new one.
	Ended     *time.Time `json:"ended,omitempty"`
	EndReason string     `json:"endReason,omitempty"`
	// Problem says why the lab cannot be worked on now (its cluster is
	// gone, stopped, docker is down, ...), with what to do.
	Problem string `json:"problem,omitempty"`
	// FirstCompleted is the first completion of the lab in any run;
	// Completions counts the runs that completed it; History lists the
	// runs before this one, oldest first.
	FirstCompleted *time.Time  `json:"firstCompleted,omitempty"`
	Completions    int         `json:"completions"`
	History        []statusRun `json:"history,omitempty"`
}

func statusCmd() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the active lab, its cluster, which steps passed, and earlier runs",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			e, asJSON, err := dataDeps(c)
			if err != nil {
				return err
			}
			act, err := e.Current()
			if errors.Is(err, engine.ErrNoLab) && !asJSON {
				fmt.Fprintln(c.App.Writer, "No lab started. Run: seclab list, then seclab start <lab>")
				return nil
			}
			if err != nil {
				return err
			}
			v := newStatusView(act)
			// A run ended by down has no cluster to look at; anything else
			// that keeps the learner from working is an error (exit 3).
			var problem error
			if v.Ended == nil {
				problem = e.ClusterProblem(c.Context, act)
				if problem != nil {
					v.Problem = problem.Error()
				}
			}
			if asJSON {
				if err := writeJSON(c.App.Writer, v); err != nil {
					return err
				}
			} else {
				printStatus(c.App.Writer, v)
			}
			return problem
		},
	}
}

func newStatusView(act engine.Active) statusView {
	p := act.Progress
	n := act.Lab.NumSteps()
	v := statusView{Lab: act.Lab.ID, Title: act.Lab.Title, Cluster: p.Cluster, Context: p.Context, Started: p.Started,
		Completed: timePtr(p.Completed), Ended: timePtr(p.Ended), EndReason: p.EndReason,
		FirstCompleted: timePtr(p.FirstCompleted()), Completions: p.Completions()}
	if next := p.NextStep(n); next <= n {
		v.Next = next
	}
	for i := 1; i <= n; i++ {
		st := statusStep{Step: i, Title: act.Lab.Step(i).Title}
		if t, ok := p.Passed[i]; ok {
			st.Passed, st.PassedAt = true, &t
		}
		v.Steps = append(v.Steps, st)
	}
	for _, r := range p.History {
		v.History = append(v.History, runView(r))
	}
	return v
}

func runView(r state.Attempt) statusRun {
	return statusRun{Cluster: r.Cluster, Started: r.Started, Passed: len(r.Passed), Completed: timePtr(r.Completed), Ended: timePtr(r.Ended), EndReason: r.EndReason}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const timeFormat = "2006-01-02 15:04"

func printStatus(w io.Writer, v statusView) {
	fmt.Fprintf(w, "Lab %s: %s\n", v.Lab, v.Title)
	fmt.Fprintf(w, "Cluster %s (kubectl context %s), started %s\n", v.Cluster, v.Context, v.Started.Local().Format(timeFormat))
	if v.Ended != nil {
		fmt.Fprintf(w, "This run ended: its cluster was %s on %s.\n", v.EndReason, v.Ended.Local().Format(timeFormat))
	}
	fmt.Fprintln(w)
	for _, st := range v.Steps {
		mark := "·"
		if st.Passed {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s %d. %s\n", mark, st.Step, st.Title)
	}
	fmt.Fprintln(w)
	switch {
	case v.Ended != nil:
		fmt.Fprintf(w, "To do the lab again: seclab start %s (this record is kept).\n", v.Lab)
	case v.Next == 0:
		fmt.Fprintf(w, "All %d steps passed. Next: seclab list, or seclab down when finished.\n", len(v.Steps))
	default:
		fmt.Fprintf(w, "Next: step %d (seclab step shows it) — run seclab check when done.\n", v.Next)
	}
	if len(v.History) > 0 || v.FirstCompleted != nil {
		best := 0
		for _, r := range v.History {
			best = max(best, r.Passed)
		}
		line := fmt.Sprintf("Earlier runs: %d (best %d/%d steps)", len(v.History), best, len(v.Steps))
		if v.FirstCompleted != nil {
			line += fmt.Sprintf("; lab completed %d time(s), first on %s", v.Completions, v.FirstCompleted.Local().Format(timeFormat))
		}
		fmt.Fprintln(w, line+".")
	}
}
