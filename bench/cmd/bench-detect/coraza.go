package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
)

// corazaEngine runs the OWASP CRS in Coraza with the recommended Coraza
// configuration and the CRS example setup, blocking at the default inbound
// anomaly threshold (5). The only tuning is the one every API deployment
// needs: PUT, PATCH and DELETE are allowed methods, and a request with a body
// carries the Content-Length a real client would send. A request counts as detected when the transaction
// is interrupted, which is what a CRS deployment would do with it.
type corazaEngine struct {
	waf coraza.WAF
}

func newCoraza(paranoia int) (*corazaEngine, error) {
	cfg := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(fmt.Sprintf(`
Include @coraza.conf-recommended
SecRuleEngine On
SecResponseBodyAccess Off
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"
SecAction "id:900001,phase:1,pass,t:none,nolog,setvar:tx.detection_paranoia_level=%d"
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
Include @owasp_crs/*.conf
`, paranoia, paranoia))
	waf, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("coraza PL%d: %w", paranoia, err)
	}
	return &corazaEngine{waf: waf}, nil
}

// detect runs one record through request phases 1 and 2.
func (c *corazaEngine) detect(r *record) bool {
	tx := c.waf.NewTransaction()
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	tx.ProcessConnection("203.0.113.7", 40000, "10.0.0.1", 8000)
	uri := r.URI
	if _, err := url.ParseRequestURI(uri); err != nil && !strings.HasPrefix(uri, "/") {
		uri = "/" + uri
	}
	tx.ProcessURI(uri, r.Method, "HTTP/1.1")
	hasLength := false
	for k, v := range r.Headers {
		tx.AddRequestHeader(k, v)
		hasLength = hasLength || strings.EqualFold(k, "content-length")
	}
	if r.Body != "" && !hasLength {
		tx.AddRequestHeader("Content-Length", strconv.Itoa(len(r.Body)))
	}
	if h := r.Headers["Host"]; h != "" {
		tx.SetServerName(h)
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return true
	}
	if r.Body != "" {
		if it, _, err := tx.WriteRequestBody([]byte(r.Body)); err == nil && it != nil {
			return true
		}
	}
	it, err := tx.ProcessRequestBody()
	return err == nil && it != nil
}
