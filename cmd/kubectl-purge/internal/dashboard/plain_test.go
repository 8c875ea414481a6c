package dashboard

import (
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The field errors are made by the API machinery's own constructors, as
// the API server makes them, so their wording is the library's.
func TestErrorBodySaysWhyEachFieldWasRefused(t *testing.T) {
	urls, tags, mode := field.NewPath("spec", "urls"), field.NewPath("spec", "tags"), field.NewPath("spec", "mode")
	for _, tc := range []struct {
		err  *field.Error
		want string
	}{
		{field.Invalid(urls.Index(0), "string", "must be an absolute http:// or https:// URL with a host"),
			"must be an absolute http:// or https:// URL with a host"},
		{field.Invalid(field.NewPath("spec"), "object", "at least one of urls or tags is required"),
			"at least one of urls or tags is required"},
		{field.Invalid(tags.Index(0), "", "spec.tags[0] in body should be at least 1 chars long"),
			`should be at least 1 chars long (not "")`},
		{field.Invalid(field.NewPath("spec", "deadlineSeconds"), int64(0), "spec.deadlineSeconds in body should be greater than or equal to 1"),
			"should be greater than or equal to 1 (not 0)"},
		{field.Invalid(urls.Index(1), `say "hi": there`, "has a space"), `has a space (not "say \"hi\": there")`},
		{field.Required(field.NewPath("spec", "cacheProxyRef", "name"), ""), "is required"},
		{field.NotSupported(mode, "purge", []string{"simple", "soft", "ban"}), `"purge" is not one of "simple", "soft", "ban"`},
		{field.TooMany(urls, 300, 256), "has 300 entries: must have at most 256 items"},
		{field.TooLong(urls.Index(0), "", 2048), "may not be more than 2048 bytes"},
		{field.Forbidden(urls, "tags are not allowed with mode ban"), "tags are not allowed with mode ban"},
		{field.Duplicate(tags.Index(1), "a"), `"a" is listed twice`},
	} {
		err := apierrors.NewInvalid(schema.GroupKind{Group: "cache.cacheops.io", Kind: "Purge"}, "p", field.ErrorList{tc.err})
		code, body := errorBody(err)
		if code != 422 || len(body.Causes) != 1 {
			t.Fatalf("%s: got %d with causes %v", tc.err, code, body.Causes)
		}
		if got := body.Causes[0].Message; got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.err, got, tc.want)
		}
		if want := "The API server refused this Purge: " + tc.err.Field + ": " + tc.want; body.Message != want {
			t.Errorf("message:\n got %q\nwant %q", body.Message, want)
		}
	}
}

func TestErrorBodyKeepsOtherRefusalsWordForWord(t *testing.T) {
	err := apierrors.NewForbidden(schema.GroupResource{Group: "cache.cacheops.io", Resource: "purges"}, "",
		errors.New(`User "viewer" cannot create resource "purges" in API group "cache.cacheops.io" in the namespace "web"`))
	code, body := errorBody(err)
	if code != 403 || body.Message != err.ErrStatus.Message {
		t.Errorf("got %d %q, want 403 %q", code, body.Message, err.ErrStatus.Message)
	}
}
