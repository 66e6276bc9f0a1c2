package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// worker simulates one Pod: a small event loop over its containers, each of
// which has one pending action at a time.
type worker struct {
	a      *agent
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	latest *corev1.Pod
	wake   chan struct{}

	startTime      metav1.Time
	hostIP, podIP  string
	sandboxReady   bool // PodReadyToStartContainers
	sandboxStarted bool // the first container start creates the sandbox
	sandboxGone    bool // torn down after the Pod finished
	deleting       bool
	inits, mains   []*ctr
	initIndex      int   // the init container running now; len(inits) once all completed
	writtenRV      int64 // resourceVersion of the last status this worker wrote
}

type action int

const (
	actNone         action = iota
	actStart               // begin pulling / creating
	actStarted             // the pull is over: start, or fail to pull
	actPullBackOff         // show ImagePullBackOff until the next pull
	actExit                // the process ends
	actCrashBackOff        // show CrashLoopBackOff until the restart
)

// ctr is one container's simulated runtime state.
type ctr struct {
	spec     *corev1.Container
	init     bool
	beh      behaviour
	st       corev1.ContainerStatus
	act      action
	at       time.Time
	pulling  bool
	pullFrom time.Time
	pullWait time.Duration // image pull back-off
	failedAt time.Time
	restart  time.Time
	lastTerm *corev1.ContainerStateTerminated
	everRan  bool
	sidecar  bool
	// When the startup / readiness probe first passes (zero: none pending).
	startupAt, readyAt time.Time
}

func newWorker(a *agent, pod *corev1.Pod) *worker {
	w := &worker{a: a, latest: pod.DeepCopy(), wake: make(chan struct{}, 1)}
	return w
}

// notify records the newest version of the Pod and wakes the loop.
func (w *worker) notify(pod *corev1.Pod) {
	w.mu.Lock()
	w.latest = pod.DeepCopy()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) pod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

func (w *worker) run(parent context.Context) {
	w.ctx, w.cancel = context.WithCancel(parent)
	defer w.cancel()
	pod := w.pod()
	if pod.Status.StartTime != nil {
		// Started before this agent (a restart of it): only see it deleted.
		if w.waitUntil(time.Time{}) {
			w.deleteNow()
		}
		return
	}
	w.lifecycle()
}

// waitUntil sleeps until t (forever if zero) and returns true early when the
// Pod is being deleted. It returns false at t, or when the worker stops.
func (w *worker) waitUntil(t time.Time) bool {
	for {
		if w.ctx.Err() != nil {
			return false
		}
		if pod := w.pod(); pod.DeletionTimestamp != nil {
			return true
		}
		var timer *time.Timer
		var fired <-chan time.Time
		if !t.IsZero() {
			d := time.Until(t)
			if d <= 0 {
				return false
			}
			timer = time.NewTimer(d)
			fired = timer.C
		}
		select {
		case <-w.ctx.Done():
			return false
		case <-fired:
			return false
		case <-w.wake:
			if timer != nil {
				timer.Stop()
			}
			if w.drifted() {
				// Someone else changed a condition the kubelet owns (the
				// node lifecycle controller marks Pods not Ready when the
				// node misses a heartbeat): a kubelet's next sync puts its
				// own view back.
				w.write()
			}
		}
	}
}

func (w *worker) lifecycle() {
	pod := w.pod()
	node, ok := w.a.managedNode(pod.Spec.NodeName)
	if !ok {
		return
	}
	w.hostIP = nodeInternalIP(node)
	w.startTime = metav1.Now()
	for i := range pod.Spec.InitContainers {
		w.inits = append(w.inits, newCtr(&pod.Spec.InitContainers[i], true, "PodInitializing"))
	}
	waiting := "ContainerCreating"
	if len(w.inits) > 0 {
		waiting = "PodInitializing"
	}
	for i := range pod.Spec.Containers {
		w.mains = append(w.mains, newCtr(&pod.Spec.Containers[i], false, waiting))
	}
	// The kubelet's first status: admitted, containers being created.
	if !w.write() {
		return
	}
	if !w.mountVolumes() {
		w.terminate()
		return
	}
	now := time.Now()
	if len(w.inits) > 0 {
		w.inits[0].schedule(actStart, now)
	} else {
		for _, c := range w.mains {
			c.schedule(actStart, now)
		}
	}
	w.loop()
}

func newCtr(spec *corev1.Container, init bool, waiting string) *ctr {
	started := false
	return &ctr{
		spec: spec, init: init, beh: behaviourOf(spec), sidecar: init && isSidecar(spec),
		st: corev1.ContainerStatus{
			Name: spec.Name, Image: spec.Image, Started: &started,
			State:        corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}},
			VolumeMounts: volumeMountStatuses(spec),
		},
	}
}

func (c *ctr) schedule(a action, at time.Time) { c.act, c.at = a, at }

