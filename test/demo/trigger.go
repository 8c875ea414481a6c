package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/test/localcluster"
)

// The deploy step runs the setup the samples describe, in namespace web:
// the shop's origin as Deployment web behind Service web
// (testdata/web.yaml, the demo-origin image), the sample CacheProxy edge in
// front of it, and the sample PurgeTrigger web. Then a new release is
// rolled out and nobody purges.
const (
	webNamespace = "web"
	webManifest  = "test/demo/testdata/web.yaml"
	// webImage is the image web.yaml names; the demo applies the name
	// bin/images/demo-origin.tar carries if it differs.
	webImage = "ghcr.io/cacheops/demo-origin:v0.1.0"
	// triggerName is the sample PurgeTrigger's name.
	triggerName = "web"
)

// hasDeployStep reports whether the demo origin's image is built, which
// the deploy step runs.
func (t *tour) hasDeployStep() bool {
	_, err := os.Stat(t.demoOriginArchive())
	return err == nil
}

func (t *tour) demoOriginArchive() string {
	return filepath.Join(t.env.opts.BinDir, "images", "demo-origin.tar")
}

// deploy is the tour's last step: a rollout purges the cache by itself.
func (t *tour) deploy(ctx context.Context, step, steps int) error {
	t.n.title(fmt.Sprintf("[%d/%d] Purging after a deploy: a PurgeTrigger", step, steps))
	t.n.say("The most common purge follows a deploy, and it must wait for the new pods: a purge")
	t.n.say("while old pods still serve lets them fill the cache again with the old content.")
	t.n.say("In namespace %s, the setup the samples describe: the shop as Deployment web", webNamespace)
	t.n.say("(2 pods of the demo origin, release v1) behind Service web, CacheProxy edge in front.")
	pods, service, err := t.deployShop(ctx)
	if err != nil {
		return err
	}

	t.n.say("The PurgeTrigger follows Deployment web and purges edge after each rollout:")
	if err := t.applySample(ctx, "cache_v1alpha1_purgetrigger.yaml", webNamespace, ""); err != nil {
		return err
	}
	err = poll(ctx, 30*time.Second, func() (bool, error) {
		c, err := t.triggerCondition(ctx, cachev1alpha1.PurgeTriggerConditionPurged)
		return c != nil && c.Reason == cachev1alpha1.ReasonRevisionPredatesTrigger, err
	})
	if !t.check(err == nil, "revision 1 was rolled out before the trigger: it is not purged", errString(err)) {
		return nil
	}
	if err := t.show(ctx, "get", "purgetriggers", "-n", webNamespace); err != nil {
		return err
	}

	paths := []string{"/", "/products/1"}
	before, err := t.holdRelease(ctx, pods, paths, "v1")
	if err != nil {
		return err
	}

	t.n.say("Release v2 is deployed. Nobody purges:")
	if err := t.show(ctx, "set", "env", "-n", webNamespace, "deployment/web", "RELEASE=v2"); err != nil {
		return err
	}
	t.n.say("While it rolls out, users still get release v1, from the cache:")
	a, err := t.curlAt(ctx, service, "/")
	if err != nil {
		return err
	}
	t.check(a.outcome() == outcomeHit && a.Release == "v1", "release v1 still served while the new pods start", a.releaseShort())
	if _, err := t.kubectlRun(ctx, "rolling out release v2", "rollout", "status", "-n", webNamespace, "deployment/web",
		"--timeout=90s"); err != nil {
		return t.checkFailed("release v2 rolled out", err)
	}
	t.n.say("Once every new pod is available, the trigger purges. CI can wait for it:")
	if _, err := t.kubectlRun(ctx, "waiting for the trigger's Purge", "wait", "-n", webNamespace,
		"--for=condition=Purged", "purgetrigger/"+triggerName, "--timeout=90s"); err != nil {
		t.check(false, "the trigger's Purge completed", err.Error())
		return t.show(ctx, "describe", "purgetrigger", "-n", webNamespace, triggerName)
	}
	for _, kind := range []string{"purgetriggers", "purges"} {
		if err := t.show(ctx, "get", kind, "-n", webNamespace); err != nil {
			return err
		}
	}
	if err := t.checkTriggeredPurge(ctx); err != nil {
		return err
	}
	return t.showNewRelease(ctx, pods, service, paths, before)
}

