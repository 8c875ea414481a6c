package bench

import (
	"math"
	"testing"
	"time"
)

func TestMedianPercentile(t *testing.T) {
	tests := []struct {
		xs          []float64
		median, p95 float64
		name        string
	}{
		{name: "none", xs: nil, median: 0, p95: 0},
		{name: "one", xs: []float64{7}, median: 7, p95: 7},
		{name: "odd, unsorted", xs: []float64{3, 1, 2}, median: 2, p95: 2.9},
		{name: "even", xs: []float64{4, 1, 3, 2}, median: 2.5, p95: 3.85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.xs); math.Abs(got-tt.median) > 1e-9 {
				t.Errorf("Median = %v, want %v", got, tt.median)
			}
			if got := Percentile(tt.xs, 95); math.Abs(got-tt.p95) > 1e-9 {
				t.Errorf("Percentile 95 = %v, want %v", got, tt.p95)
			}
		})
	}
}

func TestMedianLeavesInputAlone(t *testing.T) {
	xs := []float64{3, 1, 2}
	Median(xs)
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("Median reordered its input: %v", xs)
	}
}

func TestLinearFit(t *testing.T) {
	slope, intercept := LinearFit([]float64{0, 1, 2, 3}, []float64{10, 12, 14, 16})
	if slope != 2 || intercept != 10 {
		t.Errorf("LinearFit = %v, %v; want 2, 10", slope, intercept)
	}
	if s, i := LinearFit([]float64{1, 1}, []float64{2, 3}); s != 0 || i != 0 {
		t.Errorf("LinearFit of a vertical line = %v, %v; want 0, 0", s, i)
	}
	if s, _ := LinearFit([]float64{1}, []float64{2}); s != 0 {
		t.Errorf("LinearFit of one point = %v; want 0", s)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	if s.N != 3 || s.P50 != 2 || s.Min != 1 || s.Max != 3 || s.Mean != 2 {
		t.Errorf("Summarize = %+v", s)
	}
	if s := Summarize(nil); s.N != 0 || s.P50 != 0 {
		t.Errorf("Summarize(nil) = %+v", s)
	}
}
