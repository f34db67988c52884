// Package kafkatopic writes alert transitions to a Kafka topic
// (gatewatch.alerts by default), keyed by the alert's stable ID so that one
// alert's firing and resolution stay in order in one partition. A
// delivery counts only when the broker acknowledged it (the client's acks
// setting; gwctl alert uses acks=all), which makes this receiver the
// durable record of every alert.
package kafkatopic

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the alerts topic.
const DefaultTopic = "gatewatch.alerts"

// Producer is the part of *kgo.Client the notifier uses.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Notifier produces to one topic.
type Notifier struct {
	topic string
	p     Producer
}

// New validates cfg.
func New(cfg Config, p Producer) *Notifier {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	return &Notifier{topic: cfg.Topic, p: p}
}

// Record is the JSON value of one alerts-topic record.
type Record struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Rule     string     `json:"rule"`
	Severity string     `json:"severity"`
	GroupKey string     `json:"group_key"`
	Value    float64    `json:"value"`
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	Evicted  bool       `json:"evicted,omitempty"`
	// SourcePartition is the events-topic partition the alert's key is
	// read from, for alerts grouped by client IP; a restarted gwctl alert
	// restores the alerts of the partitions it is assigned.
	SourcePartition *int32            `json:"source_partition,omitempty"`
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
}

// Encode builds the record for a.
func Encode(topic string, a alert.Alert) (*kgo.Record, error) {
	r := Record{
		ID: a.ID, Status: string(a.Status), Rule: a.Labels["alertname"], Severity: a.Labels["severity"],
		GroupKey: a.GroupKey, Value: a.Value, StartsAt: a.StartsAt.UTC(), Evicted: a.Evicted,
		Labels: a.Labels, Annotations: a.Annotations,
	}
	if a.Status == alert.Resolved {
		t := a.EndsAt.UTC()
		r.EndsAt = &t
	}
	if a.Source >= 0 && a.Rule != nil && a.Rule.KeyedByClientIP() {
		p := a.Source
		r.SourcePartition = &p
	}
	v, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic: topic, Key: []byte(a.ID), Value: v,
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/json")}, {Key: "gatewatch_status", Value: []byte(a.Status)}},
	}, nil
}

// Notify produces alerts and waits for the broker's acknowledgement.
func (n *Notifier) Notify(ctx context.Context, alerts ...alert.Alert) (bool, error) {
	rs := make([]*kgo.Record, 0, len(alerts))
	for _, a := range alerts {
		r, err := Encode(n.topic, a)
		if err != nil {
			return false, fmt.Errorf("kafka %s: encode %s: %w", n.topic, a.ID, err)
		}
		rs = append(rs, r)
	}
	if err := n.p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return true, fmt.Errorf("kafka %s: produce: %w", n.topic, err)
	}
	return false, nil
}
