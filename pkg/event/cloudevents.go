package event

import "time"

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// CloudEvents Kafka protocol binding (binary content mode): the event's
// attributes travel as ce_-prefixed headers so that routers and filters need
// not parse the body.
const (
	CESpecVersion = "1.0"
	ContentType   = "application/json"
)

// Source is the CloudEvents source of events from one gateway node.
func Source(nodeID string) string {
	if nodeID == "" {
		return "/gatewatch"
	}
	return "/gatewatch/kong/" + nodeID
}

// CEHeaders returns the CloudEvents Kafka binding headers for e.
func (e *Event) CEHeaders() []Header {
	return []Header{
		{Key: "ce_specversion", Value: []byte(CESpecVersion)},
		{Key: "ce_id", Value: []byte(e.ID)},
		{Key: "ce_type", Value: []byte(e.Type)},
		{Key: "ce_source", Value: []byte(Source(e.Kong.NodeID))},
		{Key: "ce_time", Value: e.Time.UTC().AppendFormat(nil, time.RFC3339Nano)},
		{Key: "content-type", Value: []byte(ContentType)},
	}
}
