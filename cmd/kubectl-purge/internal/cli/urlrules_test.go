package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1alpha1 "github.com/cacheops/purge-operator/api/v1alpha1"
	"github.com/cacheops/purge-operator/cacheproxy/admin"
)

// What a purge URL, a ban pattern and a tag may be is written twice: in
// Go (cacheproxy/admin, which the proxy and this plugin call) and in CEL
// (the CRD's x-kubernetes-validations, which the API server runs). This
// table runs every row through the API server (a server-side dry run of a
// Purge's create), through the admin package's validation of the request
// a pod would receive, and through the plugin's own checks, and requires
// the three to give the answer the row states.

// urlRule is one row: a URL, and whether it is a valid URL of a simple or
// soft purge, a valid ban pattern, and a ban that needs confirmHostRootBan.
type urlRule struct {
	url          string
	asURL, asBan bool
	hostRoot     bool
	why          string
}

// What a row expects of every layer.
const (
	accept = true
	refuse = false
)

// longURL is a URL of n characters, each after the host being c.
func longURL(n int, c string) string {
	const head = "https://www.example.com/"
	return head + strings.Repeat(c, n-len(head))
}

var urlRules = []urlRule{
	// The disagreements issue 11 found, each now refused or accepted by all.
	{url: "https://www.example.com/a b", asURL: refuse, asBan: refuse, why: "a space: no request line carries one (write %20)"},
	{url: "https://:80/", asURL: refuse, asBan: refuse, why: "a port and no host"},
	{url: "https://x/%zz", asURL: refuse, asBan: refuse, why: "a % that starts no %XX escape"},
	{url: "https://exa^mple.com/", asURL: refuse, asBan: refuse, why: "a character no host name holds"},
	{url: "https://x:abc/", asURL: refuse, asBan: refuse, why: "a port that is no number"},
	{url: "https://www.example.com?x=1", asURL: accept, asBan: accept, hostRoot: false, why: "the root page with a query: not the whole host"},
	// The plain good and bad cases.
	{url: "https://www.example.com/app.js?v=2", asURL: accept, asBan: accept, why: "the usual URL"},
	{url: "http://www.example.com/a", asURL: accept, asBan: accept, why: "http"},
	{url: "www.example.com/a", asURL: refuse, asBan: refuse, why: "no scheme"},
	{url: "ftp://www.example.com/a", asURL: refuse, asBan: refuse, why: "not http(s)"},
	{url: "https://user:pw@www.example.com/a", asURL: refuse, asBan: refuse, why: "user info never reaches a cache"},
	{url: "https://www.example.com/a@b", asURL: accept, asBan: accept, why: "an @ in the path is no user info"},
	{url: "https://www.example.com/a#top", asURL: refuse, asBan: refuse, why: "a fragment never reaches a cache"},
	{url: "https://www.example.com/a#", asURL: refuse, asBan: refuse, why: "an empty fragment"},
	{url: longURL(admin.MaxURLLength, "a"), asURL: accept, asBan: accept, why: "2048 characters"},
	{url: longURL(admin.MaxURLLength+1, "a"), asURL: refuse, asBan: refuse, why: "2049 characters"},
	{url: longURL(admin.MaxURLLength, "\u00fc"), asURL: accept, asBan: accept, why: "2048 characters, over 4000 bytes: lengths count characters"},
	{url: "https:///a", asURL: refuse, asBan: refuse, why: "an empty host"},
	{url: "https://", asURL: refuse, asBan: refuse, why: "nothing after the scheme"},
	{url: "", asURL: refuse, asBan: refuse, why: "empty"},
	{url: "https://[2001:db8::1]:8443/a", asURL: accept, asBan: accept, why: "an IPv6 literal with a port"},
	{url: "https://[::1]/", asURL: accept, asBan: accept, hostRoot: true, why: "an IPv6 literal's root"},
	{url: "https://[::g]/", asURL: refuse, asBan: refuse, why: "an IPv6 literal that is not hex"},
	{url: "HTTPS://WWW.Example.COM/a", asURL: accept, asBan: accept, why: "upper case: the key lower-cases scheme and host"},
	{url: "https://www.example.com./a", asURL: accept, asBan: accept, why: "a trailing dot: the key drops it"},
	{url: "https://www.example.com:/a", asURL: refuse, asBan: refuse, why: "an empty port"},
	{url: "https://www.example.com:123456/a", asURL: refuse, asBan: refuse, why: "a port of six digits"},
	{url: "https://www.example.com/%7Euser/%e2%82%ac", asURL: accept, asBan: accept, why: "%XX escapes in either case"},
	{url: "https://www.example.com/\u00fc", asURL: accept, asBan: accept, why: "non-ASCII: the key percent-encodes it"},
	{url: "https://www.example.com/a\x01", asURL: refuse, asBan: refuse, why: "a control character"},
	{url: "https://www.example.com/a\tb", asURL: refuse, asBan: refuse, why: "a tab"},
	// Ban patterns: "*" is a wildcard there, and refused in a URL.
	{url: "https://www.example.com/img/*", asURL: refuse, asBan: accept, why: "a prefix with *"},
	{url: "https://www.example.com/img/", asURL: accept, asBan: accept, why: "a prefix"},
	{url: "https://*.example.com/img/", asURL: refuse, asBan: accept, why: "a wildcard host"},
	{url: "https://www.example.com/a?*", asURL: refuse, asBan: accept, why: "any query of one page"},
	{url: "https://www.example.com/%*", asURL: refuse, asBan: refuse, why: "a * where an escape's hex digits go"},
	{url: "https://www.example.com", asURL: accept, asBan: accept, hostRoot: true, why: "a host"},
	{url: "https://www.example.com/", asURL: accept, asBan: accept, hostRoot: true, why: "a host's root"},
	{url: "https://www.example.com/*", asURL: refuse, asBan: accept, hostRoot: true, why: "everything under a host's root"},
	{url: "https://www.example.com/**", asURL: refuse, asBan: accept, hostRoot: true, why: "everything, twice"},
	{url: "https://www.example.com:8443/", asURL: accept, asBan: accept, hostRoot: true, why: "a host with a port"},
	{url: "https://www.example.com*", asURL: refuse, asBan: accept, hostRoot: true, why: "a host and whatever follows it"},
	{url: "https://*/", asURL: refuse, asBan: accept, hostRoot: true, why: "every host"},
	{url: "https://www.example.com:8*/a", asURL: refuse, asBan: accept, why: "a wildcard in a ban's port"},
	{url: "https://www.example.com/?*", asURL: refuse, asBan: accept, hostRoot: false, why: "any query of the root page"},
	// Dot segments and "//", which the cache resolves before matching: a
	// ban must be written as the cache reads it (confirmed or not), since
	// the CRD's rule cannot resolve them to see a host-root ban. A purge
	// URL may spell them: it names the one object they resolve to.
	{url: "https://www.example.com/./", asURL: accept, asBan: refuse, why: "the root, through a dot segment"},
	{url: "https://www.example.com/.", asURL: accept, asBan: refuse, why: "the root, through a final dot segment"},
	{url: "https://www.example.com/.//*", asURL: refuse, asBan: refuse, why: "everything, through a dot and an empty segment"},
	{url: "https://www.example.com//*", asURL: refuse, asBan: refuse, why: "everything, through an empty segment"},
	{url: "https://www.example.com//", asURL: accept, asBan: refuse, why: "the root, twice"},
	{url: "https://www.example.com/%2E/", asURL: accept, asBan: refuse, why: "the root, through an encoded dot segment"},
	{url: "https://www.example.com/%2e%2E/*", asURL: refuse, asBan: refuse, why: "everything, through an encoded dot-dot segment"},
	{url: "https://www.example.com/img/../*", asURL: refuse, asBan: refuse, why: "everything, through a dot-dot segment"},
	{url: "https://www.example.com/*/..", asURL: refuse, asBan: refuse, why: "everything, through a final dot-dot segment"},
	{url: "https://www.example.com/img/./a.png", asURL: accept, asBan: refuse, why: "a dot segment inside the path"},
	{url: "https://www.example.com/img//a.png", asURL: accept, asBan: refuse, why: "an empty segment inside the path"},
	{url: "https://www.example.com/a.js?next=/../", asURL: accept, asBan: accept, why: "dot segments in the query: no path"},
	{url: "https://www.example.com/?u=//x", asURL: accept, asBan: accept, why: "'//' in the query of the root page"},
	{url: "https://www.example.com/.well-known/", asURL: accept, asBan: accept, why: "a segment that starts with a dot"},
	{url: "https://www.example.com/.../a..b/*.", asURL: refuse, asBan: accept, why: "dots that make no dot segment"},
	{url: "https://www.example.com/%2E%2E%2E/", asURL: accept, asBan: accept, why: "three encoded dots make no dot segment"},
	{url: "https://www.example.com/a%2F..%2Fb", asURL: accept, asBan: accept, why: "an encoded '/' separates no segments"},
}