// deployShop deploys web and the CacheProxy in front of it, and returns
// the CacheProxy's pods and its Service's address once the Service
// reaches them.
func (t *tour) deployShop(ctx context.Context) ([]pod, string, error) {
	if err := t.show(ctx, "create", "namespace", webNamespace); err != nil {
		return nil, "", err
	}
	image, err := localcluster.ImageName(t.demoOriginArchive())
	if err != nil {
		return nil, "", err
	}
	if err := t.applyFile(ctx, webManifest, webNamespace, replacement{old: webImage, new: image, note: "image → " + image}); err != nil {
		return nil, "", err
	}
	if _, err := t.kubectlRun(ctx, "rolling out release v1", "rollout", "status", "-n", webNamespace, "deployment/web",
		"--timeout=90s"); err != nil {
		return nil, "", t.checkFailed("Deployment web rolled out", err)
	}
	// The sample's origin, http://web.web.svc:8080, is Service web: the
	// cache pods find it through the cluster's DNS, as on any cluster.
	if err := t.applySample(ctx, "cache_v1alpha1_cacheproxy.yaml", webNamespace, sampleOriginURL); err != nil {
		return nil, "", err
	}
	if _, err := t.kubectlRun(ctx, "waiting for cacheproxy/"+cacheProxyName, "wait", "-n", webNamespace,
		"--for=condition=Available", "cacheproxy/"+cacheProxyName, "--timeout=90s"); err != nil {
		return nil, "", t.checkFailed("CacheProxy edge in namespace web available", err)
	}
	var pods []pod
	var service string
	_, err = t.n.wait(ctx, "waiting for the Service to reach every ready pod", func(ctx context.Context) error {
		return poll(ctx, time.Minute, func() (bool, error) {
			var err error
			if pods, err = t.readyPods(ctx, webNamespace); err != nil {
				return false, err
			}
			service, err = t.env.cluster.ServiceAddress(webNamespace, cacheProxyName, servicePort)
			return err == nil && len(pods) == replicas &&
				len(t.env.cluster.ServiceBackends(webNamespace, cacheProxyName, servicePort)) == replicas, nil
		})
	})
	if !t.check(err == nil, fmt.Sprintf("%d cache pods in front of Service web; Service edge at %s", replicas, service), errString(err)) {
		return nil, "", errors.New("the CacheProxy in namespace web is not ready")
	}
	return pods, service, nil
}

