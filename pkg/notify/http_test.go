package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

func TestPostClassifiesStatuses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantErr   bool
		wantRetry bool
	}{
		{"a 200 is delivered", 200, false, false},
		{"a 202 is delivered", 202, false, false},
		{"a 400 is not worth retrying", 400, true, false},
		{"a 429 is retried", 429, true, true},
		{"a 503 is retried", 503, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "echo secret-token")
			}))
			defer srv.Close()
			retry, err := Post(context.Background(), srv.Client(), srv.URL, nil, []byte(`{}`), "secret-token")
			assert.Equal(t, tt.wantErr, err != nil)
			assert.Equal(t, tt.wantRetry, retry)
			if err != nil {
				assert.NotContains(t, err.Error(), "secret-token", "a secret echoed by the receiver is redacted")
			}
		})
	}
}

func TestPostRetriesWhenTheReceiverIsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	retry, err := Post(context.Background(), http.DefaultClient, url, nil, []byte(`{}`))
	assert.Error(t, err)
	assert.True(t, retry)
}
