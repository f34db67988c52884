package alert

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/gatewatch/gatewatch/pkg/event"
)

// TemplateData is what summary and description templates see:
//
//	{{ .Rule }} {{ .Key }} {{ .Value }} {{ .Threshold }} {{ .Window }}
//	{{ .Labels.client_ip }} {{ .Field "request.path" }}
//
// Field reads a dotted event path from the event that made the alert fire
// (empty when it fired on a timer, after `for`).
type TemplateData struct {
	Rule      string
	Key       string
	Value     float64
	Threshold float64
	Window    time.Duration
	Labels    map[string]string
	event     *event.Event
}

// Field returns the dotted path's value in the triggering event.
func (d TemplateData) Field(path string) string {
	if d.event == nil {
		return ""
	}
	v, _ := Field(d.event, path)
	return v
}

// funcs are the helpers templates may call besides text/template's own.
var funcs = template.FuncMap{
	// percent formats a ratio threshold's value: 0.234 → "23%".
	"percent": func(v float64) string { return strconv.FormatFloat(v*100, 'f', 0, 64) + "%" },
}

func parseTemplate(s string) (*template.Template, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	// A trial run with empty data catches references to fields that do not
	// exist, at load time rather than when the alert fires.
	if err := t.Execute(io.Discard, TemplateData{}); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return t, nil
}

// render executes t; a failure (a bad field reference at run time) yields
// the raw text and the reason rather than no annotation at all.
func render(t *template.Template, raw string, d TemplateData) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return raw + " (template error: " + err.Error() + ")"
	}
	return b.String()
}
