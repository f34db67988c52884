package jsonw

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gatewatch/gatewatch/pkg/event"
)

func TestNestedObjectsAndArraysGetTheirCommas(t *testing.T) {
	w := New([]byte("prefix "))
	w.Open("")
	w.Str("a", "x\"y")
	w.Str("empty", "")
	w.Int("n", -3)
	w.Float("f", 1.5)
	w.Float("nan", math.NaN())
	w.Bool("b", true)
	w.Open("o")
	w.Open("inner")
	w.Close()
	w.Strs("s", "1", "2")
	w.Strs("none")
	w.Close()
	w.OpenArray("arr")
	w.Open("")
	w.Int("i", 1)
	w.Close()
	w.Open("")
	w.Close()
	w.CloseArray()
	w.Time("t", time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC))
	w.Join("j", "Title", ": ", "a\nb")
	w.Join("k", "only", ": ", "")
	w.Close()
	require.Equal(t, "prefix ", string(w.B[:7]))
	doc := w.B[7:]
	require.True(t, json.Valid(doc), "%s", doc)
	assert.JSONEq(t, `{"a":"x\"y","n":-3,"f":1.5,"nan":null,"b":true,"o":{"inner":{},"s":["1","2"]},
		"arr":[{"i":1},{}],"t":"2026-01-02T03:04:05.0000006Z","j":"Title: a\nb","k":"only"}`, string(doc))
}

func TestDetailIsTheNativeDetailObject(t *testing.T) {
	d := event.Detail{Reason: "x\"],\"detail\":{}", Findings: []event.Finding{{RuleID: "r", Class: "c", Severity: event.High, Location: "q"}}}
	w := New(nil)
	w.Open("")
	w.Detail("detail", &d)
	w.Close()
	var got struct{ Detail event.Detail }
	require.NoError(t, json.Unmarshal(w.B, &got), "%s", w.B)
	assert.Equal(t, d, got.Detail)
}
