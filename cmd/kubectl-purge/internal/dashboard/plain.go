package dashboard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API server words each refused field as "<error type>: <value>:
// <detail>", for example
//
//	Invalid value: "string": must be an absolute http:// or https:// URL...
//
// where "string" is the type a validation rule checked, not what the user
// typed. The detail is the API's own reason and is kept word for word;
// plainCause says the rest plainly, and the page shows it after the field
// path (spec.urls[0]).

// ruleTypes are the values a validation rule's refusal names instead of
// the rejected value: the type of what the rule checked.
var ruleTypes = []string{"string", "object", "array", "integer", "number", "boolean"}

// plainCause is one field error of the API server in plain words.
func plainCause(c metav1.StatusCause) string {
	_, rest, ok := strings.Cut(c.Message, ": ")
	var value, detail string
	switch c.Type {
	case metav1.CauseTypeFieldValueInvalid, metav1.CauseTypeTypeInvalid, metav1.CauseTypeFieldValueNotSupported,
		metav1.CauseTypeFieldValueDuplicate, metav1.CauseTypeFieldValueNotFound, metav1.CauseTypeTooMany:
		if !ok {
			return c.Message
		}
		value, detail = splitValue(rest)
	default:
		detail = rest
	}
	// The API's schema checks name the field again: "spec.tags[0] in body
	// should be at least 1 chars long".
	detail = strings.TrimPrefix(detail, c.Field+" in body ")
	switch c.Type {
	case metav1.CauseTypeFieldValueRequired:
		return joinDetail("is required", detail)
	case metav1.CauseTypeFieldValueInvalid, metav1.CauseTypeTypeInvalid:
		if detail == "" {
			return fmt.Sprintf("%s is not valid", value)
		}
		if unquoted, err := strconv.Unquote(value); err == nil && slices.Contains(ruleTypes, unquoted) {
			return detail
		}
		return fmt.Sprintf("%s (not %s)", detail, value)
	case metav1.CauseTypeFieldValueNotSupported:
		if supported, ok := strings.CutPrefix(detail, "supported values: "); ok {
			return fmt.Sprintf("%s is not one of %s", value, supported)
		}
		return joinDetail(value+" is not supported", detail)
	case metav1.CauseTypeFieldValueDuplicate:
		return joinDetail(value+" is listed twice", detail)
	case metav1.CauseTypeFieldValueNotFound:
		return joinDetail(value+" was not found", detail)
	case metav1.CauseTypeTooMany:
		return joinDetail(fmt.Sprintf("has %s entries", value), detail)
	case metav1.CauseTypeTooLong, metav1.CauseTypeForbidden:
		if detail != "" {
			return detail
		}
	}
	return c.Message
}

// splitValue splits "<value>: <detail>" (or "<value>" alone), where value
// is a Go-quoted string or a number or boolean.
func splitValue(s string) (value, detail string) {
	if strings.HasPrefix(s, `"`) {
		if q, err := strconv.QuotedPrefix(s); err == nil {
			return q, strings.TrimPrefix(s[len(q):], ": ")
		}
	}
	value, detail, _ = strings.Cut(s, ": ")
	return value, detail
}

func joinDetail(s, detail string) string {
	if detail == "" {
		return s
	}
	return s + ": " + detail
}

// plainInvalid is the message of an Invalid refusal: each field path with
// its reason in plain words.
func plainInvalid(kind string, causes []metav1.StatusCause) string {
	parts := make([]string, 0, len(causes))
	for _, c := range causes {
		if c.Field == "" {
			parts = append(parts, c.Message)
			continue
		}
		parts = append(parts, c.Field+": "+c.Message)
	}
	return fmt.Sprintf("The API server refused this %s: %s", kind, strings.Join(parts, "; "))
}
