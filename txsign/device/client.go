package device

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nonrep/nonrep/jose"
	"github.com/nonrep/nonrep/txsign"
)

// Client talks to a transaction-signing service as a device's app does.
// Safe for concurrent use.
type Client struct {
	// BaseURL is the service's URL (no trailing slash needed).
	BaseURL string
	// UserToken authenticates the user for enrolment, the inbox and the
	// PIN ("Authorization: Bearer").
	UserToken string
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Error is a service failure: its stable code, and the problem's detail.
func serviceError(resp *http.Response, body []byte) error {
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
		Error  string `json:"error"`
		Desc   string `json:"error_description"`
	}
	json.Unmarshal(body, &p)
	code, detail := p.Code, p.Detail
	if code == "" {
		code, detail = p.Error, p.Desc
	}
	if code == "" {
		return &jose.Error{Code: "http_error", Detail: fmt.Sprintf("the service answered %s", resp.Status)}
	}
	return &jose.Error{Code: jose.Code(code), Detail: detail}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in any, user bool, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user {
		req.Header.Set("Authorization", "Bearer "+c.UserToken)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return serviceError(resp, b)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding the answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Keys fetches the service's JWKS (/.well-known/jwks.json).
func (c *Client) Keys(ctx context.Context) (*jose.KeySet, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, serviceError(resp, b)
	}
	set, err := jose.ParseJWKS(b)
	return set, b, err
}

// Enrolment options.
type EnrolOptions struct {
	Platform    string
	Metadata    map[string]string
	PushURL     string
	Attestation []byte
}

// Enrol gets a challenge, signs it and enrols d.
func (c *Client) Enrol(ctx context.Context, d *Device, o EnrolOptions) (*txsign.DeviceJSON, error) {
	var ch struct {
		Challenge string `json:"challenge"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/devices/challenge", nil, true, &ch); err != nil {
		return nil, err
	}
	proof, err := d.EnrolProof(ch.Challenge, time.Now())
	if err != nil {
		return nil, err
	}
	pub, err := d.Public().MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out txsign.DeviceJSON
	err = c.do(ctx, http.MethodPost, "/v1/devices", &txsign.EnrolBody{
		DeviceID: d.ID, Platform: o.Platform, Metadata: o.Metadata, PushURL: o.PushURL,
		JWK: pub, Attestation: o.Attestation, Challenge: ch.Challenge, Proof: proof,
	}, true, &out)
	return &out, err
}

// Inbox returns the signed requests waiting for device id (unverified:
// pass each to Device.Verify).
func (c *Client) Inbox(ctx context.Context, id string) ([][]byte, error) {
	var out struct {
		Requests []string `json:"requests"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/devices/"+url.PathEscape(id)+"/inbox", nil, true, &out); err != nil {
		return nil, err
	}
	items := make([][]byte, len(out.Requests))
	for i, r := range out.Requests {
		items[i] = []byte(r)
	}
	return items, nil
}

// Submit sends a signed decision, with the PIN when the request demands
// one.
func (c *Client) Submit(ctx context.Context, decision, pin string) (*txsign.DecisionResponse, error) {
	var out txsign.DecisionResponse
	err := c.do(ctx, http.MethodPost, "/v1/decisions", &txsign.DecisionBody{Decision: decision, PIN: pin}, false, &out)
	return &out, err
}

// Rotate replaces d's key with next's; on success next is the device.
func (c *Client) Rotate(ctx context.Context, d, next *Device) (*txsign.DeviceJSON, error) {
	oldP, newP, err := d.RotationProofs(next, time.Now())
	if err != nil {
		return nil, err
	}
	pub, err := next.Public().MarshalJSON()
	if err != nil {
		return nil, err
	}
	var out txsign.DeviceJSON
	err = c.do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(d.ID)+"/rotate",
		&txsign.RotateBody{JWK: pub, OldKeyProof: oldP, NewKeyProof: newP}, false, &out)
	return &out, err
}

// SetPIN sets the user's transaction PIN.
func (c *Client) SetPIN(ctx context.Context, pin string) error {
	return c.do(ctx, http.MethodPut, "/v1/pin", map[string]string{"pin": pin}, true, nil)
}

// Revoke revokes one of the user's devices.
func (c *Client) Revoke(ctx context.Context, id, reason string) (*txsign.DeviceJSON, error) {
	var out txsign.DeviceJSON
	err := c.do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(id)+"/revoke", map[string]string{"reason": reason}, true, &out)
	return &out, err
}
