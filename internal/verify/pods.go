package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

// Pod resolution shared by connectivity and exec checks. A pod the step
// names that does not exist is a Fail: the lab or the learner made it, so
// its absence is the learner's to fix (deleted, never created, mislabelled).
// A pod that exists but cannot be used (not Running, an image that cannot be
// pulled here) is an Error: seclab cannot tell what it would do, and a
// missing preloaded image looks the same as a learner's wrong tag. Its
// message says exactly why, because that usually is the learner's mistake.

// ProbeLabel marks the temporary pods seclab creates, so they can be told
// apart from (and cleaned up without touching) the learner's pods.
const ProbeLabel = "seclab.dev/probe"

// probeStartTimeout bounds the wait for a probe pod to start within one
// check (the check's own deadline may cut it shorter).
const probeStartTimeout = 60 * time.Second

// podUsable reports whether a pod can be exec'd into and sends/receives
// traffic: Running, Ready and not being deleted.
func podUsable(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPod lists the pods matching selector in ns and returns the first
// usable one (by name, so repeated runs pick the same pod). When there is
// none, res is an Error saying why.
func readyPod(ctx context.Context, env *Env, ns, selector string) (*corev1.Pod, *Result) {
	list, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		r := errorf("could not list pods %s in %s: %v", selector, ns, err)
		return nil, &r
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for i := range pods {
		if podUsable(&pods[i]) {
			return &pods[i], nil
		}
	}
	if len(pods) == 0 {
		// Not final: a Deployment may be recreating the pod.
		expected := fmt.Sprintf("a Running pod matching %s in %s", selector, ns)
		if h := namespaceHint(ctx, env, ns); h != "" {
			r := failed(expected, fmt.Sprintf("no pod matches %s in %s%s", selector, ns, h))
			return nil, &r
		}
		r := failed(expected, fmt.Sprintf("no pod matches %s in %s (check the pod labels: kubectl get pods -n %s --show-labels)", selector, ns, ns))
		return nil, &r
	}
	r := errorf("no Running pod matches %s in %s: %s", selector, ns, podsProblems(pods))
	allBroken := true
	for i := range pods {
		allBroken = allBroken && broken(&pods[i])
	}
	switch {
	case allBroken:
		r = final(failed(fmt.Sprintf("a Running pod matching %s in %s", selector, ns), "no Running pod matches "+selector+" in "+ns+": "+podsProblems(pods)))
	case allStuck(pods):
		r = final(r)
	}
	return nil, &r
}

// podsProblems says why each of (up to 3 of) pods is not usable.
func podsProblems(pods []corev1.Pod) string {
	var out []string
	for i := range pods {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %s more", plural(len(pods)-3, "pod")))
			break
		}
		out = append(out, "pod "+pods[i].Name+": "+podProblem(&pods[i]))
	}
	return strings.Join(out, "; ")
}

// namedPod gets one pod by name and checks it is usable.
func namedPod(ctx context.Context, env *Env, ns, name string) (*corev1.Pod, *Result) {
	p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := failed(fmt.Sprintf("pod %s/%s exists and is Running", ns, name), fmt.Sprintf("pod %s/%s not found%s", ns, name, namespaceHint(ctx, env, ns)))
		return nil, &r
	}
	if err != nil {
		r := errorf("could not read pod %s/%s: %v", ns, name, err)
		return nil, &r
	}
	if !podUsable(p) {
		if broken(p) {
			r := final(failed(fmt.Sprintf("pod %s/%s is Running and Ready", ns, name), fmt.Sprintf("pod %s/%s does not run: %s", ns, name, podProblem(p))))
			return nil, &r
		}
		r := errorf("pod %s/%s is not Running and Ready: %s", ns, name, podProblem(p))
		return nil, &r
	}
	return p, nil
}

// broken reports whether the pod's own spec keeps it from running: it has
// finished, its container keeps exiting, or cannot be created as
// configured. That is the pod author's doing, so a check fails on it; a
// pod still starting, or whose image this machine lacks, says nothing yet.
func broken(p *corev1.Pod) bool {
	if p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded) {
		return true
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return true
			}
		}
	}
	return false
}

// allStuck reports whether every pod waits on something time will not fix
// (an image that cannot be pulled here, a crash loop), so a check can say
// so at once instead of polling until its deadline.
func allStuck(pods []corev1.Pod) bool {
	if len(pods) == 0 {
		return false
	}
	for i := range pods {
		if !stuck(&pods[i]) {
			return false
		}
	}
	return true
}

func stuck(p *corev1.Pod) bool {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError":
				return true
			}
		}
	}
	return false
}