// holdRelease fills every pod with paths and checks each holds release.
func (t *tour) holdRelease(ctx context.Context, pods []pod, paths []string, release string) (map[string]byPod, error) {
	held := map[string]byPod{}
	var wrong []string
	_, err := t.n.wait(ctx, "filling each pod's cache: "+strings.Join(paths, ", "), func(ctx context.Context) error {
		for _, path := range paths {
			held[path] = make(byPod, len(pods))
			for i, p := range pods {
				a, err := t.warm(ctx, p, path)
				if err != nil {
					return err
				}
				held[path][i] = a
				if a.outcome() != outcomeHit || a.Release != release {
					wrong = append(wrong, fmt.Sprintf("%s on %s: %s", path, p.name, a.releaseShort()))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.check(len(wrong) == 0, fmt.Sprintf("every pod holds %s of release %s (a hit)", strings.Join(paths, ", "), release),
		strings.Join(wrong, "; "))
	return held, nil
}

// checkTriggeredPurge checks the trigger made exactly one Purge, of
// revision 2, created no earlier than the last new pod became ready.
func (t *tour) checkTriggeredPurge(ctx context.Context) error {
	var purges cachev1alpha1.PurgeList
	if err := t.env.client.List(ctx, &purges, client.InNamespace(webNamespace),
		client.MatchingLabels{cachev1alpha1.LabelPurgeTrigger: triggerName}); err != nil {
		return err
	}
	if !t.check(len(purges.Items) == 1, "the trigger created one Purge, for revision 2",
		fmt.Sprintf("%d Purges", len(purges.Items))) {
		return nil
	}
	p := purges.Items[0]
	ready, err := t.lastReady(ctx, p.Annotations[cachev1alpha1.AnnotationWorkloadRevision])
	if err != nil {
		return err
	}
	created := p.CreationTimestamp.Time
	t.check(!created.Before(ready), fmt.Sprintf("Purge %s created at %s, once the last new pod was ready (%s)",
		p.Name, created.Format(time.TimeOnly), ready.Format(time.TimeOnly)), "too early")
	return nil
}

// lastReady is when the last pod of web's revision became ready (whole
// seconds, as Kubernetes keeps it).
func (t *tour) lastReady(ctx context.Context, revision string) (time.Time, error) {
	var sets appsv1.ReplicaSetList
	if err := t.env.client.List(ctx, &sets, client.InNamespace(webNamespace), client.MatchingLabels{"app": "web"}); err != nil {
		return time.Time{}, err
	}
	hash := ""
	for _, rs := range sets.Items {
		if rs.Annotations["deployment.kubernetes.io/revision"] == revision {
			hash = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	var list corev1.PodList
	if err := t.env.client.List(ctx, &list, client.InNamespace(webNamespace),
		client.MatchingLabels{appsv1.DefaultDeploymentUniqueLabelKey: hash}); err != nil || hash == "" {
		return time.Time{}, fmt.Errorf("listing the pods of revision %s of web: %w", revision, err)
	}
	var last time.Time
	for _, p := range list.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(last) {
				last = c.LastTransitionTime.Time
			}
		}
	}
	return last, nil
}

// showNewRelease checks every pod now serves release v2, fetched anew,
// and so do users through the Service at service.
func (t *tour) showNewRelease(ctx context.Context, pods []pod, service string, paths []string, before map[string]byPod) error {
	t.n.say("After the deploy, each pod, for %s:", paths[0])
	var rows [][]string
	var wrong []string
	for _, path := range paths {
		for i, p := range pods {
			// kube-proxy may still send the first miss after the rollout to
			// an old pod's address for a moment (seen once: the request
			// timed out); a user's retry is what gets through, so the tour
			// retries a request that got no answer at all, twice.
			a, err := t.web.get(ctx, p.addr(), path)
			for retry := 0; err != nil && retry < 2; retry++ {
				a, err = t.web.get(ctx, p.addr(), path)
			}
			if err != nil {
				return err
			}
			ok := a.outcome() == outcomeMiss && a.Release == "v2"
			if path == paths[0] {
				rows = append(rows, []string{p.name, before[path][i].releaseShort(), "→", a.releaseShort(), t.mark(ok)})
			}
			if !ok {
				wrong = append(wrong, fmt.Sprintf("%s on %s: %s", path, p.name, a.releaseShort()))
			}
		}
	}
	t.n.table(rows)
	t.check(len(wrong) == 0, fmt.Sprintf("every pod fetched %s anew from release v2", strings.Join(paths, " and ")), strings.Join(wrong, "; "))
	t.n.say("What users get through the Service:")
	a, err := t.curlAt(ctx, service, "/products/1")
	if err != nil {
		return err
	}
	t.check(a.Status == http.StatusOK && a.Release == "v2", "users see release v2, and nobody purged anything", a.releaseShort())
	return nil
}

// triggerCondition reads a condition of the sample trigger; nil if unset.
func (t *tour) triggerCondition(ctx context.Context, typ string) (*metav1.Condition, error) {
	var pt cachev1alpha1.PurgeTrigger
	if err := t.env.client.Get(ctx, client.ObjectKey{Namespace: webNamespace, Name: triggerName}, &pt); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return meta.FindStatusCondition(pt.Status.Conditions, typ), nil
}

// checkFailed records a failed check for err and returns an error saying
// the tour cannot go on.
func (t *tour) checkFailed(what string, err error) error {
	t.check(false, what, err.Error())
	return fmt.Errorf("%s: no; see %s", what, operatorLogsCommand)
}
