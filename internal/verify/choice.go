package verify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Choice is one option of a multiple-choice question. The learner answers
// with its ID; the lab's equals names the right ID(s).
type Choice struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// choiceIDPattern keeps ids free of the separators an answer splits on and
// lowercase, since answers are compared without regard to case.
var choiceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// IsChoice reports whether the question is multiple choice.
func (a *AnswerSpec) IsChoice() bool { return a != nil && len(a.Choices) > 0 }

// ChoiceIDs lists the choices' ids in the lab's order.
func (a *AnswerSpec) ChoiceIDs() []string {
	ids := make([]string, len(a.Choices))
	for i, c := range a.Choices {
		ids[i] = c.ID
	}
	return ids
}

// ChoiceError is an answer that names no choice of the question, or
// several where the question has one right answer. It says what a valid
// answer looks like, never which one is right.
type ChoiceError struct {
	Answer string
	// Unknown are the parts of the answer that are no choice id.
	Unknown []string
	// Named counts the distinct choice ids the answer names.
	Named    int
	IDs      []string
	Multiple bool
}

func (e *ChoiceError) Error() string {
	ids := strings.Join(e.IDs, ", ")
	how := "answer with the id of one choice: " + ids
	if e.Multiple {
		how = "answer with the ids of every choice that applies, separated by commas (choices: " + ids + ")"
	}
	switch {
	case len(e.Unknown) > 0:
	case e.Named == 0:
		return fmt.Sprintf("%s names no choice; %s", quote(e.Answer, maxValue), how)
	default:
		return fmt.Sprintf("%s names %d choices, but this question has one right answer; %s", quote(e.Answer, maxValue), e.Named, how)
	}
	return fmt.Sprintf("%s is not a choice of this question; %s", quote(strings.Join(e.Unknown, ","), maxValue), how)
}

// ParseChoices reads an answer to a multiple-choice question as the set of
// choice ids it names: case, spaces, order and repeats do not matter
// ("B", " b " and "b" are the same answer; so are "d,b" and "B, D"). The
// ids come back sorted and unique.
func (a *AnswerSpec) ParseChoices(answer string) ([]string, error) {
	fields := strings.FieldsFunc(strings.ToLower(answer), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	known := a.ChoiceIDs()
	var ids, unknown []string
	for _, f := range fields {
		switch {
		case !slices.Contains(known, f):
			unknown = append(unknown, f)
		case !slices.Contains(ids, f):
			ids = append(ids, f)
		}
	}
	if len(unknown) > 0 || len(ids) == 0 || (len(ids) > 1 && !a.Multiple) {
		return nil, &ChoiceError{Answer: strings.TrimSpace(answer), Unknown: unknown, Named: len(ids), IDs: known, Multiple: a.Multiple}
	}
	slices.Sort(ids)
	return ids, nil
}

// choiceSource is what a choice question expects, in words.
func (a *AnswerSpec) choiceSource() string {
	if a.Multiple {
		return "every choice that applies, and no other"
	}
	return "the right choice"
}

// attemptChoice judges an answer to a multiple-choice question.
func (c *answerCheck) attemptChoice(got string) Result {
	expected := c.spec.choiceSource()
	ids, err := c.spec.ParseChoices(got)
	if err != nil {
		return final(failed(expected, err.Error()))
	}
	want, err := c.spec.ParseChoices(c.spec.Equals)
	if err != nil { // Validate rejects it first
		return final(errorf("the lab's answer to this question is not one of its choices: %v", err))
	}
	if slices.Equal(ids, want) {
		return passed(expected, "answer "+quote(got, maxValue)+" is correct")
	}
	found := "answer " + quote(got, maxValue) + " is not correct"
	if c.spec.Multiple {
		found += " (select every choice that applies, and none that does not)"
	}
	return final(failed(expected, found))
}

// validateChoices returns the problems of a multiple-choice answer spec.
func (a *AnswerSpec) validateChoices(bad func(path, format string, args ...any)) {
	if !a.IsChoice() {
		if a.Multiple {
			bad("answer.multiple", "set, but the answer has no choices")
		}
		return
	}
	if a.FromSecret != nil || a.FromObject != nil {
		bad("answer.choices", "only with equals (the id of the right choice): a choice question's answer is written in the lab")
	}
	if len(a.Choices) < 2 {
		bad("answer.choices", "a question needs at least 2 choices, got %d", len(a.Choices))
	}
	seen := map[string]bool{}
	for i, ch := range a.Choices {
		p := fmt.Sprintf("answer.choices[%d]", i)
		switch {
		case !choiceIDPattern.MatchString(ch.ID):
			bad(p+".id", "%q must be lowercase letters, digits, - or _ (the learner types it; answers ignore case)", ch.ID)
		case seen[ch.ID]:
			bad(p+".id", "%q is used twice", ch.ID)
		}
		seen[ch.ID] = true
		if strings.TrimSpace(ch.Text) == "" {
			bad(p+".text", "required")
		}
	}
	if a.Equals == "" {
		return // reported with the other answer sources
	}
	if _, err := a.ParseChoices(a.Equals); err != nil {
		bad("answer.equals", "must name the right choice: %v", err)
	}
}
