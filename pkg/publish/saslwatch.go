package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/segmentio/kafka-go/sasl"
)

// saslWatch wraps the SASL mechanism to know whether an authentication
// exchange is unfinished. Some brokers (kfake among them) answer bad
// credentials by closing the connection, which kafka-go reports as a bare
// "unexpected EOF"; with this we can tell the operator what went wrong.
type saslWatch struct {
	sasl.Mechanism
	user    string
	pending atomic.Int64 // exchanges started and not finished
}

func (w *saslWatch) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	sm, ir, err := w.Mechanism.Start(ctx)
	if err != nil {
		return nil, nil, err
	}
	w.pending.Add(1)
	return &saslSession{StateMachine: sm, w: w}, ir, nil
}

type saslSession struct {
	sasl.StateMachine
	w    *saslWatch
	done bool
}

func (s *saslSession) Next(ctx context.Context, challenge []byte) (bool, []byte, error) {
	done, resp, err := s.StateMachine.Next(ctx, challenge)
	if (done || err != nil) && !s.done {
		s.done = true
		s.w.pending.Add(-1)
	}
	return done, resp, err
}

// explain turns an EOF during an unfinished SASL exchange into an error
// that names the likely cause. It never includes the password.
func (w *saslWatch) explain(err error) error {
	if w == nil || w.pending.Load() <= 0 || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return err
	}
	return fmt.Errorf("SASL %s authentication as %q failed: the broker closed the connection (wrong username or password?): %w",
		w.Name(), w.user, err)
}
