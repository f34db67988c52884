package pluginserver

import (
	"net"
	"time"
)

// fakeAddrConn supplies the parts of net.Conn that in-memory test
// connections do not use.
type fakeAddrConn struct{}

func (fakeAddrConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "test", Net: "unix"} }
func (fakeAddrConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "kong", Net: "unix"} }
func (fakeAddrConn) SetDeadline(time.Time) error      { return nil }
func (fakeAddrConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeAddrConn) SetWriteDeadline(time.Time) error { return nil }