// loop runs due actions, writes one status per round that changed something
// visible, and sleeps until the next action.
func (w *worker) loop() {
	for {
		now := time.Now()
		dirty := false
		for _, c := range w.active() {
			if c.act != actNone && !c.at.After(now) {
				a := c.act
				c.act = actNone
				dirty = w.do(c, a, now) || dirty
			}
			dirty = c.probesDue(now) || dirty
		}
		dirty = w.advanceInit(now) || dirty
		if dirty {
			terminal := isTerminal(w.phase())
			if terminal {
				w.stopSidecars(now)
				w.sandboxReady, w.sandboxGone = false, true
			}
			if !w.write() {
				return
			}
			if terminal {
				w.a.ips.release(w.pod().Spec.NodeName, string(w.pod().UID))
				if w.waitUntil(time.Time{}) {
					w.deleteNow()
				}
				return
			}
			continue
		}
		next := time.Time{}
		for _, c := range w.active() {
			if c.act != actNone && (next.IsZero() || c.at.Before(next)) {
				next = c.at
			}
			if p := c.nextProbe(); !p.IsZero() && (next.IsZero() || p.Before(next)) {
				next = p
			}
		}
		if w.waitUntil(next) {
			w.terminate()
			return
		}
		if w.ctx.Err() != nil {
			return
		}
	}
}

// active lists the containers that can act now: the current init container,
// or all app containers once initialisation is over.
func (w *worker) active() []*ctr {
	var out []*ctr
	for _, c := range w.inits[:w.initIndex] {
		if c.sidecar { // started sidecars keep running (and restarting)
			out = append(out, c)
		}
	}
	if w.initIndex < len(w.inits) {
		return append(out, w.inits[w.initIndex])
	}
	return append(out, w.mains...)
}

// stopSidecars ends the sidecars once the app containers are done, as the
// kubelet does before the Pod can finish.
func (w *worker) stopSidecars(now time.Time) {
	w.deleting = true // no restarts from here on
	for _, c := range w.inits {
		if c.sidecar && c.st.State.Running != nil {
			code := int32(137)
			if c.beh.handlesSIGTERM {
				code = 0
			}
			w.exit(c, code, now)
		}
	}
}

// advanceInit moves on to the next init container (or the app containers)
// when the current one has completed.
func (w *worker) advanceInit(now time.Time) bool {
	if w.initIndex >= len(w.inits) {
		return false
	}
	c := w.inits[w.initIndex]
	if c.sidecar {
		// A sidecar lets the next container start once it has started.
		if c.st.State.Running == nil || c.st.Started == nil || !*c.st.Started {
			return false
		}
	} else if t := c.st.State.Terminated; t == nil || t.ExitCode != 0 {
		return false
	}
	w.initIndex++
	for _, next := range w.active() {
		next.schedule(actStart, now)
	}
	return false
}

func (w *worker) do(c *ctr, a action, now time.Time) bool {
	switch a {
	case actStart:
		return w.startPull(c, now)
	case actStarted:
		return w.finishStart(c, now)
	case actPullBackOff:
		msg := fmt.Sprintf("Back-off pulling image %q", c.spec.Image)
		c.st.State = waiting("ImagePullBackOff", msg+": ErrImagePull: "+pullNotFound(c.spec.Image))
		w.event(c, corev1.EventTypeNormal, "BackOff", msg)
		w.event(c, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
		c.schedule(actStart, c.failedAt.Add(c.pullWait))
		return true
	case actExit:
		w.exit(c, c.beh.exitCode, now)
		return true
	case actCrashBackOff:
		pod := w.pod()
		backoff := c.restart.Sub(c.lastTerm.FinishedAt.Time).Round(time.Second)
		c.st.State = waiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.spec.Name, podRef(pod)))
		c.st.LastTerminationState = corev1.ContainerState{Terminated: c.lastTerm}
		w.event(c, corev1.EventTypeWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s", c.spec.Name, podRef(pod)))
		c.schedule(actStart, c.restart)
		return true
	}
	return false
}

