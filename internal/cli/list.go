package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/state"
)

type labRow struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Domain   string `json:"domain"`
	Minutes  int    `json:"minutes"`
	Profile  string `json:"profile"`
	Steps    int    `json:"steps"`
	Passed   int    `json:"passed"`
	Current  bool   `json:"current"`
	Progress string `json:"progress"`
	// Ended: the current run's cluster was deleted or replaced.
	Ended bool `json:"ended"`
	// Runs counts the lab's runs; Completed is its first completion.
	Runs      int        `json:"runs"`
	Completed *time.Time `json:"completed,omitempty"`
}

func listCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the labs and your progress",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			e, asJSON, err := dataDeps(c)
			if err != nil {
				return err
			}
			s, err := e.Store.Load()
			if err != nil {
				return err
			}
			var rows []labRow
			for _, l := range e.Catalog.Labs() {
				r := labRow{ID: l.ID, Title: l.Title, Domain: l.Domain, Minutes: l.Minutes, Profile: l.Profile, Steps: l.NumSteps(), Current: s.Current == l.ID}
				r.Progress = "not started"
				if p := s.Lab(l.ID); p != nil {
					r.Passed = len(p.Passed)
					r.Progress = progressText(p, l.NumSteps())
					r.Ended = !p.Ended.IsZero()
					r.Runs = len(p.Runs())
					r.Completed = timePtr(p.FirstCompleted())
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(c.App.Writer, rows)
			}
			out := [][]string{{"ID", "TITLE", "KCSA DOMAIN", "MIN", "PROFILE", "PROGRESS"}}
			for _, r := range rows {
				id := r.ID
				if r.Current {
					id += " *"
				}
				out = append(out, []string{id, r.Title, r.Domain, strconv.Itoa(r.Minutes), r.Profile, r.Progress})
			}
			table(c.App.Writer, out)
			return nil
		},
	}
}

// progressText is the current run's progress, whether it ended, and the
// lab's first completion when this run has not completed it.
func progressText(p *state.Progress, steps int) string {
	done := 0
	for i := 1; i <= steps; i++ {
		if _, ok := p.Passed[i]; ok {
			done++
		}
	}
	text := fmt.Sprintf("%d/%d steps", done, steps)
	if done == steps {
		text = fmt.Sprintf("done (%d/%d)", done, steps)
	}
	if !p.Ended.IsZero() {
		text += " (cluster gone)"
	}
	if first := p.FirstCompleted(); !first.IsZero() && p.Completed.IsZero() {
		text += ", completed " + first.Local().Format("2006-01-02")
	}
	return text
}
