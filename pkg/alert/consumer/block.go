package consumer

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/gatewatch/gatewatch/pkg/alert"
	"github.com/gatewatch/gatewatch/pkg/blocklist/record"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BlockRecord is the blocklist record a firing alert with a block action
// writes, or false when its group key is not a valid subject.
func BlockRecord(a alert.Alert, now time.Time) (record.Record, bool) {
	b := a.Rule.Actions.Block
	if b == nil || a.Status != alert.Firing {
		return record.Record{}, false
	}
	var subject string
	switch a.Rule.BlockSubjectKind() {
	case record.KindIP:
		addr, err := netip.ParseAddr(a.GroupKey)
		if err != nil {
			return record.Record{}, false
		}
		subject = record.IP(addr)
	case record.KindConsumer:
		subject = record.Consumer(a.GroupKey)
	case record.KindAPIKeyFP:
		subject = record.APIKeyFingerprint(a.GroupKey)
	default:
		return record.Record{}, false
	}
	if _, _, err := record.ParseSubject(subject); err != nil {
		return record.Record{}, false
	}
	return record.Record{
		Subject: subject, Until: now.Add(b.TTL).UTC(), Reason: a.Labels["alertname"] + ": " + a.Annotations["summary"],
		Source: record.SourceAlert, CreatedBy: "gwctl alert", AlertID: a.ID, CreatedAt: now.UTC(),
	}, true
}

// block writes the blocklist records of firing alerts and waits for the
// broker's acknowledgement. The TTL runs from the wall clock: a block is
// enforced in real time, whatever the event time.
func (c *Consumer) block(ctx context.Context, alerts []alert.Alert) error {
	var rs []*kgo.Record
	now := c.cfg.Now()
	for _, a := range alerts {
		rec, ok := BlockRecord(a, now)
		if !ok {
			continue
		}
		k, v, err := record.Encode(rec)
		if err != nil {
			c.cfg.Log.Warn("cannot block", "alert", a.ID, "err", err)
			continue
		}
		rs = append(rs, &kgo.Record{Topic: c.cfg.BlocklistTopic, Key: k, Value: v})
	}
	if len(rs) == 0 {
		return nil
	}
	if err := c.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("alert consumer: write blocklist: %w", err)
	}
	c.C.Blocks.Add(uint64(len(rs)))
	return nil
}
