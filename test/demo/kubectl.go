package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// kubectl runs bin/k8s/kubectl against the demo cluster, from the
// repository root so sample paths read as in the README, with the bin
// directory first on PATH so kubectl finds the kubectl-purge plugin.
type kubectl struct {
	path       string
	kubeconfig string
	dir        string
	binDir     string
}

// run runs kubectl with args and returns its combined output.
func (k *kubectl) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, k.path, args...)
	cmd.Dir = k.dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.kubeconfig, "PATH="+k.binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// describedPurge is what the tour shows of `kubectl describe purge`: the
// summary fields, one line per pod and the events.
type describedPurge struct {
	Summary []string // "Phase: Complete", "Progress: 3/3", ... in summaryFields order
	Pods    []map[string]string
	Events  []string // the events table, header included, without its rule
}

// Sections of `kubectl describe purge` the parser tracks.
const (
	sectionStatus = "Status"
	sectionPods   = "Status.Pods"
	sectionEvents = "Events"
)

// summaryFields are the status fields the trimmed describe keeps.
var summaryFields = []string{"Phase", "Progress", "Objects Matched", "Objects Invalidated", "Objects Refetched"}

// parseDescribePurge picks the result out of `kubectl describe purge`:
// top-level status fields, the entries of Status.Pods (a list of maps,
// which describe prints as consecutive "Key: value" blocks), and the
// Events table.
func parseDescribePurge(out string) describedPurge {
	var d describedPurge
	summary := map[string]string{}
	section := ""
	var pod map[string]string
	for line := range strings.SplitSeq(out, "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case indent == 0:
			key, rest, _ := strings.Cut(trimmed, ":")
			section = key
			if rest = strings.TrimSpace(rest); section == sectionEvents && rest != "" {
				d.Events = append(d.Events, rest) // "<none>"
			}
			continue
		}
		switch {
		case section == sectionEvents:
			if !strings.HasPrefix(trimmed, "----") {
				d.Events = append(d.Events, trimmed)
			}
		case section == sectionStatus && indent == 2:
			key, value, _ := strings.Cut(trimmed, ":")
			if key == "Pods" {
				section = sectionPods
				continue
			}
			summary[key] = strings.TrimSpace(value)
		case section == sectionPods && indent == 2:
			// Pods ended; another status field follows.
			section = sectionStatus
			key, value, _ := strings.Cut(trimmed, ":")
			summary[key] = strings.TrimSpace(value)
		case section == sectionPods && indent == 4:
			key, value, _ := strings.Cut(trimmed, ":")
			if _, seen := pod[key]; pod == nil || seen {
				pod = map[string]string{}
				d.Pods = append(d.Pods, pod)
			}
			pod[key] = strings.TrimSpace(value)
		}
	}
	for _, k := range summaryFields {
		if v := summary[k]; v != "" {
			d.Summary = append(d.Summary, k+": "+v)
		}
	}
	return d
}

// podLine is one pod of a described Purge on one line.
func podLine(p map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-9s attempts %s", p["Name"], p["Phase"], orZero(p["Attempts"]))
	for _, k := range []string{"Matched", "Invalidated", "Refetched"} {
		if v := p[k]; v != "" {
			fmt.Fprintf(&b, ", %s %s", strings.ToLower(k), v)
		}
	}
	if e := p["Last Error"]; e != "" {
		fmt.Fprintf(&b, ", last error: %s", e)
	}
	return b.String()
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// eventLines keeps the Type, Reason and Message columns of describe's
// events table (Age and From add width, not meaning, here), aligned.
func eventLines(events []string) []string {
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		cols := columnGap.Split(e, -1)
		if len(cols) < 5 {
			rows = append(rows, []string{e})
			continue
		}
		rows = append(rows, []string{cols[0], cols[1], strings.Join(cols[4:], "  ")})
	}
	width := [2]int{}
	for _, r := range rows {
		for i := 0; i < 2 && i < len(r)-1; i++ {
			width[i] = max(width[i], len(r[i]))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if len(r) == 1 {
			out = append(out, r[0])
			continue
		}
		out = append(out, fmt.Sprintf("%-*s  %-*s  %s", width[0], r[0], width[1], r[1], r[2]))
	}
	return out
}

// columnGap separates the columns of kubectl's tables.
var columnGap = regexp.MustCompile(`\s{2,}`)

// narrowColumns lays out a table kubectl printed (columns padded to three
// spaces or more) with two spaces between columns, so that the long names
// of `kubectl get pods -A` fit the narration's width. A cell may hold
// single spaces ("1 (5s ago)").
func narrowColumns(table string) string {
	var rows [][]string
	var widths []int
	for line := range strings.SplitSeq(strings.TrimRight(table, "\n"), "\n") {
		cells := columnGap.Split(strings.TrimRight(line, " "), -1)
		for i, c := range cells {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
		rows = append(rows, cells)
	}
	var b strings.Builder
	for _, cells := range rows {
		for i, c := range cells {
			if i < len(cells)-1 {
				c += strings.Repeat(" ", widths[i]-len([]rune(c))+2)
			}
			b.WriteString(c)
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
