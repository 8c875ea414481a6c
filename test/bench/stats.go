package bench

import (
	"math"
	"slices"
	"time"
)

// Median is the middle value of xs (the mean of the two middle values for
// an even count); 0 for none (results are JSON, which has no NaN).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Percentile is the p-th percentile (0-100) of xs by linear interpolation
// between closest ranks; 0 for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// LinearFit returns the least-squares slope and intercept of ys against
// xs; zeros when they do not determine a line.
func LinearFit(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

// Millis converts durations to milliseconds, for the statistics above.
func Millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// Summary is a distribution of milliseconds, as reported.
type Summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize describes ds in milliseconds.
func Summarize(ds []time.Duration) Summary {
	ms := Millis(ds)
	s := Summary{N: len(ms)}
	if len(ms) == 0 {
		return s
	}
	s.P50, s.P95, s.P99 = Percentile(ms, 50), Percentile(ms, 95), Percentile(ms, 99)
	s.Min, s.Max = slices.Min(ms), slices.Max(ms)
	for _, m := range ms {
		s.Mean += m
	}
	s.Mean /= float64(len(ms))
	return s
}
