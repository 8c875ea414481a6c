package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// previewTTL is how long a preview (a dry-run Purge) is kept after it
// finished: long enough to read, short enough not to pile up.
const previewTTL int32 = 600

// fieldManager is the field manager of the Purges the dashboard creates.
const fieldManager = "kubectl-purge-dashboard"

// maxRequestBytes bounds a request body: 256 URLs of 2048 bytes and some.
const maxRequestBytes = 1 << 20

// purgeRequest is what the wizard sends to create, preview or validate a
// Purge.
type purgeRequest struct {
	Namespace  string                  `json:"namespace"`
	CacheProxy string                  `json:"cacheProxy"`
	Mode       cachev1alpha1.PurgeMode `json:"mode"`
	URLs       []string                `json:"urls"`
	Tags       []string                `json:"tags"`
	Refetch    bool                    `json:"refetch"`
	// Preview creates a dry run: every pod counts what would match and
	// changes nothing; it is deleted previewTTL after it ends.
	Preview bool `json:"preview"`
	// ConfirmHosts is what the user typed to confirm a ban at hosts'
	// roots: the hosts, separated by spaces or commas.
	ConfirmHosts string `json:"confirmHosts"`
	// PodNames limits the Purge to these pods (spec.podNames): the
	// detail page's "Retry failed pods" names the pods that failed.
	PodNames []string `json:"podNames"`
}

func readPurgeRequest(w http.ResponseWriter, r *http.Request) (*purgeRequest, bool) {
	var req purgeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badRequest(w, fmt.Sprintf("reading the request: %v", err))
		return nil, false
	}
	if req.Namespace == "" {
		badRequest(w, "choose a namespace")
		return nil, false
	}
	return &req, true
}

// hostRootHosts are the hosts a ban in req empties entirely.
func (s *server) hostRootHosts(req *purgeRequest) []string {
	if s.opts.HostRootBans == nil {
		return nil
	}
	var hosts []string
	for _, p := range s.opts.HostRootBans(req.Mode, req.URLs) {
		u, err := admin.ParseURL(p)
		if err == nil && !slices.Contains(hosts, u.Authority) {
			hosts = append(hosts, u.Authority)
		}
	}
	return hosts
}

// confirmed reports whether the user typed every host of hosts.
func confirmed(hosts []string, typed string) bool {
	words := strings.FieldsFunc(strings.ToLower(typed), func(r rune) bool { return r == ',' || r == ' ' })
	for _, h := range hosts {
		if !slices.Contains(words, strings.ToLower(h)) {
			return false
		}
	}
	return true
}

// purge builds the Purge req asks for; the API server names it.
func (req *purgeRequest) purge(confirm bool) *cachev1alpha1.Purge {
	kind := string(req.Mode)
	if req.Preview {
		kind = "preview"
	}
	p := &cachev1alpha1.Purge{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    req.Namespace,
			GenerateName: fmt.Sprintf("%s-%s-", req.CacheProxy, kind),
		},
		Spec: cachev1alpha1.PurgeSpec{
			CacheProxyRef:      cachev1alpha1.CacheProxyReference{Name: req.CacheProxy},
			Mode:               req.Mode,
			URLs:               req.URLs,
			Tags:               req.Tags,
			Refetch:            req.Refetch,
			DryRun:             req.Preview,
			ConfirmHostRootBan: confirm,
			PodNames:           req.PodNames,
		},
	}
	if req.Preview {
		p.Spec.TTLSecondsAfterFinished = ptr.To(previewTTL)
	}
	return p
}

// validation is the answer to a validation: the API server's refusal, if
// any, and the hosts a ban would empty (to be confirmed by typing them).
type validation struct {
	Valid        bool     `json:"valid"`
	HostRootBans []string `json:"hostRootBans"`
	*apiError
}

// serveValidate has the API server validate the Purge the wizard holds (a
// server-side dry run of its create: nothing is stored), so the page
// shows the API's own messages as the user types. A host-root ban is
// validated as if confirmed: the page asks for the confirmation itself.
func (s *server) serveValidate(w http.ResponseWriter, r *http.Request) {
	req, ok := readPurgeRequest(w, r)
	if !ok {
		return
	}
	hosts := s.hostRootHosts(req)
	p := req.purge(len(hosts) > 0)
	err := s.opts.Client.Create(r.Context(), p, client.DryRunAll, client.FieldOwner(fieldManager))
	v := validation{Valid: err == nil, HostRootBans: hosts}
	if err != nil {
		_, body := errorBody(err)
		v.apiError = &body
	}
	writeJSON(w, http.StatusOK, v)
}

