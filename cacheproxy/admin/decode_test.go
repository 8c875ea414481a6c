package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeInvalidationRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        string
	}{
		{"valid", `{"id":"a","mode":"simple","urls":["https://h/a"],"refetch":true}`, ""},
		{"valid with whitespace", " \n{\"id\":\"a\",\"mode\":\"ban\",\"urls\":[\"https://h/\"]}\n ", ""},
		{"empty", "", "empty body"},
		{"blank", "  \n", "empty body"},
		{"syntax", `{"id":"a",}`, "invalid JSON"},
		{"truncated", `{"id":"a"`, "ends in the middle"},
		{"wrong type", `{"id":1}`, `field "id"`},
		{"array", `[1]`, "want a JSON object"},
		{"unknown field", `{"id":"a","mode":"simple","urls":["https://h/"],"purgeAll":true}`, `unknown field "purgeAll"`},
		{"trailing object", `{"id":"a","mode":"simple","urls":["https://h/"]} {}`, "after the request object"},
		{"trailing garbage", `{"id":"a","mode":"simple","urls":["https://h/"]}x`, "after the request object"},
		{"null", `null`, "id: required"},
		{"wrong case", `{"id":"a","mode":"simple","urls":["https://h/"],"dryrun":true}`, `unknown field "dryrun" (did you mean "dryRun"?)`},
		{"upper case", `{"ID":"a","mode":"simple","urls":["https://h/"]}`, `unknown field "ID"`},
		{"invalid request", `{"id":"a","mode":"ban","urls":["https://h/"],"tags":["t"]}`, "tags: not allowed"},
		{"duplicate key", `{"id":"a","mode":"simple","mode":"ban","urls":["https://h/"]}`, `field "mode" given twice`},      // red team C18
		{"invalid UTF-8 in the id", "{\"id\":\"u\xfe\",\"mode\":\"simple\",\"urls\":[\"https://h/a\"]}", "not valid UTF-8"}, // red team C17
		{"invalid UTF-8 in a URL", "{\"id\":\"u\",\"mode\":\"simple\",\"urls\":[\"https://h/\xff\"]}", "not valid UTF-8"},
		{"nested keys may repeat", `{"id":"a","mode":"simple","urls":["https://h/"],"tags":["t","t"]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeInvalidationRequest(strings.NewReader(tc.body))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("decode: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("decode: %v, want %q", err, tc.err)
			}
		})
	}
	big := `{"id":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	if _, err := DecodeInvalidationRequest(strings.NewReader(big)); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("oversized body: %v", err)
	}
}

// FuzzDecodeInvalidationRequest checks that the decoder never panics, that
// whatever it accepts is valid, and that it survives a round trip.
func FuzzDecodeInvalidationRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","mode":"simple","urls":["https://h/a"]}`,
		`{"id":"a","mode":"soft","tags":["t1","t2"],"refetch":true,"dryRun":true}`,
		`{"id":"a","mode":"ban","urls":["https://*.h/img/*"]}`,
		`{"id":"a","mode":"ban","urls":["https://h/"],"tags":["t"]}`,
		`{"ID":"a","Mode":"simple","URLS":["http://h"]}`,
		`{}`, `null`, `[]`, `"x"`, `{"id":"a"}{}`, `{"id":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeInvalidationRequest(bytes.NewReader(body))
		if err != nil {
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("decoder accepted an invalid request: %v", err)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeInvalidationRequest(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("round trip of %s: %v", again, err)
		}
		if back.ID != req.ID || back.Mode != req.Mode || len(back.URLs) != len(req.URLs) || len(back.Tags) != len(req.Tags) || back.Refetch != req.Refetch || back.DryRun != req.DryRun {
			t.Fatalf("round trip changed %+v into %+v", req, back)
		}
	})
}
