package verify

import (
	"errors"
	"strings"
	"testing"
)

func choices(ids ...string) []Choice {
	var out []Choice
	for _, id := range ids {
		out = append(out, Choice{ID: id, Text: "option " + id})
	}
	return out
}

var (
	oneRight  = &AnswerSpec{Equals: "b", Choices: choices("a", "b", "c", "d")}
	manyRight = &AnswerSpec{Equals: "a,c,e", Multiple: true, Choices: choices("a", "b", "c", "d", "e")}
)

func TestParseChoicesNormalizes(t *testing.T) {
	for _, tc := range []struct {
		spec   *AnswerSpec
		answer string
		want   string
	}{
		{oneRight, "b", "b"},
		{oneRight, "B", "b"},
		{oneRight, " b \n", "b"},
		{oneRight, "b,b", "b"}, // a repeat names one choice
		{manyRight, "a,c,e", "a,c,e"},
		{manyRight, "e, a ,C", "a,c,e"},
		{manyRight, "E A C", "a,c,e"},
		{manyRight, ",a,,c,e,", "a,c,e"},
		{manyRight, "d", "d"},
	} {
		got, err := tc.spec.ParseChoices(tc.answer)
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%q: got %v, %v; want %s", tc.answer, got, err, tc.want)
		}
	}
}

func TestParseChoicesRejects(t *testing.T) {
	for _, tc := range []struct {
		spec   *AnswerSpec
		answer string
		want   string
	}{
		{oneRight, "kubelet", `"kubelet" is not a choice of this question; answer with the id of one choice: a, b, c, d`},
		{oneRight, "b)", `"b)" is not a choice of this question; answer with the id of one choice: a, b, c, d`},
		{oneRight, "a,b", `"a,b" names 2 choices, but this question has one right answer; answer with the id of one choice: a, b, c, d`},
		{oneRight, " , ", `"," names no choice; answer with the id of one choice: a, b, c, d`},
		{manyRight, "a,x,c,y", `"x,y" is not a choice of this question; answer with the ids of every choice that applies, separated by commas (choices: a, b, c, d, e)`},
	} {
		_, err := tc.spec.ParseChoices(tc.answer)
		var ce *ChoiceError
		if !errors.As(err, &ce) || err.Error() != tc.want {
			t.Errorf("%q:\n  got  %v\n  want %s", tc.answer, err, tc.want)
		}
	}
}

func TestChoiceAnswerCheck(t *testing.T) {
	env, _ := testEnv()
	single := Spec{Answer: oneRight}
	multi := Spec{Answer: manyRight}
	for _, tc := range []struct {
		spec   Spec
		answer string
		status Status
		found  string
	}{
		{single, "b", Pass, `answer "b" is correct`},
		{single, " B ", Pass, `answer "B" is correct`},
		{single, "c", Fail, `answer "c" is not correct`},
		{single, "", Fail, "no answer yet — run: seclab answer ID (the choices: a, b, c, d)"},
		{single, "b,c", Fail, `"b,c" names 2 choices, but this question has one right answer; answer with the id of one choice: a, b, c, d`},
		{single, "kubelet", Fail, `"kubelet" is not a choice of this question; answer with the id of one choice: a, b, c, d`},
		{multi, "c,e,a", Pass, `answer "c,e,a" is correct`},
		{multi, "A, C, E", Pass, `answer "A, C, E" is correct`},
		{multi, "a,c", Fail, `answer "a,c" is not correct (select every choice that applies, and none that does not)`},
		{multi, "a,b,c,e", Fail, `answer "a,b,c,e" is not correct (select every choice that applies, and none that does not)`},
		{multi, "b", Fail, `answer "b" is not correct (select every choice that applies, and none that does not)`},
	} {
		env.Answer = tc.answer
		r := quick(t, env, tc.spec)
		wantStatus(t, r, tc.status)
		if r.Found != tc.found {
			t.Errorf("%q: found = %q, want %q", tc.answer, r.Found, tc.found)
		}
		if r.Status == Fail && r.Attempts != 1 {
			t.Errorf("%q: %d attempts: the answer cannot change while checking", tc.answer, r.Attempts)
		}
	}
}

// Nothing a failing check says may tell the right choice apart: the
// message is the same whichever wrong choice was given, and names no
// choice as right.
func TestChoiceAnswerNeverTellsTheRightOne(t *testing.T) {
	env, _ := testEnv()
	for _, wrong := range []string{"a", "c", "d"} {
		env.Answer = wrong
		r := quick(t, env, Spec{Answer: oneRight})
		if r.Expected != "the right choice" {
			t.Errorf("%s: expected = %q", wrong, r.Expected)
		}
		if r.Found != `answer "`+wrong+`" is not correct` {
			t.Errorf("%s: found = %q", wrong, r.Found)
		}
	}
	env.Answer = "a,c"
	if r := quick(t, env, Spec{Answer: manyRight}); r.Expected != "every choice that applies, and no other" {
		t.Errorf("multi: expected = %q", r.Expected)
	}
}

func TestChoiceValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *AnswerSpec
		want []string
	}{
		{"valid single", oneRight, nil},
		{"valid multi", manyRight, nil},
		{"multi with one right choice", &AnswerSpec{Equals: "a", Multiple: true, Choices: choices("a", "b")}, nil},
		{"one choice", &AnswerSpec{Equals: "a", Choices: choices("a")}, []string{"answer.choices: a question needs at least 2 choices, got 1"}},
		{"equals names no choice", &AnswerSpec{Equals: "e", Choices: choices("a", "b")}, []string{
			`answer.equals: must name the right choice: "e" is not a choice of this question; answer with the id of one choice: a, b`}},
		{"several right without multiple", &AnswerSpec{Equals: "a,b", Choices: choices("a", "b", "c")}, []string{
			`answer.equals: must name the right choice: "a,b" names 2 choices, but this question has one right answer; answer with the id of one choice: a, b, c`}},
		{"no equals", &AnswerSpec{Choices: choices("a", "b")}, []string{"answer: set exactly one of equals, fromSecret, fromObject"}},
		{"choices read from a secret", &AnswerSpec{FromSecret: &SecretKey{Name: "s", Key: "k"}, Choices: choices("a", "b")}, []string{
			"answer.choices: only with equals (the id of the right choice): a choice question's answer is written in the lab"}},
		{"duplicate, bad and empty", &AnswerSpec{Equals: "a", Choices: []Choice{{ID: "a", Text: "x"}, {ID: "a", Text: "y"}, {ID: "B", Text: "z"}, {ID: "c,d", Text: "w"}, {ID: "e", Text: " "}}}, []string{
			`answer.choices[1].id: "a" is used twice`,
			`answer.choices[2].id: "B" must be lowercase letters, digits, - or _ (the learner types it; answers ignore case)`,
			`answer.choices[3].id: "c,d" must be lowercase letters, digits, - or _ (the learner types it; answers ignore case)`,
			"answer.choices[4].text: required"}},
		{"multiple without choices", &AnswerSpec{Equals: "x", Multiple: true}, []string{"answer.multiple: set, but the answer has no choices"}},
	} {
		got := Spec{Answer: tc.spec}.Validate()
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n  got  %q\n  want %q", tc.name, got, tc.want)
		}
	}
}
