package cacheproxy

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
)

// A fill's context ends a read blocked on the origin connection it
// watches, says so in Err and Done, and a watch that starts after it
// ended, or stops after, knows.
func TestFetchCtx(t *testing.T) {
	var c fetchCtx
	early := c.Done()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if !c.watch(a) {
		t.Fatal("watch refused before any cancel")
	}
	read := make(chan error, 1)
	go func() {
		_, err := a.Read(make([]byte, 1))
		read <- err
	}()
	c.cancel()
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked read ended with %v, want a deadline", err)
	}
	if c.stop() {
		t.Error("stop after cancel reported the watch ended first")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err = %v", c.Err())
	}
	for _, done := range []<-chan struct{}{early, c.Done()} {
		select {
		case <-done:
		default:
			t.Error("Done not closed after cancel")
		}
	}
	c.cancel() // twice is harmless
	if c.watch(b) {
		t.Error("watch accepted after cancel")
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on a connection watched after cancel: %v", err)
	}
}
