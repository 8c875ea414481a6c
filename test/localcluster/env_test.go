package localcluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// objects is a configSource backed by maps.
type objects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func (o objects) Secret(_ context.Context, _, name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func (o objects) ConfigMap(_ context.Context, _, name string) (*corev1.ConfigMap, error) {
	if c, ok := o.configMaps[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "edge-7d9f-abcde", Namespace: "web", UID: "uid-1",
			Labels:      map[string]string{"app": "edge"},
			Annotations: map[string]string{"note": "hi"},
		},
		Spec: corev1.PodSpec{NodeName: "localnode", ServiceAccountName: "default"},
		Status: corev1.PodStatus{
			PodIP: "127.9.0.2", PodIPs: []corev1.PodIP{{IP: "127.9.0.2"}},
			HostIP: "127.0.0.1", HostIPs: []corev1.HostIP{{IP: "127.0.0.1"}},
		},
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func secretEnv(name, secret, key string, optional bool) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key, Optional: ptr.To(optional),
	}}}
}

func configMapEnv(name, cm, key string, optional bool) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: key, Optional: ptr.To(optional),
	}}}
}

func TestContainerEnv(t *testing.T) {
	src := objects{
		secrets: map[string]*corev1.Secret{
			"admin": {Data: map[string][]byte{"token": []byte("s3cret"), "user": []byte("root")}},
		},
		configMaps: map[string]*corev1.ConfigMap{
			"cfg": {Data: map[string]string{"ORIGIN": "http://127.0.0.1:9000", "bad-name": "x", "MODE": "cm"}},
		},
	}
	tests := []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		want    []string
		wantErr string
	}{{
		name: "values and references to earlier names",
		env: []corev1.EnvVar{
			{Name: "A", Value: "1"},
			{Name: "B", Value: "$(A)-$(LATER)-$$(A)"},
			{Name: "LATER", Value: "2"},
		},
		want: []string{"A=1", "B=1-$(LATER)-$(A)", "LATER=2"},
	}, {
		name: "downward API fields",
		env: []corev1.EnvVar{
			fieldEnv("POD_IP", "status.podIP"),
			fieldEnv("POD_IPS", "status.podIPs"),
			fieldEnv("HOST_IP", "status.hostIP"),
			fieldEnv("NAME", "metadata.name"),
			fieldEnv("NS", "metadata.namespace"),
			fieldEnv("UID", "metadata.uid"),
			fieldEnv("NODE", "spec.nodeName"),
			fieldEnv("SA", "spec.serviceAccountName"),
			fieldEnv("APP", "metadata.labels['app']"),
			fieldEnv("NOTE", "metadata.annotations['note']"),
		},
		want: []string{
			"POD_IP=127.9.0.2", "POD_IPS=127.9.0.2", "HOST_IP=127.0.0.1", "NAME=edge-7d9f-abcde",
			"NS=web", "UID=uid-1", "NODE=localnode", "SA=default", "APP=edge", "NOTE=hi",
		},
	}, {
		name: "valueFrom is not expanded",
		env: []corev1.EnvVar{
			{Name: "A", Value: "1"},
			configMapEnv("V", "cfg", "ORIGIN", false),
		},
		want: []string{"A=1", "V=http://127.0.0.1:9000"},
	}, {
		name: "secret and config map keys",
		env: []corev1.EnvVar{
			secretEnv("TOKEN", "admin", "token", false),
			configMapEnv("ORIGIN", "cfg", "ORIGIN", false),
		},
		want: []string{"TOKEN=s3cret", "ORIGIN=http://127.0.0.1:9000"},
	}, {
		name: "optional missing sources are left out",
		env: []corev1.EnvVar{
			secretEnv("A", "missing", "k", true),
			secretEnv("B", "admin", "missing", true),
			configMapEnv("C", "missing", "k", true),
			{Name: "D", Value: "d"},
		},
		want: []string{"D=d"},
	}, {
		name:    "missing secret",
		env:     []corev1.EnvVar{secretEnv("A", "missing", "k", false)},
		wantErr: `env A: secret "missing"`,
	}, {
		name:    "missing secret key",
		env:     []corev1.EnvVar{secretEnv("A", "admin", "nope", false)},
		wantErr: "couldn't find key nope in Secret web/admin",
	}, {
		name:    "missing config map key",
		env:     []corev1.EnvVar{configMapEnv("A", "cfg", "nope", false)},
		wantErr: "couldn't find key nope in ConfigMap web/cfg",
	}, {
		name:    "unsupported field",
		env:     []corev1.EnvVar{fieldEnv("X", "status.phase")},
		wantErr: `unsupported fieldRef "status.phase"`,
	}, {
		name: "envFrom first, with prefix, every key, env overrides",
		envFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "admin"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
		},
		env:  []corev1.EnvVar{{Name: "MODE", Value: "env-$(MODE)"}},
		want: []string{"MODE=env-cm", "ORIGIN=http://127.0.0.1:9000", "S_token=s3cret", "S_user=root", "bad-name=x"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &corev1.Container{Name: "c", Env: tt.env, EnvFrom: tt.envFrom}
			got, err := containerEnv(context.Background(), src, testPod(), c)
			if tt.wantErr != "" {
				var cfgErr *configError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &cfgErr) {
					t.Fatalf("err = %v, want a configError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			environ := got.environ()
			slices.Sort(environ)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(environ, want) {
				t.Errorf("env = %q\nwant  %q", environ, want)
			}
		})
	}
}

func TestEnvListKeepsFirstPosition(t *testing.T) {
	var e envList
	e.set("A", "1")
	e.set("B", "2")
	e.set("A", "3")
	if got := e.environ(); !slices.Equal(got, []string{"A=3", "B=2"}) {
		t.Errorf("environ = %q", got)
	}
}
