package main

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Probes are not run; a probe is taken to pass at its first try, after
// initialDelaySeconds. What matters for the watch is the order a real node
// shows: running but not started (startup probe) or not ready (readiness
// probe) first, then started, then ready, each as its own status.

// firstProbe is when a probe first passes, counted from `from`. A probe with
// no initial delay still passes a moment later, never in the same status
// write as the container start.
func firstProbe(p *corev1.Probe, from time.Time) time.Time {
	return from.Add(max(time.Duration(p.InitialDelaySeconds)*time.Second, 500*time.Millisecond))
}

// isSidecar: an init container with restartPolicy Always keeps running
// beside the app containers (Kubernetes 1.29+ sidecars).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// readyWhenRunning: app containers and sidecars are ready while they run
// (once their probes pass); ordinary init containers never are.
func (c *ctr) readyWhenRunning() bool { return !c.init || c.sidecar }

// onStart sets started/ready for a container that just started.
func (c *ctr) onStart(now time.Time) {
	c.startupAt, c.readyAt = time.Time{}, time.Time{}
	started, ready := true, c.readyWhenRunning()
	switch {
	case c.spec.StartupProbe != nil:
		started, ready = false, false
		c.startupAt = firstProbe(c.spec.StartupProbe, now)
	case c.spec.ReadinessProbe != nil && ready:
		ready = false
		c.readyAt = firstProbe(c.spec.ReadinessProbe, now)
	}
	c.st.Started = &started
	c.st.Ready = ready
}

// probesDue applies the probe results due by now; true if the status changed.
func (c *ctr) probesDue(now time.Time) bool {
	if c.st.State.Running == nil {
		c.startupAt, c.readyAt = time.Time{}, time.Time{}
		return false
	}
	changed := false
	if !c.startupAt.IsZero() && !c.startupAt.After(now) {
		c.startupAt = time.Time{}
		started := true
		c.st.Started = &started
		if c.spec.ReadinessProbe != nil && c.readyWhenRunning() {
			c.readyAt = firstProbe(c.spec.ReadinessProbe, now)
		} else {
			c.st.Ready = c.readyWhenRunning()
		}
		changed = true
	}
	if !c.readyAt.IsZero() && !c.readyAt.After(now) {
		c.readyAt = time.Time{}
		c.st.Ready = true
		changed = true
	}
	return changed
}

// nextProbe is the earliest pending probe time (zero if none).
func (c *ctr) nextProbe() time.Time {
	switch {
	case c.startupAt.IsZero():
		return c.readyAt
	case c.readyAt.IsZero() || c.startupAt.Before(c.readyAt):
		return c.startupAt
	}
	return c.readyAt
}
