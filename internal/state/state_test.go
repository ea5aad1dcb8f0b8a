package state

import (
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

func TestUpdateRoundTrip(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	err = st.Update(func(s *State) error {
		p := s.StartLab("netpol", "seclab-netpol", "kind-seclab-netpol", now)
		p.MarkPassed(1, now)
		p.SetAnswer(2, "x")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Lab("netpol")
	if s.Current != "netpol" || p == nil || p.Cluster != "seclab-netpol" {
		t.Fatalf("state not saved: %+v", s)
	}
	if got := p.NextStep(3); got != 2 {
		t.Errorf("NextStep = %d, want 2", got)
	}
	if p.Answers[2] != "x" {
		t.Errorf("answer lost: %v", p.Answers)
	}
}

func TestNextStepAllPassed(t *testing.T) {
	p := &Progress{}
	for i := 1; i <= 3; i++ {
		p.MarkPassed(i, time.Now())
	}
	if got := p.NextStep(3); got != 4 {
		t.Errorf("NextStep = %d, want 4", got)
	}
}

func TestForgetCluster(t *testing.T) {
	s := &State{}
	s.StartLab("a", "c1", "kind-c1", time.Now())
	s.StartLab("b", "c2", "kind-c2", time.Now())
	s.ForgetCluster("c2")
	if s.Lab("b") != nil || s.Current != "" {
		t.Errorf("lab on deleted cluster kept: %+v", s)
	}
	if s.Lab("a") == nil {
		t.Errorf("lab on other cluster dropped")
	}
}

func TestUpdateErrorKeepsOldState(t *testing.T) {
	st, _ := Open(t.TempDir())
	_ = st.Update(func(s *State) error { s.Current = "old"; return nil })
	err := st.Update(func(s *State) error { s.Current = "new"; return os.ErrInvalid })
	if err == nil {
		t.Fatal("want error from fn")
	}
	s, _ := st.Load()
	if s.Current != "old" {
		t.Errorf("failed update was saved: %q", s.Current)
	}
}

func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	st, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(step int) {
			defer wg.Done()
			err := st.Update(func(s *State) error {
				p := s.Lab("x")
				if p == nil {
					p = s.StartLab("x", "c", "ctx", time.Now())
				}
				p.MarkPassed(step, time.Now())
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	s, _ := st.Load()
	if n := len(s.Lab("x").Passed); n != 20 {
		t.Errorf("passed steps = %d, want 20 (lost updates)", n)
	}
}

func TestCorruptFileIsReported(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	if err := os.WriteFile(st.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(); err == nil {
		t.Fatal("corrupt state loaded without error")
	}
}

// TestCrashMidWrite kills a child process between writing the new state and
// renaming it into place: the old state must survive intact.
func TestCrashMidWrite(t *testing.T) {
	if dir := os.Getenv("SECLAB_STATE_CRASH_DIR"); dir != "" {
		st, _ := Open(dir)
		beforeRename = func() { os.Exit(3) }
		_ = st.Update(func(s *State) error { s.Current = "half-written"; return nil })
		os.Exit(0) // not reached if the hook fired
	}
	dir := t.TempDir()
	st, _ := Open(dir)
	if err := st.Update(func(s *State) error { s.Current = "before-crash"; return nil }); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
	cmd.Env = append(os.Environ(), "SECLAB_STATE_CRASH_DIR="+dir)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("child did not crash at the hook: %v", err)
	}
	s, err := st.Load()
	if err != nil {
		t.Fatalf("state unreadable after crash: %v", err)
	}
	if s.Current != "before-crash" {
		t.Errorf("state after crash = %q, want before-crash", s.Current)
	}
	// The lock is released by the kernel and the leftover temp file does
	// not stop the next update.
	if err := st.Update(func(s *State) error { s.Current = "after"; return nil }); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.Load(); s.Current != "after" {
		t.Errorf("update after crash not saved: %q", s.Current)
	}
}

// Every start of a lab is a new run, even on the same cluster at the same
// time: that is how a check tells a reset happened while it ran.
func TestStartLabBeginsANewRun(t *testing.T) {
	s := &State{}
	now := time.Now()
	first := s.StartLab("a", "c1", "kind-c1", now).Run
	second := s.StartLab("a", "c1", "kind-c1", now).Run
	if first == "" || second == "" || first == second {
		t.Errorf("runs %q and %q: want two different non-empty ids", first, second)
	}
}
