package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func validateCmd() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "validate the labs (with --labs-dir: an instructor's own labs) and report every problem",
		Action: func(c *cli.Context) error {
			cat, err := loadCatalog(c)
			if err != nil {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			fmt.Fprintf(c.App.Writer, "%d labs valid: %v\n", len(cat.Labs()), cat.IDs())
			return nil
		},
	}
}
