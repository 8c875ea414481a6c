package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// narrator writes the tour for a person: short indented lines, commands
// shown as at a shell prompt, a check mark or a cross per claim, and a
// spinner while waiting when the output is a terminal (a plain line
// otherwise, so a log or a CI transcript stays readable).
type narrator struct {
	w     io.Writer
	tty   bool // spinner and colours
	color bool

	mu sync.Mutex // serialises writes: the spinner runs in its own goroutine
}

// ANSI styles, used only when colour is on.
const (
	styleBold  = "\x1b[1m"
	styleDim   = "\x1b[2m"
	styleGreen = "\x1b[32m"
	styleRed   = "\x1b[31m"
	styleCyan  = "\x1b[36m"
	styleReset = "\x1b[0m"
)

func (n *narrator) style(style, s string) string {
	if !n.color {
		return s
	}
	return style + s + styleReset
}

func (n *narrator) println(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintln(n.w, s)
}

// title starts a part of the tour.
func (n *narrator) title(s string) {
	n.println("")
	n.println(n.style(styleBold, s))
}

// say is a line of narration.
func (n *narrator) say(format string, args ...any) {
	n.println("  " + fmt.Sprintf(format, args...))
}

// commandWidth is where a shown command breaks onto a continuation line.
const commandWidth = 76

// command shows a command as typed at a prompt. A long one is broken
// before its flags with a shell's " \\" continuation, so it stays
// readable and can still be pasted.
func (n *narrator) command(cmd string) {
	for _, line := range wrapCommand(cmd, commandWidth) {
		n.println("  " + n.style(styleCyan, line))
	}
}

// wrapCommand lays cmd out after a "$ " prompt in lines of at most width
// runes where the flags allow: it breaks only before a word that starts
// with "-", never inside a comment, and indents continuation lines by
// four. A command without flags stays on one line whatever its length,
// so "export KUBECONFIG=<path>" is one line to copy.
func wrapCommand(cmd string, width int) []string {
	lines := []string{"$"}
	comment := false
	for word := range strings.FieldsSeq(cmd) {
		comment = comment || strings.HasPrefix(word, "#")
		last := &lines[len(lines)-1]
		if !comment && strings.HasPrefix(word, "-") && utf8.RuneCountInString(*last)+1+utf8.RuneCountInString(word)+2 > width {
			*last += " \\"
			lines = append(lines, "   ")
			last = &lines[len(lines)-1]
		}
		*last += " " + word
	}
	if len(lines) == 1 {
		return []string{"$ " + cmd} // as written, spacing before a comment kept
	}
	return lines
}

// output shows what a command printed, indented under it.
func (n *narrator) output(text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		n.println("    " + n.style(styleDim, line))
	}
}

// row is a line of a result table, indented like command output but not
// dimmed: it is the evidence.
func (n *narrator) row(format string, args ...any) {
	n.println("    " + fmt.Sprintf(format, args...))
}

// table writes rows as a table: every column but the last padded to its
// widest cell (so the last may hold colour codes).
func (n *narrator) table(rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r[:len(r)-1] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r[:len(r)-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
		}
		b.WriteString(r[len(r)-1])
		n.row("%s", strings.TrimRight(b.String(), " "))
	}
}

func (n *narrator) pass(msg string) { n.println("  " + n.style(styleGreen, "✓") + " " + msg) }

func (n *narrator) fail(msg string) { n.println("  " + n.style(styleRed, "✗") + " " + msg) }

// spinnerFrames are drawn while waiting on a terminal.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// wait runs fn while showing what is awaited: a spinner with the elapsed
// time on a terminal, a plain "label …" line otherwise. It returns fn's
// error and how long it took.
func (n *narrator) wait(ctx context.Context, label string, fn func(context.Context) error) (time.Duration, error) {
	began := time.Now()
	if !n.tty {
		n.say("%s …", label)
		err := fn(ctx)
		return time.Since(began), err
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			n.mu.Lock()
			fmt.Fprintf(n.w, "\r\x1b[K  %s %s %s", n.style(styleCyan, spinnerFrames[i%len(spinnerFrames)]), label,
				n.style(styleDim, fmt.Sprintf("%.1fs", time.Since(began).Seconds())))
			n.mu.Unlock()
			select {
			case <-done:
				n.mu.Lock()
				fmt.Fprint(n.w, "\r\x1b[K")
				n.mu.Unlock()
				return
			case <-tick.C:
			}
		}
	})
	err := fn(ctx)
	close(done)
	wg.Wait()
	return time.Since(began), err
}

// seconds formats a duration for people: "0.4s", "12.3s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
