package dashboard_test

import (
	"context"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cmd/kubectl-purge/internal/dashboard"
)

// A watch of the API server does not last: the server closes it after a
// few minutes, a connection breaks, and a version the watch would resume
// from may be gone (etcd compacted it, the watch cache moved past it), in
// which case the server answers 410 Gone, reason Expired, either as the
// watch's last event or as the answer to a new watch. envtest's API server
// does none of this on cue, so the dashboard's client here is the real
// one with its watches of Purges cut by the spec (cutWatches).

// expiredError is what the API server says of a version too old to watch
// from.
var expiredError = apierrors.NewResourceExpired("too old resource version: 1 (2)")

// cutOp is what a spec does to the dashboard's current watch of Purges.
type cutOp int

const (
	// drop: events from now on are lost, as on a broken connection.
	drop cutOp = iota
	// expire: the watch ends with a 410 Expired error event.
	expire
	// end: the watch ends without error, as the API server's timeout
	// ends it.
	end
)

// cutWatches is a client whose watches of Purges the spec cuts.
type cutWatches struct {
	client.WithWatch
	mu sync.Mutex // guards the fields below
	// refuseNext refuses the next watch of Purges with 410 Expired.
	refuseNext bool
	// lists and watches count the lists and watches of Purges made.
	lists, watches int
	current        *cutWatch
}

func (c *cutWatches) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*cachev1alpha1.PurgeList); ok {
		c.mu.Lock()
		c.lists++
		c.mu.Unlock()
	}
	return c.WithWatch.List(ctx, list, opts...)
}

func (c *cutWatches) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	if _, ok := list.(*cachev1alpha1.PurgeList); !ok {
		return c.WithWatch.Watch(ctx, list, opts...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watches++
	if c.refuseNext {
		c.refuseNext = false
		return nil, expiredError
	}
	inner, err := c.WithWatch.Watch(ctx, list, opts...)
	if err != nil {
		return nil, err
	}
	w := &cutWatch{ops: make(chan cutOp), out: make(chan watch.Event), stopped: make(chan struct{}), ended: make(chan struct{})}
	go w.forward(inner)
	c.current = w
	return w, nil
}

// counts are the lists and watches of Purges made so far.
func (c *cutWatches) counts() (lists, watches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists, c.watches
}

// cut applies op to the dashboard's live watch of Purges. The dashboard
// opens a new watch only after it has shown what the last list or watch
// brought, so right after a cut the current watch may still be the one
// that ended: cut waits for its successor.
func (c *cutWatches) cut(op cutOp) {
	GinkgoHelper()
	Eventually(func() bool {
		c.mu.Lock()
		w := c.current
		c.mu.Unlock()
		if w == nil {
			return false
		}
		select {
		case w.ops <- op:
			return true
		case <-w.ended:
			return false
		case <-time.After(100 * time.Millisecond):
			return false // busy relaying an event nobody reads: try again
		}
	}).Should(BeTrue(), "the dashboard watches Purges")
}

// refuseNextWatch makes the next watch of Purges fail with 410 Expired.
func (c *cutWatches) refuseNextWatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refuseNext = true
}

// cutWatch relays a real watch until the spec cuts it.
type cutWatch struct {
	ops      chan cutOp
	out      chan watch.Event
	stopped  chan struct{}
	stopOnce sync.Once
	// ended is closed when the watch has ended and takes no more ops.
	ended chan struct{}
}

func (w *cutWatch) forward(inner watch.Interface) {
	defer inner.Stop()
	defer close(w.ended)
	defer close(w.out)
	dropping := false
	send := func(ev watch.Event) bool {
		select {
		case w.out <- ev:
			return true
		case <-w.stopped:
			return false
		}
	}
	for {
		select {
		case <-w.stopped:
			return
		case op := <-w.ops:
			switch op {
			case drop:
				dropping = true
			case expire:
				send(watch.Event{Type: watch.Error, Object: &expiredError.ErrStatus})
				return
			case end:
				return
			}
		case ev, ok := <-inner.ResultChan():
			if !ok {
				return
			}
			if !dropping && !send(ev) {
				return
			}
		}
	}
}

func (w *cutWatch) Stop()                          { w.stopOnce.Do(func() { close(w.stopped) }) }
func (w *cutWatch) ResultChan() <-chan watch.Event { return w.out }

var _ = Describe("kubectl purge dashboard's History when its watch is cut", func() {
	It("resumes a watch that ended, relists when the version is gone (410), and neither loses nor repeats a row", func() {
		ns := newNamespace()
		ctx := context.Background()
		c, err := client.NewWithWatch(cfg, client.Options{Scheme: k8sClient.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		cw := &cutWatches{WithWatch: c}
		serveCtx, stop := context.WithCancel(ctx)
		d, err := dashboard.Listen(serveCtx, dashboard.Options{Config: cfg, Client: cw, Namespace: ns}, "127.0.0.1", 0)
		Expect(err).NotTo(HaveOccurred())
		served := make(chan error, 1)
		go func() { served <- d.Serve(serveCtx) }()
		DeferCleanup(func() {
			stop()
			Eventually(served).Should(Receive(BeNil()))
		})

		// Purges of a CacheProxy that does not exist: the operator only
		// marks them Pending (a change each, which the watch relays).
		create := func(name string) {
			GinkgoHelper()
			Expect(k8sClient.Create(ctx, &cachev1alpha1.Purge{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "absent"},
					URLs: []string{"https://www.example.com/" + name}},
			})).To(Succeed())
		}
		remove := func(name string) {
			GinkgoHelper()
			Expect(k8sClient.Delete(ctx, &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		t := newTab()
		// names is History's rows by name, each as often as it is shown.
		names := func() []string {
			var out []string
			for _, r := range t.rows("History")() {
				out = append(out, strings.SplitN(r, " | ", 2)[0])
			}
			return out
		}
		for _, n := range []string{"a", "b", "c"} {
			create(n)
		}
		t.open(d.URL)
		Eventually(names).Should(ConsistOf("a", "b", "c"))
		lists, watches := cw.counts()
		Expect(lists).To(Equal(1))

		By("resuming a watch that ended from the last version it delivered: the changes made meanwhile come, with no new list")
		cw.cut(drop)
		create("d")
		remove("a")
		cw.cut(end)
		Eventually(names).Should(ConsistOf("b", "c", "d"))
		Consistently(names).WithTimeout(time.Second).Should(ConsistOf("b", "c", "d"))
		lists, resumed := cw.counts()
		Expect(lists).To(Equal(1), "a watch that ended is resumed, not listed again")
		Expect(resumed).To(Equal(watches + 1))

		By("listing again when the watch ends with 410 Expired: what it lost is in the new list")
		cw.cut(drop)
		create("e")
		remove("b")
		cw.cut(expire)
		Eventually(names).Should(ConsistOf("c", "d", "e"))
		Eventually(func() int { l, _ := cw.counts(); return l }).Should(Equal(2))

		By("listing again when the watch it resumes is refused with 410 Expired")
		cw.cut(drop)
		create("f")
		remove("c")
		cw.refuseNextWatch()
		cw.cut(end)
		Eventually(names).Should(ConsistOf("d", "e", "f"))
		Eventually(func() int { l, _ := cw.counts(); return l }).Should(Equal(3))

		By("going on live after all that, with no error shown")
		create("g")
		Eventually(names).Should(ConsistOf("d", "e", "f", "g"))
		Consistently(names).WithTimeout(time.Second).Should(ConsistOf("d", "e", "f", "g"))
		Expect(strings.TrimSpace(t.alerts()())).To(BeEmpty())
	})
})