// startPull begins a container start: the image pull (or the check that the
// image is present), then actStarted after the pull time.
func (w *worker) startPull(c *ctr, now time.Time) bool {
	image := c.spec.Image
	if !validReference(image) {
		msg := fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: invalid reference format", image, image)
		w.event(c, corev1.EventTypeWarning, "InspectFailed", msg)
		w.event(c, corev1.EventTypeWarning, "Failed", "Error: InvalidImageName")
		c.st.State = waiting("InvalidImageName", msg)
		return true
	}
	node := w.pod().Spec.NodeName
	policy := c.spec.ImagePullPolicy
	present := w.a.imagePresent(node, image)
	if policy == corev1.PullNever {
		if !w.a.cat.has(image) {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
			w.event(c, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
			w.event(c, corev1.EventTypeWarning, "Failed", "Error: ErrImageNeverPull")
			c.st.State = waiting("ErrImageNeverPull", msg)
			return true
		}
		present = true
	}
	c.pulling = policy == corev1.PullAlways || !present
	delay := 100 * time.Millisecond // create + start of a present image
	if c.pulling || !w.sandboxStarted {
		// About the creating delay, ±10%, so pull times in the Pulled
		// Event read like real ones ("in 1.043s") rather than round.
		delay = time.Duration(float64(w.a.creatingDelay) * (0.9 + 0.2*rand.Float64()))
	}
	w.sandboxStarted = true
	if c.pulling {
		w.event(c, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
		c.pullFrom = now
	}
	c.schedule(actStarted, now.Add(delay))
	return false
}

func (w *worker) finishStart(c *ctr, now time.Time) bool {
	pod := w.pod()
	if !w.sandboxReady && !w.sandboxGone {
		w.sandboxReady = true
		w.podIP = w.allocateIP(pod)
	}
	image := c.spec.Image
	if c.pulling {
		if !w.a.cat.has(image) {
			msg := pullNotFound(image)
			w.event(c, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", image, msg))
			w.event(c, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
			c.st.State = waiting("ErrImagePull", msg)
			// Pull back-off: 10s doubling to 5m, counted from the failure;
			// the Pod shows ImagePullBackOff from its next sync.
			c.pullWait = min(max(2*c.pullWait, 10*time.Second), 300*time.Second)
			c.failedAt = now
			c.schedule(actPullBackOff, now.Add(time.Second))
			return true
		}
		took := now.Sub(c.pullFrom).Truncate(time.Millisecond)
		w.event(c, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", image, took, took, imageSize(image)))
		w.a.markPresent(pod.Spec.NodeName, image)
	} else {
		w.event(c, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", image))
	}
	c.pullWait = 0
	// The container config (its environment) is made before the runtime
	// creates the container; a reference that cannot be resolved stops
	// here until the pod worker's next sync.
	if msg := envError(w.ctx, w.a.client, pod.Namespace, c.spec); msg != "" {
		w.event(c, corev1.EventTypeWarning, "Failed", "Error: "+msg)
		c.st.State = waiting("CreateContainerConfigError", msg)
		c.schedule(actStart, now.Add(syncBackOff()))
		return true
	}
	w.event(c, corev1.EventTypeNormal, "Created", "Container created")
	w.event(c, corev1.EventTypeNormal, "Started", "Container started")
	if c.everRan {
		c.st.RestartCount++
		c.st.LastTerminationState = corev1.ContainerState{Terminated: c.lastTerm}
	}
	c.everRan = true
	c.st.ContainerID = newContainerID()
	c.st.ImageID = imageID(image)
	c.st.Image = normalise(image)
	c.st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
	c.onStart(now)
	if !c.beh.forever {
		if c.beh.runFor == 0 {
			// A command that exits at once is seen terminated, as on a real
			// node where the running state is too short to be reported.
			w.exit(c, c.beh.exitCode, now)
		} else {
			c.schedule(actExit, now.Add(c.beh.runFor))
		}
	}
	return true
}

// exit ends the container's process and decides on a restart.
func (w *worker) exit(c *ctr, code int32, now time.Time) {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	var startedAt metav1.Time
	if r := c.st.State.Running; r != nil {
		startedAt = r.StartedAt
	}
	c.lastTerm = &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: startedAt, FinishedAt: metav1.NewTime(now), ContainerID: c.st.ContainerID,
	}
	c.st.State = corev1.ContainerState{Terminated: c.lastTerm}
	c.st.Ready = c.init && !c.sidecar && code == 0
	started := false
	c.st.Started = &started
	if w.deleting || !w.restarts(c, code) {
		return
	}
	if c.st.RestartCount == 0 {
		// The first restart is immediate (the status still shows the exit).
		c.schedule(actStart, now.Add(time.Second))
		return
	}
	backoff := min(10*time.Second<<(c.st.RestartCount-1), 300*time.Second)
	c.restart = now.Add(backoff)
	c.schedule(actCrashBackOff, now.Add(time.Second))
}

func (w *worker) restarts(c *ctr, code int32) bool {
	if c.sidecar {
		return true
	}
	switch w.pod().Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	// Always: app containers restart whatever the code; init containers
	// only rerun when they failed.
	return !c.init || code != 0
}

func (w *worker) allocateIP(pod *corev1.Pod) string {
	if pod.Spec.HostNetwork {
		return w.hostIP
	}
	node, ok := w.a.managedNode(pod.Spec.NodeName)
	if !ok {
		return ""
	}
	ip, err := w.a.ips.allocate(node.Name, node.Spec.PodCIDR, string(pod.UID))
	if err != nil {
		log.Printf("pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return ip
}

func waiting(reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
}

// podRef is the kubelet's format.Pod: NAME_NAMESPACE(UID).
func podRef(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

func nodeInternalIP(node *corev1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
