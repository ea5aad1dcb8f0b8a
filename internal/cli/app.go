// Package cli is seclab's command line: one file per command, flags, and
// output formats. Commands write results to stdout; progress goes through
// the logger to stderr.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-multierror"
	"github.com/urfave/cli/v2"
	"k8s.io/klog/v2"

	"github.com/seclab/seclab/internal/catalog"
	"github.com/seclab/seclab/internal/cluster"
	"github.com/seclab/seclab/internal/engine"
	"github.com/seclab/seclab/internal/state"
	"github.com/seclab/seclab/internal/strictyaml"
	"github.com/seclab/seclab/internal/verify"
	"github.com/seclab/seclab/labs"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailed    = 1 // a check failed
	ExitUsage     = 2 // bad input: unknown lab, bad step, bad flag
	ExitEnvError  = 3 // could not run: no docker, cluster gone, API errors
	ExitInterrupt = 130
)

// ExitError carries an exit code up to main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

func usageErr(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Version is set at build time.
var Version = "dev"

// NewApp builds the seclab command.
func NewApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "seclab",
		Usage:   "Kubernetes security labs on local kind clusters, checked against the live cluster",
		Version: Version,
		Writer:  stdout, ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "labs-dir", EnvVars: []string{"SECLAB_LABS_DIR"}, Usage: "read labs from this directory instead of the built-in ones"},
			&cli.StringFlag{Name: "profiles-dir", EnvVars: []string{"SECLAB_PROFILES_DIR"}, Usage: "read cluster profiles from this directory instead of the built-in ones"},
			&cli.BoolFlag{Name: "verbose", Usage: "show debug progress"},
		},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			listCmd(), startCmd(), statusCmd(), stepCmd(), checkCmd(), hintCmd(), solutionCmd(), answerCmd(),
			resetCmd(), downCmd(), doctorCmd(), validateCmd(), labCmd(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main maps errors to exit codes
		OnUsageError:   onUsageError,
	}
	// A bad flag is one line on stderr and exit 2 on every command; without
	// this urfave prints the command's help on stdout and returns a plain
	// error.
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	help := "seclab --help"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		help = "seclab " + c.Command.Name + " --help"
	}
	return usageErr(fmt.Errorf("%w; see: %s", err, help))
}

// noArgs is the usage check of commands that take no arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() == 0 {
		return nil
	}
	return usageErr(fmt.Errorf("%s takes no arguments, got %q; see: seclab %s --help", c.Command.Name, strings.Join(c.Args().Slice(), " "), c.Command.Name))
}

// Main runs the app and returns the process exit code. Every error ends up
// as one line on stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	quietClientGo(args)
	code, msg := exitStatus(ctx, NewApp(stdout, stderr).RunContext(ctx, args))
	if msg != "" {
		fmt.Fprintf(stderr, "seclab: %s\n", msg)
	}
	return code
}

// exitStatus maps a command's outcome to the exit code and the message for
// stderr ("" for none).
func exitStatus(ctx context.Context, err error) (int, string) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if ctx.Err() != nil {
		// Ctrl-C wins however the cancellation surfaced: wrapped, as a
		// check's "interrupted" result (exit 3 from checkExit), or inside
		// a library's own message that no longer wraps context.Canceled.
		switch {
		case msg == "" || msg == context.Canceled.Error():
			msg = "interrupted"
		case !strings.Contains(msg, "interrupted"):
			msg = "interrupted (" + msg + ")"
		}
		return ExitInterrupt, msg
	}
	if err == nil {
		return ExitOK, ""
	}
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return ee.Code, msg
	case errors.Is(err, context.Canceled):
		return ExitInterrupt, msg
	case isUsage(err):
		return ExitUsage, msg
	case strings.HasPrefix(msg, "No help topic for "):
		// urfave's way of saying "unknown command"
		return ExitUsage, fmt.Sprintf("unknown command %s; see: seclab --help", strings.TrimPrefix(msg, "No help topic for "))
	}
	return ExitEnvError, msg
}

