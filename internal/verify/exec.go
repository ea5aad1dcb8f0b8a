package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// execCheck runs a command in a pod (e.g. "id -u" to check runAsUser, or
// "cat /etc/shadow" expecting a non-zero exit) and compares its outcome.
type execCheck struct {
	spec *ExecSpec
	in   podSource
}

func (c *execCheck) describe() string {
	return fmt.Sprintf("%s: `%s` %s", c.in.String(), commandLine(c.spec.Command), outcomeWanted(c.spec.ExitCode, c.spec.StdoutContains, c.spec.StdoutEquals, ""))
}

func (c *execCheck) cleanup(env *Env) { c.in.cleanup(env) }

func (c *execCheck) attempt(ctx context.Context, env *Env) Result {
	if r := need(env.Exec != nil, "a pod exec client"); r != nil {
		return *r
	}
	pod, ctr, res := c.in.resolve(ctx, env)
	if res != nil {
		return *res
	}
	stdout, stderr, code, err := env.Exec.Exec(ctx, pod.Namespace, pod.Name, ctr, c.spec.Command, nil)
	if err != nil {
		return errorf("could not run `%s` in pod %s/%s: %v", commandLine(c.spec.Command), pod.Namespace, pod.Name, err)
	}
	expected := outcomeWanted(c.spec.ExitCode, c.spec.StdoutContains, c.spec.StdoutEquals, "")
	problems := outputProblems(code, stdout, c.spec.ExitCode, c.spec.StdoutContains, c.spec.StdoutEquals, "")
	if len(problems) == 0 {
		return passed(expected, "exit code "+strconv.Itoa(code))
	}
	return failed(expected, describeOutput(problems, code, stdout, stderr, c.spec.StdoutContains))
}

// outcomeWanted renders what a command must do, shared by exec and node.
func outcomeWanted(exitCode *int, contains, equals, notContains string) string {
	want := 0
	if exitCode != nil {
		want = *exitCode
	}
	parts := []string{"exit code " + strconv.Itoa(want)}
	if contains != "" {
		parts = append(parts, "stdout contains "+quote(contains, maxValue))
	}
	if equals != "" {
		parts = append(parts, "stdout = "+quote(equals, maxValue))
	}
	if notContains != "" {
		parts = append(parts, "stdout does not contain "+quote(notContains, maxValue))
	}
	return strings.Join(parts, ", ")
}

// outputProblems lists each way a command's outcome misses what is wanted.
func outputProblems(code int, stdout string, exitCode *int, contains, equals, notContains string) []string {
	want := 0
	if exitCode != nil {
		want = *exitCode
	}
	var p []string
	if code != want {
		p = append(p, fmt.Sprintf("exit code %d", code))
	}
	if contains != "" && !strings.Contains(stdout, contains) {
		p = append(p, "stdout does not contain "+quote(contains, maxValue))
	}
	if equals != "" && strings.TrimSpace(stdout) != strings.TrimSpace(equals) {
		p = append(p, "stdout = "+quote(strings.TrimSpace(stdout), maxOutput))
	}
	if notContains != "" && strings.Contains(stdout, notContains) {
		p = append(p, "stdout contains "+quote(notContains, maxValue)+": "+excerptAround(stdout, notContains))
	}
	return p
}

// describeOutput is Found for a failed command: the problems, the exit code
// if not already said, then the output that explains them (stdout only when
// a problem is not already quoting it).
func describeOutput(problems []string, code int, stdout, stderr, contains string) string {
	s := strings.Join(problems, "; ")
	if !strings.HasPrefix(problems[0], "exit code") {
		s += fmt.Sprintf(" (exit code %d)", code)
	}
	showStdout := false
	for _, p := range problems {
		if strings.HasPrefix(p, "exit code") || strings.HasPrefix(p, "stdout does not contain") {
			showStdout = true
		}
	}
	if showStdout {
		if strings.TrimSpace(stdout) == "" {
			s += "\nstdout: (empty)"
		} else {
			s += "\nstdout: " + excerpt(stdout, contains)
		}
	}
	if strings.TrimSpace(stderr) != "" {
		s += "\nstderr: " + quote(strings.TrimSpace(stderr), maxOutput)
	}
	return s
}

// excerptAround quotes the line of out that contains s.
func excerptAround(out, s string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			return quote(strings.TrimSpace(line), maxOutput)
		}
	}
	return quote(out, maxOutput)
}
