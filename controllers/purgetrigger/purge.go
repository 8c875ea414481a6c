package purgetrigger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// purgeName is the name of the Purge of one revision of one workload. It
// is a function of the trigger's name, the revision and the workload's
// UID only, so every attempt at the same revision, by this process or a
// later one, names the same Purge and the API server lets one exist. The
// UID keeps a workload deleted and created again (whose revisions start
// again at 1) from colliding with the Purges of its predecessor. Trigger
// names are at most 63 characters (the CRD says so), so the name stays
// well within the 253 a Purge may have.
func purgeName(trigger string, revision int64, workloadUID types.UID) string {
	sum := sha256.Sum256([]byte(workloadUID))
	return fmt.Sprintf("%s-%d-%s", trigger, revision, hex.EncodeToString(sum[:])[:5])
}

// purgeFor is the Purge the trigger creates for a revision: the template's
// spec, labelled with the trigger's name, annotated with the revision, and
// owned by the trigger (deleting the trigger deletes its Purges, as
// deleting a CronJob deletes its Jobs).
func purgeFor(t *cachev1alpha1.PurgeTrigger, revision int64, workloadUID types.UID) *cachev1alpha1.Purge {
	tmpl := &t.Spec.PurgeTemplate
	labels := maps.Clone(tmpl.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[cachev1alpha1.LabelPurgeTrigger] = t.Name
	annotations := maps.Clone(tmpl.Metadata.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[cachev1alpha1.AnnotationWorkloadRevision] = strconv.FormatInt(revision, 10)
	return &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{
			Name:        purgeName(t.Name, revision, workloadUID),
			Namespace:   t.Namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{
				*metav1.NewControllerRef(t, cachev1alpha1.GroupVersion.WithKind("PurgeTrigger")),
			},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
}