// tagRule is one row of the tag table.
type tagRule struct {
	tag   string
	valid bool
	why   string
}

var tagRules = []tagRule{
	{"product-42", accept, "the usual tag"},
	{"", refuse, "empty"},
	{"a b", refuse, "a space separates tags"},
	{"a,b", refuse, "a comma separates tags"},
	{"a\tb", refuse, "a tab separates tags"},
	{"a\vb", refuse, "a control character no header carries"},
	{"a\x01b", refuse, "a control character no header carries"},
	{"a\u00a0b", accept, "a no-break space: one tag in a header"},
	{strings.Repeat("t", admin.MaxTagLength), accept, "256 characters"},
	{strings.Repeat("t", admin.MaxTagLength+1), refuse, "257 characters"},
	{strings.Repeat("\u00fc", admin.MaxTagLength), accept, "256 characters, 512 bytes"},
}

var _ = Describe("The URL, ban pattern and tag rules", func() {
	It("are the same in the CRD, the admin API and the plugin", func(ctx SpecContext) {
		var out strings.Builder
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "URL\tAPI server url/ban/root\tadmin url/ban/root\tplugin url/ban/root\twant\twhy")
		differ := 0
		for _, r := range urlRules {
			want := answers{r.asURL, r.asBan, r.hostRoot}
			api, adm, plugin := apiServerAnswers(ctx, r.url), adminAnswers(r.url), pluginAnswers(r.url)
			mark := ""
			if api != want || adm != want || plugin != want {
				mark, differ = "  <-- differs", differ+1
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", shorten(r.url), api, adm, plugin, want, r.why, mark)
		}
		fmt.Fprintln(tw, "\ntag\tAPI server\tadmin\tplugin\twant\twhy")
		for _, r := range tagRules {
			api := apiAccepts(ctx, cachev1alpha1.PurgeSpec{Tags: []string{r.tag}})
			adm := (&admin.InvalidationRequest{ID: "t", Mode: admin.ModeSimple, Tags: []string{r.tag}}).Validate() == nil
			plugin := (&purgeInput{CacheProxy: "edge", Mode: cachev1alpha1.PurgeModeSimple, Tags: []string{r.tag}}).validate() == nil
			mark := ""
			if api != r.valid || adm != r.valid || plugin != r.valid {
				mark, differ = "  <-- differs", differ+1
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s%s\n", shorten(r.tag), yes(api), yes(adm), yes(plugin), yes(r.valid), r.why, mark)
		}
		Expect(tw.Flush()).To(Succeed())
		GinkgoWriter.Print(out.String())
		Expect(differ).To(BeZero(), "rows where a layer answers otherwise than the row says:\n%s", out.String())
	})
})

var _ = Describe("The bound on ban patterns with a wildcard host", func() {
	// wildcardBans is n ban patterns with a "*" in the host (or the port),
	// after one with a literal host, which does not count.
	wildcardBans := func(n int) []string {
		urls := []string{"https://www.example.com/img/"}
		for i := range n {
			if i%2 == 0 {
				urls = append(urls, fmt.Sprintf("https://*.example%d.com/img/", i))
			} else {
				urls = append(urls, fmt.Sprintf("https://www.example%d.com:8*/img/", i))
			}
		}
		return urls
	}
	plugin := func(urls []string) error {
		in := &purgeInput{CacheProxy: "edge", Mode: cachev1alpha1.PurgeModeBan}
		for i, u := range urls {
			in.URLs = append(in.URLs, sourcedURL{URL: u, Source: fmt.Sprintf("argument %d", i+2)})
		}
		return in.validate()
	}
	adminValidate := func(urls []string) error {
		return (&admin.InvalidationRequest{ID: "t", Mode: admin.ModeBan, URLs: urls}).Validate()
	}
	apiServer := func(ctx context.Context, urls []string) error {
		p := &cachev1alpha1.Purge{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, GenerateName: "rules-"},
			Spec:       cachev1alpha1.PurgeSpec{CacheProxyRef: cachev1alpha1.CacheProxyReference{Name: "edge"}, Mode: cachev1alpha1.PurgeModeBan, URLs: urls},
		}
		return k8sClient.Create(ctx, p, client.DryRunAll)
	}

	It("is admin.MaxWildcardHostPatterns in the CRD, the admin API and the plugin", func(ctx SpecContext) {
		atBound := wildcardBans(admin.MaxWildcardHostPatterns)
		Expect(apiServer(ctx, atBound)).To(Succeed())
		Expect(adminValidate(atBound)).To(Succeed())
		Expect(plugin(atBound)).To(Succeed())

		over := wildcardBans(admin.MaxWildcardHostPatterns + 1)
		err := apiServer(ctx, over)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "the API server took %d wildcard-host patterns: %v", admin.MaxWildcardHostPatterns+1, err)
		Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("at most %d ban patterns may have a '*' in the host", admin.MaxWildcardHostPatterns)))
		Expect(err.Error()).To(ContainSubstring("split them into several Purges"))
		want := fmt.Sprintf("%d ban patterns have a '*' in the host, at most %d allowed in one purge", admin.MaxWildcardHostPatterns+1, admin.MaxWildcardHostPatterns)
		Expect(adminValidate(over)).To(MatchError(ContainSubstring(want)))
		Expect(plugin(over)).To(MatchError(ContainSubstring(want)))
	})
})

