package dashboard

import (
	"fmt"
	"net/http"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// pageContext is what the page needs to start: who the user is, where it
// opens, and the namespaces it can offer.
type pageContext struct {
	User      string `json:"user"`
	Namespace string `json:"namespace"`
	// Namespaces are those the user may list, or only Namespace if they
	// may not list namespaces.
	Namespaces []string `json:"namespaces"`
}

// serveContext answers who the user is (a SelfSubjectReview) and which
// namespaces there are.
func (s *server) serveContext(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	pc := pageContext{Namespace: s.opts.Namespace, Namespaces: []string{s.opts.Namespace}}
	review := &authenticationv1.SelfSubjectReview{}
	if err := s.opts.Client.Create(ctx, review); err == nil {
		pc.User = review.Status.UserInfo.Username
	}
	var nss corev1.NamespaceList
	if err := s.opts.Client.List(ctx, &nss); err == nil {
		pc.Namespaces = pc.Namespaces[:0]
		for _, ns := range nss.Items {
			pc.Namespaces = append(pc.Namespaces, ns.Name)
		}
		if !slices.Contains(pc.Namespaces, s.opts.Namespace) {
			pc.Namespaces = append(pc.Namespaces, s.opts.Namespace)
		}
		slices.Sort(pc.Namespaces)
	}
	writeJSON(w, http.StatusOK, pc)
}

// access says whether the user may create Purges in a namespace, and if
// not, why, in the API server's terms.
type access struct {
	Allowed bool   `json:"allowed"`
	Message string `json:"message,omitempty"`
}

// serveAccess asks the API server (a SelfSubjectAccessReview) whether the
// user may create Purges in the namespace, so the wizard can say so before
// the user fills it in. The create is judged again when it is made.
func (s *server) serveAccess(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestContext(r)
	defer cancel()
	ns := r.URL.Query().Get(namespaceParam)
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: "create", Group: cachev1alpha1.GroupVersion.Group, Resource: "purges",
		},
	}}
	if err := s.opts.Client.Create(ctx, review); err != nil {
		writeError(w, err)
		return
	}
	a := access{Allowed: review.Status.Allowed}
	if !a.Allowed {
		a.Message = fmt.Sprintf("You cannot create purges in namespace %q: the API server's authorizer does not allow verb \"create\" on resource \"purges\" in API group %q there",
			ns, cachev1alpha1.GroupVersion.Group)
		if review.Status.Reason != "" {
			a.Message += " (" + review.Status.Reason + ")"
		}
		a.Message += ". Ask for a Role granting it (config/rbac has purge-editor)."
	}
	writeJSON(w, http.StatusOK, a)
}
