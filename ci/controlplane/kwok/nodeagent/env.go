package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// envError resolves a container's environment the way the kubelet does before
// it asks the runtime to create the container (pkg/kubelet/kubelet_pods.go,
// makeEnvironmentVariables): envFrom first, then env. It returns the message
// of the first reference that cannot be resolved ("" when all can). On a real
// node that message becomes the container's `waiting CreateContainerConfigError`
// message and the text of a `Warning Failed` "Error: <message>" Event.
//
// Only ConfigMap and Secret references can fail here: fieldRef and
// resourceFieldRef always resolve on a simulated node.
func envError(ctx context.Context, client kubernetes.Interface, namespace string, c *corev1.Container) string {
	configMaps := map[string]*corev1.ConfigMap{}
	secrets := map[string]*corev1.Secret{}
	// The kubelet's configmap and secret managers answer a missing object
	// with apierrors.NewNotFound(corev1.Resource("configmap"|"secret"), name),
	// whose text is `configmap "NAME" not found`.
	configMap := func(name string) (*corev1.ConfigMap, error) {
		if cm, ok := configMaps[name]; ok {
			return cm, nil
		}
		cm, err := client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("configmap"), name)
		}
		if err == nil {
			configMaps[name] = cm
		}
		return cm, err
	}
	secret := func(name string) (*corev1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
		}
		if err == nil {
			secrets[name] = s
		}
		return s, err
	}
	optional := func(o *bool) bool { return o != nil && *o }

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			if _, err := configMap(from.ConfigMapRef.Name); err != nil && !(apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional)) {
				return err.Error()
			}
		case from.SecretRef != nil:
			if _, err := secret(from.SecretRef.Name); err != nil && !(apierrors.IsNotFound(err) && optional(from.SecretRef.Optional)) {
				return err.Error()
			}
		}
	}
	for _, env := range c.Env {
		if env.Value != "" || env.ValueFrom == nil {
			continue
		}
		switch {
		case env.ValueFrom.ConfigMapKeyRef != nil:
			ref := env.ValueFrom.ConfigMapKeyRef
			cm, err := configMap(ref.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ref.Optional) {
					continue
				}
				return err.Error()
			}
			if _, ok := cm.Data[ref.Key]; !ok && !optional(ref.Optional) {
				return fmt.Sprintf("couldn't find key %v in ConfigMap %v/%v", ref.Key, namespace, ref.Name)
			}
		case env.ValueFrom.SecretKeyRef != nil:
			ref := env.ValueFrom.SecretKeyRef
			s, err := secret(ref.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ref.Optional) {
					continue
				}
				return err.Error()
			}
			if _, ok := s.Data[ref.Key]; !ok && !optional(ref.Optional) {
				return fmt.Sprintf("couldn't find key %v in Secret %v/%v", ref.Key, namespace, ref.Name)
			}
		}
	}
	return ""
}

// syncBackOff is when the kubelet's pod worker tries again after a sync that
// failed (pkg/kubelet: backOffPeriod 10s, jitter factor 0.5): a container
// stuck in CreateContainerConfigError is retried at this pace, not on the
// image or crash-loop back-off.
func syncBackOff() time.Duration {
	return time.Duration(float64(10*time.Second) * (1 + 0.5*rand.Float64()))
}
