// Package state keeps the learner's progress: which lab is active, on which
// cluster, which steps passed when, and the runs before the current one. One JSON file per user in the XDG
// state directory, replaced atomically and guarded by a file lock so two
// seclab processes never lose each other's writes.
package state

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// State is everything seclab remembers between commands.
type State struct {
	// Current is the lab `check`, `hint`, ... act on.
	Current string               `json:"current,omitempty"`
	Labs    map[string]*Progress `json:"labs,omitempty"`
}

// Progress is one lab's record: the current run, and the runs before it.
// Nothing here is ever dropped by seclab: deleting a cluster ends its runs
// but keeps what the learner did in them.
type Progress struct {
	// Attempt is the current run (or, once its cluster is gone, the last).
	Attempt
	// History holds the earlier runs that got anywhere (a pass or an
	// answer), oldest first.
	History []Attempt `json:"history,omitempty"`
}

// Attempt is one run of a lab: from a start (or reset) to the next one.
type Attempt struct {
	Cluster string    `json:"cluster"`
	Context string    `json:"context"`
	Started time.Time `json:"started"`
	// Run identifies this start (or reset) of the lab. A check captures it
	// before looking at the cluster and records its passes only if it is
	// unchanged: what it saw before a reset on the same cluster is stale.
	Run string `json:"run,omitempty"`
	// Passed maps step number (1-based) to when it first passed.
	Passed map[int]time.Time `json:"passed,omitempty"`
	// Answers maps step number to the learner's submitted answer.
	Answers map[int]string `json:"answers,omitempty"`
	// LastCheck is when `check` last ran for this lab.
	LastCheck time.Time `json:"lastCheck,omitempty"`
	// Completed is when every step of the lab had passed in this run.
	Completed time.Time `json:"completed,omitempty"`
	// Ended is when the run's cluster was deleted or replaced; EndReason
	// says which. An ended run can no longer be checked.
	Ended     time.Time `json:"ended,omitempty"`
	EndReason string    `json:"endReason,omitempty"`
	// SetupIncomplete marks a run whose objects a start or reset began to
	// rebuild without finishing (Ctrl-C): the cluster no longer matches it.
	SetupIncomplete bool `json:"setupIncomplete,omitempty"`
}

// Lab returns the progress of lab id, or nil.
func (s *State) Lab(id string) *Progress {
	if s.Labs == nil {
		return nil
	}
	return s.Labs[id]
}

// StartLab records a fresh start of lab id on a cluster, making it current.
// The run before it moves to the lab's history if it got anywhere.
func (s *State) StartLab(id, cluster, context string, now time.Time) *Progress {
	if s.Labs == nil {
		s.Labs = map[string]*Progress{}
	}
	p := s.Labs[id]
	if p == nil {
		p = &Progress{}
		s.Labs[id] = p
	}
	if p.Attempt.madeProgress() {
		prev := p.Attempt
		prev.SetupIncomplete = false
		if prev.Ended.IsZero() {
			prev.Ended, prev.EndReason = now, "a new run began"
		}
		p.History = append(p.History, prev)
	}
	p.Attempt = Attempt{Cluster: cluster, Context: context, Started: now, Run: rand.Text()}
	s.Current = id
	return p
}

func (a *Attempt) madeProgress() bool {
	return len(a.Passed) > 0 || len(a.Answers) > 0 || !a.Completed.IsZero()
}

// NextStep is the first step (1-based) not yet passed, or n+1 when all of
// the lab's n steps passed.
func (a *Attempt) NextStep(n int) int {
	for i := 1; i <= n; i++ {
		if _, ok := a.Passed[i]; !ok {
			return i
		}
	}
	return n + 1
}

// MarkPassed records step as passed at now (keeps the first time).
func (a *Attempt) MarkPassed(step int, now time.Time) {
	if a.Passed == nil {
		a.Passed = map[int]time.Time{}
	}
	if _, ok := a.Passed[step]; !ok {
		a.Passed[step] = now
	}
}

// MarkCompleted records now as the run's completion if all of the lab's
// steps passed and it was not recorded before.
func (a *Attempt) MarkCompleted(steps int, now time.Time) {
	if a.Completed.IsZero() && a.NextStep(steps) > steps {
		a.Completed = now
	}
}

// SetAnswer stores the learner's answer for step.
func (a *Attempt) SetAnswer(step int, answer string) {
	if a.Answers == nil {
		a.Answers = map[int]string{}
	}
	a.Answers[step] = answer
}

// Runs is every run of the lab, oldest first, the current one last.
func (p *Progress) Runs() []Attempt {
	return append(append([]Attempt(nil), p.History...), p.Attempt)
}

// FirstCompleted is when the lab was first completed in any run (zero:
// never).
func (p *Progress) FirstCompleted() time.Time {
	var first time.Time
	for _, r := range p.Runs() {
		if !r.Completed.IsZero() && (first.IsZero() || r.Completed.Before(first)) {
			first = r.Completed
		}
	}
	return first
}

// Completions is how many runs completed the lab.
func (p *Progress) Completions() int {
	n := 0
	for _, r := range p.Runs() {
		if !r.Completed.IsZero() {
			n++
		}
	}
	return n
}

// BestPassed is the most steps any run passed.
func (p *Progress) BestPassed() int {
	best := 0
	for _, r := range p.Runs() {
		best = max(best, len(r.Passed))
	}
	return best
}

// EndCluster ends every run still live on cluster (deleted or replaced,
// as reason says). The runs and the current lab are kept.
func (s *State) EndCluster(cluster, reason string, now time.Time) {
	for _, p := range s.Labs {
		if p.Cluster == cluster && p.Ended.IsZero() {
			p.Ended, p.EndReason = now, reason
		}
	}
}

// Store is the state file on disk.
type Store struct {
	path string
}

// DefaultDir is $XDG_STATE_HOME/seclab, or ~/.local/state/seclab.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "seclab"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "seclab"), nil
}

// Open returns the store in dir (created when missing).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	return &Store{path: filepath.Join(dir, "state.json")}, nil
}

// Path is the state file's path.
func (st *Store) Path() string { return st.path }

// Load reads the state without locking (a consistent snapshot thanks to the
// atomic rename). A missing file is an empty state.
func (st *Store) Load() (*State, error) {
	data, err := os.ReadFile(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	s := &State{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (%v); move it away to start over", st.path, err)
	}
	return s, nil
}

// Update runs fn on the current state under an exclusive lock and saves the
// result atomically if fn returns nil.
func (st *Store) Update(fn func(*State) error) error {
	lock := flock.New(st.path + ".lock")
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("locking state: %w", err)
	}
	defer lock.Unlock() //nolint:errcheck // unlock of a file we hold cannot meaningfully fail
	s, err := st.Load()
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(st.path, append(data, '\n'))
}

// beforeRename lets tests crash the process between writing and renaming.
var beforeRename = func() {}

// writeAtomic writes to a temp file in the same directory, syncs it and
// renames it over path, so a crash leaves either the old or the new file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.tmp")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	beforeRename()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}
