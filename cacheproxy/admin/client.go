package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls the admin API of cacheproxy pods. The zero value is not
// usable: Token is required. A Client is safe for concurrent use.
type Client struct {
	// HTTPClient sends the requests. Nil means http.DefaultClient. Callers
	// bound each call with the context they pass, not the client's Timeout.
	HTTPClient *http.Client
	// Token is sent as "Authorization: Bearer <Token>".
	Token string
}

// StatusError is a non-200 answer from a pod: the call reached the proxy and
// it refused. Retrying does not help for 400, 401, 409 and 413.
type StatusError struct {
	// StatusCode is the HTTP status the pod answered.
	StatusCode int
	// Message is the pod's ErrorResponse.Error, or the start of the body.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("admin API answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Invalidate posts req to the admin API at base ("http://10.0.0.7:9090")
// and returns the pod's result. A refusal is a *StatusError; any other error
// means the call may not have reached the pod.
func (c *Client) Invalidate(ctx context.Context, base string, req InvalidationRequest) (InvalidationResult, error) {
	var res InvalidationResult
	body, err := json.Marshal(req)
	if err != nil {
		return res, fmt.Errorf("encoding invalidation %s: %w", req.ID, err)
	}
	err = c.do(ctx, http.MethodPost, strings.TrimRight(base, "/")+InvalidationsPath, body, &res)
	return res, err
}

// Stats fetches the pod's cache statistics.
func (c *Client) Stats(ctx context.Context, base string) (Stats, error) {
	var s Stats
	err := c.do(ctx, http.MethodGet, strings.TrimRight(base, "/")+StatsPath, nil, &s)
	return s, err
}

func (c *Client) do(ctx context.Context, method, url string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("building request %s %s: %w", method, url, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	if err != nil {
		return fmt.Errorf("reading answer of %s %s: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return &StatusError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding answer of %s %s: %w", method, url, err)
	}
	return nil
}
