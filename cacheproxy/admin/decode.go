package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrBodyTooLarge is returned by DecodeInvalidationRequest for bodies over
// MaxBodyBytes; the proxy answers 413.
var ErrBodyTooLarge = fmt.Errorf("request body larger than %d bytes", MaxBodyBytes)

// DecodeInvalidationRequest reads one JSON InvalidationRequest from r and
// validates it. It refuses bodies over MaxBodyBytes (ErrBodyTooLarge),
// invalid JSON, unknown fields, anything after the object, and whatever
// Validate refuses, with messages a person can act on. Field names must be
// spelt exactly ("dryRun", not "dryrun"): encoding/json alone would accept
// any letter case.
func DecodeInvalidationRequest(r io.Reader) (InvalidationRequest, error) {
	var req InvalidationRequest
	data, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return req, fmt.Errorf("reading body: %w", err)
	}
	if len(data) > MaxBodyBytes {
		return req, ErrBodyTooLarge
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return req, errors.New("empty body: want a JSON invalidation request")
	}
	if !utf8.Valid(data) {
		// encoding/json would turn the bytes into U+FFFD: another URL, and
		// ids that collide (red team C17).
		return req, errors.New("invalid JSON: the body is not valid UTF-8")
	}
	if err := checkFieldNames(data); err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return InvalidationRequest{}, fmt.Errorf("invalid JSON: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return InvalidationRequest{}, errors.New("invalid JSON: unexpected data after the request object")
	}
	if err := req.Validate(); err != nil {
		return InvalidationRequest{}, err
	}
	return req, nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("field %q: want %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("want a JSON object, got JSON %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("%v at byte %d", syntaxErr, syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends in the middle of the JSON"
	}
	return err.Error()
}

// fieldNames are the JSON names of InvalidationRequest's fields.
var fieldNames = []string{"id", "mode", "urls", "tags", "refetch", "dryRun"}

// checkFieldNames refuses object keys that are not exactly a field name,
// and a key given twice (encoding/json would keep the last one, where
// another reader may keep the first; red team C18). Anything that is not a
// JSON object is left to the decoder's messages.
func checkFieldNames(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool, len(fieldNames))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := t.(string)
		if err := checkFieldName(name); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("invalid JSON: field %q given twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil
		}
	}
	return nil
}

// checkFieldName refuses a key that is not exactly a field name.
func checkFieldName(name string) error {
	for _, f := range fieldNames {
		if name == f {
			return nil
		}
	}
	for _, f := range fieldNames {
		if strings.EqualFold(name, f) {
			return fmt.Errorf("invalid JSON: unknown field %q (did you mean %q?)", name, f)
		}
	}
	return fmt.Errorf("invalid JSON: unknown field %q", name)
}
