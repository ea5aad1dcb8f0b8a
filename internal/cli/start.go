package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/engine"
)

func startCmd() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "create (or reuse) the lab's cluster, set the lab up from scratch, and show step 1",
		ArgsUsage: "LAB",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "image", Usage: "kind node image for a new cluster (default $" + cluster.NodeImageEnv + " or " + cluster.DefaultNodeImage + ")"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Errorf("start needs exactly one lab id; see: seclab list"))
			}
			e, err := deps(c)
			if err != nil {
				return err
			}
			if _, err := e.Catalog.Get(c.Args().First()); err != nil {
				return err
			}
			res, err := e.Start(c.Context, c.Args().First(), engine.StartOptions{NodeImage: c.String("image")})
			if err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Lab %s: %s\n", res.Lab.ID, res.Lab.Title)
			fmt.Fprintf(w, "Cluster %s is ready; kubectl uses context %s.\n\n", res.Cluster.Name, res.Cluster.Context)
			if res.Lab.Intro != "" {
				if err := printFile(w, res.Lab, res.Lab.Intro); err != nil {
					return err
				}
				fmt.Fprintln(w)
			}
			return printStep(w, res.Lab, 1)
		},
	}
}

// printStep shows a step's task, its choices when it asks a
// multiple-choice question (never which is right), and how to check it.
func printStep(w io.Writer, lab *catalog.Lab, n int) error {
	step := lab.Step(n)
	fmt.Fprintf(w, "Step %d/%d: %s\n", n, lab.NumSteps(), step.Title)
	if step.Domain != "" {
		fmt.Fprintf(w, "KCSA domain: %s\n", step.Domain)
	}
	fmt.Fprintln(w)
	if err := printFile(w, lab, step.Text); err != nil {
		return err
	}
	q := step.Question()
	if q == nil {
		fmt.Fprintf(w, "\nWhen done: seclab check    (stuck? seclab hint)\n")
		return nil
	}
	fmt.Fprintln(w)
	for _, ch := range q.Choices {
		pad := strings.Repeat(" ", len(ch.ID)+4)
		fmt.Fprintf(w, "  %s) %s\n", ch.ID, oneBlock(strings.TrimSpace(ch.Text), pad))
	}
	if q.Multiple {
		fmt.Fprintf(w, "\nSelect every choice that applies: seclab answer ID,ID,...    (stuck? seclab hint)\n")
	} else {
		fmt.Fprintf(w, "\nAnswer with one choice: seclab answer ID    (stuck? seclab hint)\n")
	}
	return nil
}

func printFile(w io.Writer, lab *catalog.Lab, name string) error {
	data, err := lab.ReadFile(name)
	if err != nil {
		return fmt.Errorf("lab %s: %w", lab.ID, err)
	}
	_, err = fmt.Fprintln(w, strings.TrimRight(string(data), "\n"))
	return err
}
