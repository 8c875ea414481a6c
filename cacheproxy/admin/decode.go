package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLarge is returned by DecodeInvalidationRequest for bodies over
// MaxBodyBytes; the proxy answers 413.
var ErrBodyTooLarge = fmt.Errorf("request body larger than %d bytes", MaxBodyBytes)

// DecodeInvalidationRequest reads one JSON InvalidationRequest from r and
// validates it. It refuses bodies over MaxBodyBytes (ErrBodyTooLarge),
// invalid JSON, unknown fields, anything after the object, and whatever
// Validate refuses, with messages a person can act on. JSON field names
// match case-insensitively, as encoding/json does.
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