// podProblem explains, from its status, why a pod is not Running and Ready.
func podProblem(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "it is being deleted"
	}
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		why := strings.TrimSpace(p.Status.Reason + " " + p.Status.Message)
		if why == "" {
			return "it has finished (phase " + string(p.Status.Phase) + ")"
		}
		return "it has finished (phase " + string(p.Status.Phase) + "): " + why
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "it cannot be scheduled: " + clip(c.Message, maxOutput)
		}
	}
	images := map[string]string{}
	pullAlways := map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		images[c.Name] = c.Image
		pullAlways[c.Name] = c.ImagePullPolicy == corev1.PullAlways
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" && w.Reason != "ContainerCreating" {
			return containerWaiting(cs.Name, images[cs.Name], pullAlways[cs.Name], w)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
		}
		if cs.State.Running != nil && !cs.Ready {
			return "container " + cs.Name + " is running but not ready (is its readiness probe failing?)"
		}
	}
	if p.Status.Phase == corev1.PodPending || p.Status.Phase == "" {
		return "it is still starting (Pending)"
	}
	return "it is not Ready"
}

// containerWaiting explains a waiting container. Image pull failures get the
// most care: this cluster has no registry, so `--image=nginx` (which means
// nginx:latest) can never start, and the learner needs to be told that.
func containerWaiting(name, image string, pullAlways bool, w *corev1.ContainerStateWaiting) string {
	switch w.Reason {
	case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
		msg := fmt.Sprintf("container %s cannot pull image %q (%s): this cluster has no registry access, only preloaded images can start",
			name, image, w.Reason)
		switch {
		case untagged(image):
			msg += fmt.Sprintf(" — %q means %s:latest; use the exact image and tag the lab gives", image, image)
		case pullAlways:
			// kubectl create deploy --image=nginx sets Always, and
			// kubectl set image keeps it: the tag is right, the policy is not.
			msg += " — its imagePullPolicy is Always, so even a preloaded image is pulled; set imagePullPolicy: IfNotPresent (or recreate the workload with the pinned tag)"
		default:
			msg += " — use the exact image and tag the lab gives"
		}
		return msg
	case "CrashLoopBackOff":
		return "container " + name + " keeps crashing (CrashLoopBackOff): see kubectl logs --previous"
	}
	msg := "container " + name + " is waiting: " + w.Reason
	if w.Message != "" {
		msg += ": " + clip(w.Message, maxOutput)
	}
	return msg
}

// untagged reports whether an image reference has neither tag nor digest.
func untagged(image string) bool {
	if image == "" || strings.Contains(image, "@") {
		return false
	}
	last := image[strings.LastIndex(image, "/")+1:]
	return !strings.Contains(last, ":")
}

// container picks the container to exec in: the named one, or the first.
func container(p *corev1.Pod, name string) (string, *Result) {
	if name == "" {
		return p.Spec.Containers[0].Name, nil
	}
	var names []string
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
		names = append(names, c.Name)
	}
	// Fail: the pod exists but was built without the container the step
	// names (a lab typo here is caught by the self-test's solution run).
	r := final(failed(fmt.Sprintf("pod %s/%s has a container %q", p.Namespace, p.Name, name),
		fmt.Sprintf("pod %s/%s has no container %q (containers: %s)", p.Namespace, p.Name, name, strings.Join(names, ", "))))
	return "", &r
}

// podSource resolves a PodRef (selector, name or probe) to a pod and
// container, keeping a probe pod alive across attempts.
type podSource struct {
	ref   PodRef
	probe *corev1.Pod // the probe pod created by this check, if any
}

func (s *podSource) String() string {
	ns := s.ref.Namespace
	switch {
	case s.ref.Selector != "":
		return ns + "/" + s.ref.Selector
	case s.ref.Pod != "":
		return ns + "/pod " + s.ref.Pod
	}
	if s.ref.Probe == nil || len(s.ref.Probe.Labels) == 0 {
		return ns + "/probe pod"
	}
	var kv []string
	for k, v := range s.ref.Probe.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return ns + "/probe pod " + strings.Join(kv, ",")
}

// resolve returns the pod and container to exec in, or the result to report
// instead (see the top of this file for Fail versus Error).
func (s *podSource) resolve(ctx context.Context, env *Env) (*corev1.Pod, string, *Result) {
	if r := need(env.Client != nil, "a Kubernetes client"); r != nil {
		return nil, "", r
	}
	var p *corev1.Pod
	var res *Result
	switch {
	case s.ref.Selector != "":
		p, res = readyPod(ctx, env, s.ref.Namespace, s.ref.Selector)
	case s.ref.Pod != "":
		p, res = namedPod(ctx, env, s.ref.Namespace, s.ref.Pod)
	default:
		p, res = s.probePod(ctx, env)
	}
	if res != nil {
		return nil, "", res
	}
	name, res := container(p, s.ref.Container)
	return p, name, res
}

