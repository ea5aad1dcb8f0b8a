package cli

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"
)

func validateCmd() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "validate the labs and cluster profiles (--labs-dir, --profiles-dir: an instructor's own) and report every problem",
		Description: "Exit 0: every lab and profile is valid. Exit 1: some lab or profile is invalid (every problem is listed).\n" +
			"Exit 2: nothing to validate (--labs-dir missing, not a directory, or without any lab).",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			cat, err := loadCatalog(c)
			var invalid *multierror.Error
			if errors.As(err, &invalid) {
				return &ExitError{Code: ExitFailed, Err: err}
			}
			if err != nil {
				return err // a bad --labs-dir is a usage error (2); reading problems are 3
			}
			profiles, err := loadProfiles(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%d labs valid: %v\n", len(cat.Labs()), cat.IDs())
			fmt.Fprintf(c.App.Writer, "%d cluster profiles valid: %v\n", len(profiles.Names()), profiles.Names())
			return nil
		},
	}
}