// created is the answer to a create: where the new Purge is.
type created struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// serveCreate creates the Purge (or the preview) the wizard holds, as the
// user. A ban at hosts' roots needs those hosts typed in confirmHosts.
func (s *server) serveCreate(w http.ResponseWriter, r *http.Request) {
	req, ok := readPurgeRequest(w, r)
	if !ok {
		return
	}
	hosts := s.hostRootHosts(req)
	confirm := len(hosts) > 0 && (req.Preview || confirmed(hosts, req.ConfirmHosts))
	if len(hosts) > 0 && !confirm {
		badRequest(w, fmt.Sprintf("this ban empties all of %s from every pod and sends all its traffic to the origin: type %s to confirm",
			strings.Join(hosts, ", "), strings.Join(hosts, " ")))
		return
	}
	p := req.purge(confirm)
	if s.opts.Stamp != nil {
		s.opts.Stamp(r.Context(), p)
	}
	if err := s.opts.Client.Create(r.Context(), p, client.FieldOwner(fieldManager)); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, created{Namespace: p.Namespace, Name: p.Name})
}

// summary is a Purge as a row of History: what the table shows and
// filters on, not the whole object (a history of thousands of Purges
// stays small).
type summary struct {
	Namespace   string                   `json:"namespace"`
	Name        string                   `json:"name"`
	CacheProxy  string                   `json:"cacheProxy"`
	Mode        cachev1alpha1.PurgeMode  `json:"mode"`
	Refetch     bool                     `json:"refetch,omitempty"`
	DryRun      bool                     `json:"dryRun,omitempty"`
	URLs        []string                 `json:"urls,omitempty"`
	URLCount    int                      `json:"urlCount"`
	Tags        []string                 `json:"tags,omitempty"`
	TagCount    int                      `json:"tagCount"`
	CreatedBy   string                   `json:"createdBy"`
	Phase       cachev1alpha1.PurgePhase `json:"phase,omitempty"`
	Finished    bool                     `json:"finished"`
	Progress    string                   `json:"progress,omitempty"`
	Invalidated int64                    `json:"invalidated"`
	Matched     int64                    `json:"matched"`
	Created     time.Time                `json:"created"`
}

// summaryShown is how many URLs or tags a summary carries.
const summaryShown = 3

func (s *server) summarize(p *cachev1alpha1.Purge) summary {
	return summary{
		Namespace:   p.Namespace,
		Name:        p.Name,
		CacheProxy:  p.Spec.CacheProxyRef.Name,
		Mode:        p.Spec.Mode,
		Refetch:     p.Spec.Refetch,
		DryRun:      p.Spec.DryRun,
		URLs:        p.Spec.URLs[:min(summaryShown, len(p.Spec.URLs))],
		URLCount:    len(p.Spec.URLs),
		Tags:        p.Spec.Tags[:min(summaryShown, len(p.Spec.Tags))],
		TagCount:    len(p.Spec.Tags),
		CreatedBy:   s.createdBy(p),
		Phase:       p.Status.Phase,
		Finished:    p.Status.Finished(),
		Progress:    p.Status.Progress,
		Invalidated: p.Status.ObjectsInvalidated,
		Matched:     p.Status.ObjectsMatched,
		Created:     p.CreationTimestamp.Time,
	}
}

func (s *server) createdBy(p *cachev1alpha1.Purge) string {
	if s.opts.CreatedBy == nil {
		return "-"
	}
	return s.opts.CreatedBy(p)
}

// detail is a Purge as its page shows it. Finished is the API's own
// reading of its status (no further change will come).
type detail struct {
	Purge     *cachev1alpha1.Purge `json:"purge"`
	CreatedBy string               `json:"createdBy"`
	Finished  bool                 `json:"finished"`
}

func (s *server) detailOf(p *cachev1alpha1.Purge) detail {
	p = p.DeepCopy()
	p.ManagedFields = nil
	return detail{Purge: p, CreatedBy: s.createdBy(p), Finished: p.Status.Finished()}
}

// cacheProxyChoice is a CacheProxy as the wizard offers it.
type cacheProxyChoice struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
	Pods  int32    `json:"pods"`
}

// serveCacheProxies lists the CacheProxies of a namespace for the wizard.
func (s *server) serveCacheProxies(w http.ResponseWriter, r *http.Request) {
	var list cachev1alpha1.CacheProxyList
	if err := s.opts.Client.List(r.Context(), &list, client.InNamespace(r.URL.Query().Get(namespaceParam))); err != nil {
		writeError(w, err)
		return
	}
	out := make([]cacheProxyChoice, 0, len(list.Items))
	for _, cp := range list.Items {
		out = append(out, cacheProxyChoice{Name: cp.Name, Hosts: cp.Spec.Hosts, Pods: cp.Status.Replicas})
	}
	slices.SortFunc(out, func(a, b cacheProxyChoice) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

// requestContext bounds one API request the dashboard makes for a page.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
