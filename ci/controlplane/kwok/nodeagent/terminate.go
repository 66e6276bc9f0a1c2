package main

import (
	"fmt"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// terminate handles a graceful deletion: SIGTERM to each running container
// (Killing event), the stop (exit 0 for a server, SIGKILL/137 at the end of
// the grace period for a shell command that has no SIGTERM handler as PID 1),
// the terminal phase, and finally the deletion with grace period 0 that
// removes the object.
func (w *worker) terminate() {
	pod := w.pod()
	w.deleting = true
	grace := 30 * time.Second
	if g := pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	now := time.Now()
	killAt := now.Add(grace)
	type stop struct {
		c    *ctr
		at   time.Time
		code int32
	}
	var stops []stop
	for _, c := range append(append([]*ctr{}, w.inits...), w.mains...) {
		r := c.st.State.Running
		if r == nil {
			continue
		}
		w.event(c, corev1.EventTypeNormal, "Killing", fmt.Sprintf("Stopping container %s", c.spec.Name))
		s := stop{c: c, at: now.Add(100 * time.Millisecond)}
		switch {
		case c.beh.handlesSIGTERM:
		case !c.beh.forever && r.StartedAt.Add(c.beh.runFor).Before(killAt):
			s.at, s.code = r.StartedAt.Add(c.beh.runFor), c.beh.exitCode
		default:
			s.at, s.code = killAt, 137
		}
		stops = append(stops, s)
	}
	for _, s := range stops {
		// A force deletion (grace 0) ends the wait at once: the object is
		// gone and the worker is cancelled.
		w.waitUntil(s.at)
		if w.ctx.Err() != nil {
			return
		}
		w.exit(s.c, s.code, time.Now())
	}
	if w.sandboxStarted {
		w.sandboxReady, w.sandboxGone = false, true
		if !w.write() {
			return
		}
	}
	w.deleteNow()
}

// deleteNow removes the Pod object, as the kubelet's status manager does
// once the containers are stopped.
func (w *worker) deleteNow() {
	pod := w.pod()
	zero := int64(0)
	err := w.a.client.CoreV1().Pods(pod.Namespace).Delete(w.ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Printf("pod %s/%s: delete: %v", pod.Namespace, pod.Name, err)
	}
}

// mountVolumes waits until every ConfigMap and Secret the Pod mounts exists,
// with a FailedMount event per missing one on the kubelet's back-off (500ms
// doubling to 2m2s). Existence is checked every second, so a Pod starts
// sooner after the object appears than on a real node (up to 2m later).
// It returns false if the Pod is deleted meanwhile.
func (w *worker) mountVolumes() bool {
	backoff := 500 * time.Millisecond
	nextEvent := time.Now()
	for {
		missing := w.missingVolumes()
		if len(missing) == 0 {
			return true
		}
		now := time.Now()
		if !now.Before(nextEvent) {
			for _, m := range missing {
				w.event(nil, corev1.EventTypeWarning, "FailedMount", m)
			}
			nextEvent = now.Add(backoff)
			backoff = min(2*backoff, 2*time.Minute+2*time.Second)
		}
		if w.waitUntil(now.Add(time.Second)) || w.ctx.Err() != nil {
			return false
		}
	}
}

// missingVolumes gives the FailedMount message of each volume that cannot be
// set up because its (non-optional) ConfigMap or Secret does not exist.
func (w *worker) missingVolumes() []string {
	pod := w.pod()
	var out []string
	check := func(volume, kind, name string, optional *bool) {
		if optional != nil && *optional {
			return
		}
		var err error
		if kind == "configmap" {
			_, err = w.a.client.CoreV1().ConfigMaps(pod.Namespace).Get(w.ctx, name, metav1.GetOptions{})
		} else {
			_, err = w.a.client.CoreV1().Secrets(pod.Namespace).Get(w.ctx, name, metav1.GetOptions{})
		}
		if apierrors.IsNotFound(err) {
			out = append(out, fmt.Sprintf("MountVolume.SetUp failed for volume %q : %s %q not found", volume, kind, name))
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			check(v.Name, "configmap", v.ConfigMap.Name, v.ConfigMap.Optional)
		case v.Secret != nil:
			check(v.Name, "secret", v.Secret.SecretName, v.Secret.Optional)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					check(v.Name, "configmap", s.ConfigMap.Name, s.ConfigMap.Optional)
				}
				if s.Secret != nil {
					check(v.Name, "secret", s.Secret.Name, s.Secret.Optional)
				}
			}
		}
	}
	return out
}
