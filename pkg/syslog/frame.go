package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// AppendFrame appends msg with RFC 6587 octet-counting framing: the
// message's length in decimal, a space, the message. Unlike newline
// framing, it carries any byte, so no message content can split a frame.
func AppendFrame(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

// ErrFrame is returned by ReadFrame for input that is not octet-counted.
var ErrFrame = errors.New("syslog: malformed octet-counted frame")

// ReadFrame reads one octet-counted frame and returns its message. A length
// above max is an error rather than an allocation; io.EOF is returned only
// at a frame boundary.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	n := 0
	digits := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && digits > 0 {
				return nil, fmt.Errorf("%w: EOF inside the length", ErrFrame)
			}
			return nil, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || (digits == 0 && c == '0') || digits >= 9 {
			return nil, fmt.Errorf("%w: byte %q in the length", ErrFrame, c)
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if n > max {
		return nil, fmt.Errorf("%w: length %d above %d", ErrFrame, n, max)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("%w: %d-byte message cut short: %v", ErrFrame, n, err)
	}
	return msg, nil
}
