package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// write sends the Pod status the kubelet would compute now. It returns false
// when the Pod is gone (or the worker stops), so the caller can give up.
//
// Conflicts and rejected writes are given up after 10 tries; an unreachable
// or restarting API server is retried until the worker stops, as a kubelet
// keeps syncing: giving up would leave the Pod in its last state for ever.
func (w *worker) write() bool {
	for attempt := 0; attempt < 10 && w.ctx.Err() == nil; attempt++ {
		pod := w.pod().DeepCopy()
		pod.Status = w.status(pod, metav1.Now())
		written, err := w.a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(w.ctx, pod, metav1.UpdateOptions{})
		switch {
		case err == nil:
			w.writtenRV, _ = strconv.ParseInt(written.ResourceVersion, 10, 64)
			return true
		case apierrors.IsNotFound(err):
			return false
		case apierrors.IsConflict(err):
			// Someone else changed the Pod (a label, a condition): take
			// the newest version and compute the status on top of it.
			fresh, getErr := w.a.client.CoreV1().Pods(pod.Namespace).Get(w.ctx, pod.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(getErr) {
				return false
			}
			if getErr == nil && fresh.UID == pod.UID {
				w.notify(fresh)
			}
		default:
			log.Printf("pod %s/%s: status update: %v", pod.Namespace, pod.Name, err)
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) && !apierrors.IsForbidden(err) {
				attempt-- // transient: the API server is away
			}
			select {
			case <-w.ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return false
}

// drifted reports whether a version of the Pod newer than the last status
// written here disagrees with the kubelet-owned conditions or the phase.
func (w *worker) drifted() bool {
	pod := w.pod()
	rv, err := strconv.ParseInt(pod.ResourceVersion, 10, 64)
	if w.writtenRV == 0 || err != nil || rv <= w.writtenRV || pod.DeletionTimestamp != nil {
		return false
	}
	if pod.Status.Phase != w.phase() {
		return true
	}
	for _, want := range w.conditions(pod, pod.Status.Phase, metav1.Now()) {
		found := false
		for _, have := range pod.Status.Conditions {
			if have.Type == want.Type {
				found = true
				if have.Status != want.Status || have.Reason != want.Reason {
					return true
				}
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// status builds the Pod status from the simulated containers, keeping what
// other components own (the scheduler's condition, nominatedNodeName, ...).
func (w *worker) status(pod *corev1.Pod, now metav1.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.Phase = w.phase()
	st.ObservedGeneration = pod.Generation
	st.HostIP = w.hostIP
	st.HostIPs = []corev1.HostIP{{IP: w.hostIP}}
	st.StartTime = &w.startTime
	if w.podIP != "" {
		st.PodIP = w.podIP
		st.PodIPs = []corev1.PodIP{{IP: w.podIP}}
	}
	st.InitContainerStatuses = nil
	for _, c := range w.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, *c.st.DeepCopy())
	}
	st.ContainerStatuses = nil
	for _, c := range w.mains {
		st.ContainerStatuses = append(st.ContainerStatuses, *c.st.DeepCopy())
	}
	st.Conditions = w.conditions(pod, st.Phase, now)
	return st
}

// conditions in the kubelet's order, each with the Pod's generation; a
// condition's lastTransitionTime moves only when its status changes.
func (w *worker) conditions(pod *corev1.Pod, phase corev1.PodPhase, now metav1.Time) []corev1.PodCondition {
	gen := pod.Generation
	sandbox := corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue}
	if !w.sandboxReady {
		msg := "no pod sandbox exists"
		if w.sandboxGone {
			msg = "pod sandbox is not ready"
		}
		sandbox = corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse, Reason: "PodSandboxNotReady", Message: msg}
	}
	initialized := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	var incomplete []string
	for _, c := range w.inits {
		if c.sidecar && c.st.Started != nil && *c.st.Started {
			continue
		}
		if t := c.st.State.Terminated; (t == nil || t.ExitCode != 0) && !(c.sidecar && c.everRan) {
			incomplete = append(incomplete, c.spec.Name)
		}
	}
	if len(incomplete) > 0 {
		initialized = corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse,
			Reason: "ContainersNotInitialized", Message: fmt.Sprintf("containers with incomplete status: %s", incomplete)}
	}
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	var unready []string
	for _, c := range w.inits {
		if c.sidecar && !c.st.Ready {
			unready = append(unready, c.spec.Name)
		}
	}
	for _, c := range w.mains {
		if !c.st.Ready {
			unready = append(unready, c.spec.Name)
		}
	}
	switch {
	case phase == corev1.PodSucceeded:
		ready = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"}
	case phase == corev1.PodFailed:
		ready = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodFailed"}
	case len(unready) > 0:
		ready = corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse,
			Reason: "ContainersNotReady", Message: fmt.Sprintf("containers with unready status: %s", unready)}
	}
	containersReady := ready
	containersReady.Type = corev1.ContainersReady

	scheduled := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}
	var others []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled:
			scheduled = c
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady:
		default:
			others = append(others, c) // readiness gates, DisruptionTarget, ...
		}
	}
	out := []corev1.PodCondition{sandbox, initialized, ready, containersReady, scheduled}
	for i := range out {
		out[i].ObservedGeneration = gen
		out[i].LastTransitionTime = now
		for _, old := range pod.Status.Conditions {
			if old.Type == out[i].Type && old.Status == out[i].Status && !old.LastTransitionTime.IsZero() {
				out[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return append(out, others...)
}

// phase follows the kubelet's getPhase.
func (w *worker) phase() corev1.PodPhase {
	policy := w.pod().Spec.RestartPolicy
	for _, c := range w.inits {
		t := c.st.State.Terminated
		if (t != nil && t.ExitCode == 0) || (c.sidecar && c.everRan) {
			continue
		}
		if (t != nil && policy == corev1.RestartPolicyNever) || w.deleting {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	running, waitingFresh, stopped, succeeded := 0, 0, 0, 0
	for _, c := range w.mains {
		switch {
		case c.st.State.Running != nil:
			running++
		case c.st.State.Terminated != nil:
			stopped++
			if c.st.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case c.everRan:
			stopped++ // waiting to restart
		default:
			waitingFresh++
		}
	}
	if w.deleting {
		if stopped == succeeded && waitingFresh == 0 && running == 0 {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	}
	switch {
	case waitingFresh > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped == succeeded:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	}
	// OnFailure with a failed container: it restarts.
	for _, c := range w.mains {
		if c.act != actNone {
			return corev1.PodRunning
		}
	}
	return corev1.PodFailed
}

func isTerminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

func volumeMountStatuses(c *corev1.Container) []corev1.VolumeMountStatus {
	var out []corev1.VolumeMountStatus
	for _, m := range c.VolumeMounts {
		s := corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			disabled := corev1.RecursiveReadOnlyDisabled
			s.RecursiveReadOnly = &disabled
		}
		out = append(out, s)
	}
	return out
}

func newContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "containerd://" + hex.EncodeToString(b)
}

// event records an Event about the Pod, or about one of its containers (with
// the fieldPath the kubelet sets, e.g. spec.containers{nginx}).
func (w *worker) event(c *ctr, eventType, reason, message string) {
	pod := w.pod()
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion}
	if c != nil {
		if c.init {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.spec.Name)
		} else {
			ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.spec.Name)
		}
	}
	w.a.recorder(pod.Spec.NodeName).Event(ref, eventType, reason, message)
}
