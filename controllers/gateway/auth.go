package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// caller is who a request comes from.
type caller struct {
	// user is the authenticated user name, or "unauthenticated ns/pod".
	user   string
	uid    string
	groups []string
	extra  map[string]authzv1.ExtraValue
	// unauthenticated is set for requests without a token that a
	// CacheProxy's allowUnauthenticatedFrom let in; SubjectAccessReviews do
	// not apply to them.
	unauthenticated bool
}

// key identifies the caller for coalescing and caching.
func (c *caller) key() string {
	return c.user + "\x00" + strings.Join(c.groups, ",")
}

// bearerToken is the request's token: "Authorization: Bearer T" (Cloudflare
// and Varnish clients) or "Fastly-Key: T" (Fastly clients), or "".
func bearerToken(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return strings.TrimSpace(r.Header.Get("Fastly-Key"))
}

// reviewer asks the API server who a token belongs to (TokenReview) and
// whether that user may create Purges in a namespace
// (SubjectAccessReview). Answers are cached for ttl and concurrent
// questions are asked once, so a cold burst of requests with one token
// costs one review of each kind.
type reviewer struct {
	client client.Client
	tokens ttlCache[*caller]
	access ttlCache[bool]
	flight singleflight.Group
}

func newReviewer(c client.Client, clk clock.PassiveClock, ttl time.Duration) *reviewer {
	return &reviewer{
		client: c,
		tokens: ttlCache[*caller]{clock: clk, ttl: ttl},
		access: ttlCache[bool]{clock: clk, ttl: ttl},
	}
}

// authenticate returns the token's user, or nil if the API server refuses
// the token. err is set only when the review could not be made.
func (r *reviewer) authenticate(ctx context.Context, token string) (*caller, error) {
	sum := sha256.Sum256([]byte(token))
	key := "t" + hex.EncodeToString(sum[:])
	v, err, _ := r.flight.Do(key, func() (any, error) {
		if c, ok := r.tokens.get(key); ok {
			return c, nil
		}
		review := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
		if err := r.client.Create(ctx, review); err != nil {
			return nil, fmt.Errorf("reviewing a token: %w", err)
		}
		var c *caller
		if st := review.Status; st.Authenticated {
			c = &caller{user: st.User.Username, uid: st.User.UID, groups: st.User.Groups}
			if len(st.User.Extra) > 0 {
				c.extra = make(map[string]authzv1.ExtraValue, len(st.User.Extra))
				for k, v := range st.User.Extra {
					c.extra[k] = authzv1.ExtraValue(v)
				}
			}
		}
		r.tokens.put(key, c)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*caller), nil
}

// mayCreatePurges reports whether c may create Purges in namespace.
func (r *reviewer) mayCreatePurges(ctx context.Context, c *caller, namespace string) (bool, error) {
	key := "a" + namespace + "\x00" + c.uid + "\x00" + c.key()
	v, err, _ := r.flight.Do(key, func() (any, error) {
		if ok, hit := r.access.get(key); hit {
			return ok, nil
		}
		review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: c.user, UID: c.uid, Groups: c.groups, Extra: c.extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: namespace,
				Verb:      "create",
				Group:     cachev1alpha1.GroupVersion.Group,
				Version:   cachev1alpha1.GroupVersion.Version,
				Resource:  "purges",
			},
		}}
		if err := r.client.Create(ctx, review); err != nil {
			return false, fmt.Errorf("reviewing access of %s to purges in %s: %w", c.user, namespace, err)
		}
		ok := review.Status.Allowed && !review.Status.Denied
		ttl := r.access.ttl
		if !ok {
			ttl = min(deniedReviewTTL, ttl)
		}
		r.access.putFor(key, ok, ttl)
		return ok, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// deniedReviewTTL bounds how long a refusal of access is reused, so that
// a caller granted the role just after one (its first request raced the
// RoleBinding, which RBAC takes in a moment after it is written) is let in
// within a second rather than after the whole review TTL. A refusal is
// cheap to ask again; as the API server's webhook authorizer does, it is
// kept for less time than an allowance.
const deniedReviewTTL = time.Second

// maxCacheEntries bounds a ttlCache; past it, expired entries are dropped,
// and if none had expired, everything is (the next requests review again).
const maxCacheEntries = 10000

// ttlCache keeps values for ttl after they were put (put), or for a ttl
// the caller gives (putFor). A ttl of zero or less keeps nothing.
type ttlCache[V any] struct {
	clock clock.PassiveClock
	ttl   time.Duration

	mu sync.Mutex // guards m
	m  map[string]cached[V]
}

type cached[V any] struct {
	v       V
	expires time.Time
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !c.clock.Now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V) { c.putFor(key, v, c.ttl) }

// putFor keeps v for ttl instead of the cache's own; a ttl of zero or less
// keeps nothing, so a negative ReviewTTL turns every cache off.
func (c *ttlCache[V]) putFor(key string, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.m == nil {
		c.m = map[string]cached[V]{}
	}
	if len(c.m) >= maxCacheEntries {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCacheEntries {
			c.m = map[string]cached[V]{}
		}
	}
	c.m[key] = cached[V]{v: v, expires: now.Add(ttl)}
}

// groupsAnnotation renders groups for the requested-by-groups annotation.
func groupsAnnotation(groups []string) string {
	g := slices.Clone(groups)
	slices.Sort(g)
	return strings.Join(g, ",")
}
