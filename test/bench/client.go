package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Host is the Host header of every request the benchmark sends, so every
// proxy keys its objects the same way and purge URLs are
// https://www.example.com/<path>.
const Host = "www.example.com"

// quickClient is for readiness polls and control calls.
var quickClient = &http.Client{Timeout: 5 * time.Second, Transport: newTransport(4)}

// newTransport returns a keep-alive transport for conns connections per host.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// newGet builds a GET for url with Host as its Host header (host "" means Host).
func newGet(ctx context.Context, url, host string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = Host
	}
	req.Host = host
	return req, nil
}

// get fetches url (Host header Host), discards the body and returns the
// response headers; a status other than 200 is an error.
func get(ctx context.Context, c *http.Client, url string) (http.Header, error) {
	req, err := newGet(ctx, url, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Header, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Header, nil
}

// Fill requests path(i) for i in [from, to) from base ("http://host:port")
// with workers concurrent keep-alive connections: how the benchmark stores
// objects in a proxy (through its miss path, as clients would). It speaks
// HTTP/1.1 itself (rawConn): net/http's client costs more CPU per request
// than the proxies' misses do, and on two cores that slows every fill.
func Fill(ctx context.Context, base string, from, to, workers int, path func(i int) string) error {
	addr := strings.TrimPrefix(base, "http://")
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for range workers {
		wg.Go(func() {
			var c *rawConn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				var err error
				// A keep-alive connection the server closed meanwhile is
				// retried once on a new one.
				for attempt := 0; attempt < 2; attempt++ {
					if c == nil {
						if c, err = dialRaw(ctx, addr); err != nil {
							break
						}
					}
					if err = c.get(Host, path(i)); err == nil {
						break
					}
					c.Close()
					c = nil
				}
				if err != nil {
					fail(fmt.Errorf("GET %s%s: %w", base, path(i), err))
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// rawConn is a minimal HTTP/1.1 client connection for fills: GET, expect
// 200 with a Content-Length, discard the body, keep the connection.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func dialRaw(ctx context.Context, addr string) (*rawConn, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), w: bufio.NewWriterSize(conn, 1<<10)}, nil
}

// Close closes the connection.
func (c *rawConn) Close() { _ = c.conn.Close() }

// get sends one GET and reads the whole answer.
func (c *rawConn) get(host, path string) error {
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	// bufio.Writer keeps the first error and returns it from Flush.
	_, _ = c.w.WriteString("GET ")
	_, _ = c.w.WriteString(path)
	_, _ = c.w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = c.w.WriteString(host)
	_, _ = c.w.WriteString("\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(status) < 12 || string(status[:9]) != "HTTP/1.1 " || string(status[9:12]) != "200" {
		return fmt.Errorf("status line %q", bytes.TrimSpace(status))
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return fmt.Errorf("unexpected Transfer-Encoding %q", value)
		}
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	_, err = c.r.Discard(length)
	return err
}

// hammer sends GETs for url from conns goroutines until ctx ends and
// counts the answers: how the origin protection test loads a hot object.
type hammer struct {
	ok, errs atomic.Int64
	done     chan struct{}
}

func startHammer(ctx context.Context, url string, conns int) *hammer {
	h := &hammer{done: make(chan struct{})}
	tr := newTransport(conns)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := get(ctx, c, url); err != nil {
					if !errors.Is(err, context.Canceled) && ctx.Err() == nil {
						h.errs.Add(1)
					}
					continue
				}
				h.ok.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		close(h.done)
	}()
	return h
}