// answers is what one layer says of one URL: valid as a URL, valid as a
// ban pattern, and (as a ban) needing confirmHostRootBan.
type answers struct{ url, ban, hostRoot bool }

func (a answers) String() string {
	root := "-"
	if a.ban {
		root = map[bool]string{true: "root", false: "no"}[a.hostRoot]
	}
	return yes(a.url) + "/" + yes(a.ban) + "/" + root
}

func yes(b bool) string { return map[bool]string{true: "ok", false: "REFUSED"}[b] }

// shorten quotes s, cut to its start if long.
func shorten(s string) string {
	if r := []rune(s); len(r) > 48 {
		return fmt.Sprintf("%q…(%d characters)", string(r[:40]), len(r))
	}
	return fmt.Sprintf("%q", s)
}

// apiServerAnswers asks the API server: a simple Purge of u, a confirmed
// ban of u, and, if that is valid, an unconfirmed one.
func apiServerAnswers(ctx context.Context, u string) answers {
	a := answers{
		url: apiAccepts(ctx, cachev1alpha1.PurgeSpec{URLs: []string{u}}),
		ban: apiAccepts(ctx, cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeBan, URLs: []string{u}, ConfirmHostRootBan: true}),
	}
	if a.ban {
		a.hostRoot = !apiAccepts(ctx, cachev1alpha1.PurgeSpec{Mode: cachev1alpha1.PurgeModeBan, URLs: []string{u}})
	}
	return a
}

