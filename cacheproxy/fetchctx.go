package cacheproxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// fetchCtx is the context of a client's fill through the origin client:
// canceled by the fill itself (its last client leaving, its end, a stalled
// body), never by a parent, it ends a blocked exchange by pulling in the
// deadline of the origin connection the exchange registered (watch).
//
// context.WithCancel and the context.AfterFunc an exchange needs to be
// interrupted cost a miss nine allocations (the context, its cancel
// function, the done channel, the after-func context, its stop function,
// the parent's children map). A fetchCtx lives in its fill; its done
// channel is made only if something asks for it (dialling does).
type fetchCtx struct {
	mu   sync.Mutex
	err  error         // context.Canceled once canceled
	done chan struct{} // made by Done, closed by cancel
	conn net.Conn      // the origin connection an exchange is using, if any
}

// Interface guard: a fetchCtx is the fill's context.
var _ context.Context = (*fetchCtx)(nil)

func (c *fetchCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *fetchCtx) Value(any) any { return nil }

func (c *fetchCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *fetchCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

// cancel ends the fetch: Err says so, Done is closed, and the connection
// being watched stops blocking.
func (c *fetchCtx) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	if c.conn != nil {
		_ = c.conn.SetDeadline(aLongTimeAgo)
	}
}

// watch makes a cancel interrupt nc until stop. False when the fetch was
// canceled already (nc's deadline is then in the past).
func (c *fetchCtx) watch(nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		_ = nc.SetDeadline(aLongTimeAgo)
		return false
	}
	c.conn = nc
	return true
}

// stop ends the watch; false when a cancel came first (as the stop of
// context.AfterFunc).
func (c *fetchCtx) stop() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	return c.err == nil
}

// connWatch is what ends an exchange on a connection when its context
// ends: the fetchCtx itself, or a context.AfterFunc for any other context.
type connWatch interface{ stop() bool }

// afterFuncWatch is the stop of a context.AfterFunc.
type afterFuncWatch func() bool

func (s afterFuncWatch) stop() bool { return s() }

// watchConn makes the end of ctx interrupt nc, until the watch's stop.
func watchConn(ctx context.Context, nc net.Conn) connWatch {
	if fc, ok := ctx.(*fetchCtx); ok {
		fc.watch(nc)
		return fc
	}
	return afterFuncWatch(context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) }))
}
