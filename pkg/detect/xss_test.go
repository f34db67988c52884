package detect

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestXSSTechniques holds one case per XSS context and obfuscation the XSS
// rules are meant to catch.
func TestXSSTechniques(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name string
		req  *Request
	}{
		// Elements.
		{"script element", get("q=%3Cscript%3Ealert(1)%3C/script%3E")},
		{"image with an error handler", get("q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")},
		{"SVG onload", jsonPost(`{"name":"<svg/onload=alert(1)>"}`)},
		{"SVG animation", jsonPost(`{"c":"<svg><animate onbegin=alert(1) attributeName=x dur=1s>"}`)},
		{"MathML", jsonPost(`{"c":"<math><maction actiontype=statusline xlink:href=javascript:alert(1)>CLICK</maction></math>"}`)},
		{"iframe srcdoc", jsonPost(`{"c":"<iframe srcdoc=\"&lt;img src=x onerror=alert(1)&gt;\"></iframe>"}`)},
		{"namespaced element", withHeader("Cookie", "test=%3C%3Avmlframe%20src%3D")},
		// Attributes.
		{"attribute breakout with a handler", get("q=%22%20onmouseover%3Dalert(1)%20x%3D%22")},
		{"handler with its value cut off", get("body=%3Cx%20onend%3D")},
		{"long handler name", get("body=%3C%22onwebkitplaybacktargetavailabilitychanged%3D")},
		{"handler in a parameter name", get("%20%20onload%3d%20=vardata")},
		{"form action hijack", get("body=%27formaction%3D")},
		// URLs.
		{"javascript URL", jsonPost(`{"link":"javascript:alert(document.cookie)"}`)},
		{"javascript URL split by an entity tab", sqliForm("u=ja%26tab%3Bvascript%3Aalert(1)")},
		{"vbscript split by entity line breaks", sqliForm("var=v%26newline;b%26tab;s%26newline;c%26newline;r%26tab;i%26tab;p%26newline;t%26colon;:")},
		{"javascript URL split by a raw newline", jsonPost(`{"u":"java\nscript:alert(1)"}`)},
		{"javascript URL in numeric entities", jsonPost(`{"u":"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)"}`)},
		{"CSS url() with javascript", get("test=x%3Dx%3Aurl%28javascript")},
		{"data URI with markup", get("test=%20data%3A%20%2C%20%3Cx%3E")},
		// Script bodies.
		{"AngularJS sandbox escape", jsonPost(`{"q":"{{constructor.constructor('alert(1)')()}}"}`)},
		{"tagged template call", get("xss=%5B%5D.sort.call%60%24%7Balert%7D1337%60")},
		{"JSFuck", sqliForm("a=%28%21%5B%5D%2B%5B%5D%29%5B%2B%21%2B%5B%5D%5D")},
		{"global through brackets", sqliForm("a=self%5B%22%5Cx24%22%5D")},
		{"timer after a quote breakout", get("arg=x%22%3BsetTimeout%28name%2C%201%29%2F%2F")},
		{"DOM building", sqliForm("foo=document.body.appendChild(document.createElement(%22h1%22)).textContent+%3D+%22XSS%22")},
		// Encodings.
		{"7-bit US-ASCII brackets", sqliForm("var=%BCscript%BEalert(1)%BC/script%BE")},
		{"escaped 7-bit brackets", sqliForm("var=%5Cxbcscript%5Cxbealert(%5Cxa2XSS%5Cxa2)%5Cxbc/script%5Cxbe")},
		{"UTF-7", get("q=%2BADw-script%2BAD4-alert(1)%2BADw-/script%2BAD4-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.True(t, foundClass(fs, ClassXSS), "no xss finding: %v", fs)
		})
	}
}

// TestXSSLookAlikesDoNotFire holds benign values with markup, script-like
// words or the bytes the XSS checks look at.
func TestXSSLookAlikesDoNotFire(t *testing.T) {
	p := defaultProfile(t, Policy{})
	tests := []struct {
		name string
		req  *Request
	}{
		{"rich text from a CMS", jsonPost(`{"html":"<p>Great <b>product</b>, <em>highly</em> recommended</p><ul><li>fast</li></ul><a href=\"https://example.com/docs\">docs</a>"}`)},
		{"hearts and comparisons", get("q=I%20%3C3%20this%2C%20if%20x%20%3C%205%20and%20y%20%3E%203")},
		{"a markdown image", jsonPost(`{"body":"screenshot: ![](https://img.example/a.png) and ![alt](b.png)"}`)},
		{"UTF-8 text with the byte BC", get("q=M%C3%BCsli%20%C3%BCber%20alles")},
		{"a comment about timers", jsonPost(`{"comment":"the page calls setTimeout later and the window location changes"}`)},
		{"words starting with on", get("q=onions%20on%20sale%20online")},
		{"a data label", get("q=data%3A%20revenue%2C%20costs")},
		{"a tab-separated line", jsonPost(`{"tsv":"name\tscript\turl:\thttps://example.com"}`)},
		{"template placeholders", jsonPost(`{"t":"Hi {{ user.name }}, your total is ${total}"}`)},
		{"a mention and brackets", get("q=array%5B0%5D%20%2B%20list%5B%5D")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := p.Inspect(tt.req, nil)
			assert.False(t, foundClass(fs, ClassXSS), "xss finding: %v", fs)
		})
	}
}
