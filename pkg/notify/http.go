package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Post sends body to url and classifies the outcome the way every HTTP
// integration needs: 2xx is delivered; 408, 429 and 5xx and transport errors
// are worth retrying; other statuses are not. The error carries at most 256
// bytes of the response body, which receivers use to explain a rejection;
// redact names strings (secret URLs) to hide from it.
func Post(ctx context.Context, c *http.Client, url string, header http.Header, body []byte, redact ...string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %s", hide(err.Error(), redact))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return true, fmt.Errorf("post: %s", hide(err.Error(), redact))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	retry = resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500
	return retry, fmt.Errorf("status %d: %s", resp.StatusCode, hide(string(bytes.TrimSpace(msg)), redact))
}

func hide(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