// isUsage tells errors about what the learner typed (or the state they
// asked about: no lab started) from failures to run. An answer that names
// no choice of a question is one.
func isUsage(err error) bool {
	var unknown *catalog.UnknownLabError
	var step *engine.StepRangeError
	var dir *catalog.LabsDirError
	var choice *verify.ChoiceError
	return errors.As(err, &unknown) || errors.As(err, &step) || errors.As(err, &dir) || errors.As(err, &choice) || errors.Is(err, engine.ErrNoLab)
}

// deps builds the engine for a command.
func deps(c *cli.Context) (*engine.Engine, error) {
	cat, err := loadCatalog(c)
	if err != nil {
		return nil, err
	}
	return engineFor(c, cat)
}

// loadProfiles reads the cluster profiles: --profiles-dir, else the
// built-in ones.
func loadProfiles(c *cli.Context) (*cluster.Profiles, error) {
	dir := c.String("profiles-dir")
	if dir == "" {
		return cluster.Builtin()
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("profiles directory %s: does not exist or is not a directory", dir)}
	}
	return cluster.LoadProfiles(os.DirFS(dir))
}

// engineFor builds the engine on a given catalog.
func engineFor(c *cli.Context, cat *catalog.Catalog) (*engine.Engine, error) {
	log := newLogger(c.App.ErrWriter, c.Bool("verbose"))
	dir, err := state.DefaultDir()
	if err != nil {
		return nil, err
	}
	store, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	profiles, err := loadProfiles(c)
	if err != nil {
		return nil, err
	}
	return &engine.Engine{Catalog: cat, Clusters: cluster.New(log), Profiles: profiles, Store: store, Log: log}, nil
}

// dataDeps is the prologue of commands with -o: output format, then engine.
func dataDeps(c *cli.Context) (*engine.Engine, bool, error) {
	asJSON, err := wantJSON(c)
	if err != nil {
		return nil, false, err
	}
	e, err := deps(c)
	return e, asJSON, err
}

// loadCatalog reads the labs and checks them against the profiles. Invalid
// profiles are reported together with the labs' problems (the labs are
// then checked without knowing profile names).
func loadCatalog(c *cli.Context) (*catalog.Catalog, error) {
	profiles, perr := loadProfiles(c)
	var invalid *multierror.Error
	if perr != nil && !errors.As(perr, &invalid) {
		return nil, perr
	}
	opts := validateOptions(profiles) // profiles is nil when invalid
	var cat *catalog.Catalog
	var err error
	if dir := c.String("labs-dir"); dir != "" {
		cat, err = catalog.LoadDir(dir, opts)
	} else {
		cat, err = catalog.Load(labs.FS, opts)
	}
	if perr == nil {
		return cat, err
	}
	var labProblems *multierror.Error
	if err != nil && !errors.As(err, &labProblems) {
		return nil, multierror.Append(invalid, err)
	}
	all := multierror.Append(invalid, labProblems.WrappedErrors()...)
	all.ErrorFormat = strictyaml.ProblemList(func(n int) string {
		return fmt.Sprintf("invalid cluster profiles or labs, %d problem(s)", n)
	})
	return nil, all
}

// validateOptions is what labs are checked against: the names of profiles
// (nil: the profiles are invalid, and labs' profile names go unchecked) and
// the kernel features seclab can tell.
func validateOptions(profiles *cluster.Profiles) catalog.ValidateOptions {
	opts := catalog.ValidateOptions{Features: cluster.KnownFeatures}
	if profiles != nil {
		opts.Profiles = profiles.Names()
	}
	return opts
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(&progressHandler{w: w, level: level})
}

// quietClientGo stops client-go's internal logging (e.g. the websocket exec
// stream noting its own closed connection) from reaching the learner; every
// real problem comes back as an error or a check result. --verbose keeps it.
func quietClientGo(args []string) {
	for _, a := range args {
		if a == "--verbose" {
			return
		}
	}
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	// Without a log file klog still copies errors to stderr (its
	// stderrthreshold, ERROR by default): the exec stream's "Unhandled
	// Error" lines came through that way. Only fatal ones may now.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("stderrthreshold", "FATAL")
}
