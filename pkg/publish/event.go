package publish

import (
	"time"

	gwevent "github.com/gatewatch/gatewatch/pkg/event"
)

// EventMessage wraps one encoded gatewatch event for Kafka: keyed by key,
// carrying the event's CloudEvents headers and id. contentType names the
// encoding of value when it is not the native JSON ("" keeps
// application/json).
func EventMessage(ev *gwevent.Event, topic string, key, value []byte, contentType string, at time.Time) Message {
	hs := ev.CEHeaders()
	headers := make([]Header, len(hs))
	for i, h := range hs {
		headers[i] = Header{Key: h.Key, Value: h.Value}
		if h.Key == "content-type" && contentType != "" {
			headers[i].Value = []byte(contentType)
		}
	}
	return Message{Topic: topic, Key: key, Value: value, Headers: headers, ID: ev.ID, Time: at}
}
