package cacheproxy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// quantitySuffixes maps the Kubernetes resource-quantity suffixes this proxy
// accepts to their multipliers: binary (Ki, Mi, Gi, Ti) and decimal (k, K,
// M, G, T). "K" is accepted as a courtesy although Kubernetes only knows "k".
var quantitySuffixes = [...]struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseQuantity parses a byte count written as a plain integer ("1048576")
// or a Kubernetes-style quantity ("256Mi", "1Gi", "500M", "1.5Gi"). The
// result is rounded down to whole bytes. Negative values, exponents and
// milli-units are refused: a memory bound is a positive number of bytes.
func ParseQuantity(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("quantity %q: empty", orig)
	}
	mult := int64(1)
	for _, q := range quantitySuffixes {
		if strings.HasSuffix(s, q.suffix) {
			mult, s = q.mult, strings.TrimSuffix(s, q.suffix)
			break
		}
	}
	if s == "" || strings.ContainsAny(s, "+-eE_ ") {
		return 0, fmt.Errorf("quantity %q: want a non-negative number of bytes with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T", orig)
	}
	if whole, err := strconv.ParseInt(s, 10, 64); err == nil {
		if whole > math.MaxInt64/mult {
			return 0, fmt.Errorf("quantity %q: too large", orig)
		}
		return whole * mult, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("quantity %q: want a non-negative number of bytes with an optional suffix Ki, Mi, Gi, Ti, k, M, G, T", orig)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("quantity %q: too large", orig)
	}
	return int64(v), nil
}

// FormatQuantity writes n bytes in the largest binary unit that divides it
// exactly ("256Mi"), or as plain bytes.
func FormatQuantity(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