// apiAccepts reports whether the API server would create a Purge of spec
// (a server-side dry run: nothing is stored).
func apiAccepts(ctx context.Context, spec cachev1alpha1.PurgeSpec) bool {
	GinkgoHelper()
	spec.CacheProxyRef.Name = "edge"
	if spec.Mode == "" {
		spec.Mode = cachev1alpha1.PurgeModeSimple
	}
	p := &cachev1alpha1.Purge{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, GenerateName: "rules-"}, Spec: spec}
	err := k8sClient.Create(ctx, p, client.DryRunAll)
	if err != nil {
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "the API server refuses for another reason than validation: %v", err)
	}
	return err == nil
}

// adminAnswers asks the admin package, as a pod validates the request it
// receives.
func adminAnswers(u string) answers {
	req := func(mode admin.Mode) *admin.InvalidationRequest {
		return &admin.InvalidationRequest{ID: "t", Mode: mode, URLs: []string{u}}
	}
	a := answers{url: req(admin.ModeSimple).Validate() == nil, ban: req(admin.ModeBan).Validate() == nil}
	a.hostRoot = a.ban && admin.IsHostRootBan(u)
	return a
}

// pluginAnswers asks the plugin's checks, as `kubectl purge [--ban] URL`
// runs them before creating the Purge.
func pluginAnswers(u string) answers {
	in := func(mode cachev1alpha1.PurgeMode) *purgeInput {
		return &purgeInput{CacheProxy: "edge", Mode: mode, URLs: []sourcedURL{{URL: u, Source: "argument 2"}}}
	}
	a := answers{url: in(cachev1alpha1.PurgeModeSimple).validate() == nil, ban: in(cachev1alpha1.PurgeModeBan).validate() == nil}
	a.hostRoot = a.ban && len(in(cachev1alpha1.PurgeModeBan).hostRootBans()) > 0
	return a
}
