package verify

import "context"

// absentCheck passes when the object is gone (e.g. "delete the allow-all
// NetworkPolicy").
type absentCheck struct {
	spec *AbsentSpec
}

func (c *absentCheck) describe() string {
	return c.spec.Ref.String() + " is absent"
}

func (c *absentCheck) attempt(ctx context.Context, env *Env) Result {
	// A kind the cluster does not serve is an Error from getObject, not a
	// pass: it is far more often a typo in the lab than a real absence.
	obj, res := getObject(ctx, env, c.spec.Ref)
	if res != nil {
		return *res
	}
	expected := c.spec.Ref.String() + " does not exist"
	if obj == nil {
		return passed(expected, "not found")
	}
	if dt := obj.GetDeletionTimestamp(); dt != nil {
		// Finalizers pending: polling will see it go.
		return failed(expected, "exists, being deleted for "+ago(dt.Time))
	}
	return failed(expected, "exists (created "+ago(obj.GetCreationTimestamp().Time)+" ago)")
}