// probePod creates the probe pod on first use and waits until it runs.
func (s *podSource) probePod(ctx context.Context, env *Env) (*corev1.Pod, *Result) {
	ns := s.ref.Namespace
	pods := env.Client.CoreV1().Pods(ns)
	if s.probe != nil {
		p, err := pods.Get(ctx, s.probe.Name, metav1.GetOptions{})
		switch {
		case err == nil && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded:
			s.probe = p
		case err == nil || apierrors.IsNotFound(err):
			// Gone or dead (evicted, deleted by the learner): start over.
			s.cleanup(env)
		default:
			r := errorf("could not read probe pod %s/%s: %v", ns, s.probe.Name, err)
			return nil, &r
		}
	}
	if s.probe == nil {
		p, err := pods.Create(ctx, s.probeSpec(env), metav1.CreateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			// Error, not Fail: the probe is seclab's instrument; where it
			// cannot run, seclab cannot tell anything about the step.
			r := errorf("cannot start a probe pod: namespace %s does not exist", ns)
			return nil, &r
		case err != nil:
			// e.g. a ResourceQuota or an admission policy the lab set up.
			r := errorf("could not create probe pod in %s: %v", ns, err)
			return nil, &r
		}
		s.probe = p
		if p, err = s.adoptSelf(ctx, env, p); err != nil {
			r := errorf("could not label probe pod %s/%s: %v", ns, s.probe.Name, err)
			// Unlabeled, it must not be reused: start over next attempt.
			s.cleanup(env)
			return nil, &r
		}
		s.probe = p
	}

	wctx, cancel := context.WithTimeout(ctx, probeStartTimeout)
	defer cancel()
	tick := min(env.interval(), 250*time.Millisecond)
	for {
		if probeUsable(s.probe) {
			return s.probe, nil
		}
		for _, cs := range s.probe.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName":
					// Waiting will not help: the image is not in the cluster.
					r := final(errorf("probe pod %s/%s cannot start: container %s cannot pull image %q (%s); the probe image must be preloaded into the cluster",
						ns, s.probe.Name, cs.Name, env.probeImage(), w.Reason))
					return nil, &r
				}
			}
		}
		select {
		case <-wctx.Done():
			r := errorf("probe pod %s/%s did not start in time: %s", ns, s.probe.Name, podProblem(s.probe))
			return nil, &r
		case <-time.After(tick):
		}
		p, err := pods.Get(wctx, s.probe.Name, metav1.GetOptions{})
		if err != nil {
			if wctx.Err() != nil {
				continue // reported by the select above
			}
			r := errorf("could not read probe pod %s/%s: %v", ns, s.probe.Name, err)
			return nil, &r
		}
		s.probe = p
	}
}

// probeSpec is the temporary pod. It is built to be admitted anywhere a lab
// may put it: it satisfies the "restricted" Pod Security Standard (labs
// enforce it on their namespaces), sets requests and limits (for namespaces
// with a ResourceQuota), mounts no token, and dies instantly on delete.
func (s *podSource) probeSpec(env *Env) *corev1.Pod {
	// The lab's labels come in adoptSelf, once the pod is its own
	// controller; until then only the marker.
	labels := map[string]string{ProbeLabel: "true"}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("50m"),
		corev1.ResourceMemory: resource.MustParse("32Mi"),
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "seclab-probe-" + utilrand.String(6),
			Namespace: s.ref.Namespace,
			Labels:    labels,
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:            "probe",
				Image:           env.probeImage(),
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"sleep", "3600"},
				Resources:       corev1.ResourceRequirements{Requests: res, Limits: res},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65534),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			RestartPolicy:                 corev1.RestartPolicyNever,
			// Never Ready, so a probe with a Service's labels never
			// becomes one of its endpoints.
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: probeNeverReady}},
		},
	}
}

// probeNeverReady is a readiness gate nothing ever sets.
const probeNeverReady = "seclab.dev/never-ready"

// adoptSelf makes the probe its own controller, then gives it the lab's
// labels: a ReplicaSet whose selector matches those labels adopts only
// pods without a controller, and would otherwise take the probe over (and
// scale a replica away).
func (s *podSource) adoptSelf(ctx context.Context, env *Env, p *corev1.Pod) (*corev1.Pod, error) {
	labels := map[string]any{}
	if s.ref.Probe != nil {
		for k, v := range s.ref.Probe.Labels {
			labels[k] = v
		}
	}
	patch := map[string]any{"metadata": map[string]any{
		"labels": labels,
		"ownerReferences": []map[string]any{{
			"apiVersion": "v1", "kind": "Pod", "name": p.Name, "uid": string(p.UID), "controller": true,
		}},
	}}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	return env.Client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, data, metav1.PatchOptions{})
}

// probeUsable: a probe pod is never Ready (see probeNeverReady); it is
// usable once Running with its container ready.
func probeUsable(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if (c.Type == corev1.ContainersReady || c.Type == corev1.PodReady) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// cleanup deletes the probe pod with a fresh context: the check's own
// context is usually already done when this runs.
func (s *podSource) cleanup(env *Env) {
	if s.probe == nil || env.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = env.Client.CoreV1().Pods(s.probe.Namespace).Delete(ctx, s.probe.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	s.probe = nil
}
