package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/engine"
)

type statusStep struct {
	Step     int        `json:"step"`
	Title    string     `json:"title"`
	Passed   bool       `json:"passed"`
	PassedAt *time.Time `json:"passedAt,omitempty"`
}

type statusView struct {
	Lab     string       `json:"lab"`
	Title   string       `json:"title"`
	Cluster string       `json:"cluster"`
	Context string       `json:"context"`
	Started time.Time    `json:"started"`
	Next    int          `json:"next"` // 0 when all steps passed
	Steps   []statusStep `json:"steps"`
}

func statusCmd() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the active lab, its cluster and which steps passed",
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
			n := act.Lab.NumSteps()
			v := statusView{Lab: act.Lab.ID, Title: act.Lab.Title, Cluster: act.Progress.Cluster, Context: act.Progress.Context, Started: act.Progress.Started}
			if next := act.Progress.NextStep(n); next <= n {
				v.Next = next
			}
			for i := 1; i <= n; i++ {
				st := statusStep{Step: i, Title: act.Lab.Step(i).Title}
				if t, ok := act.Progress.Passed[i]; ok {
					st.Passed, st.PassedAt = true, &t
				}
				v.Steps = append(v.Steps, st)
			}
			if asJSON {
				return writeJSON(c.App.Writer, v)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Lab %s: %s\n", v.Lab, v.Title)
			fmt.Fprintf(w, "Cluster %s (kubectl context %s), started %s\n\n", v.Cluster, v.Context, v.Started.Local().Format("2006-01-02 15:04"))
			for _, st := range v.Steps {
				mark := "·"
				if st.Passed {
					mark = "✓"
				}
				fmt.Fprintf(w, "  %s %d. %s\n", mark, st.Step, st.Title)
			}
			if v.Next == 0 {
				fmt.Fprintf(w, "\nAll %d steps passed. Next: seclab list, or seclab down when finished.\n", n)
			} else {
				fmt.Fprintf(w, "\nNext: step %d — run seclab check when done.\n", v.Next)
			}
			return nil
		},
	}
}
