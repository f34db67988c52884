package syslog

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

// siocoutq is Linux's SIOCOUTQ (= TIOCOUTQ): for a TCP socket, the bytes in
// the send queue not yet acknowledged by the peer.
const siocoutq = 0x5411

func outq(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("outq: %w", err)
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutq, uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		return 0, fmt.Errorf("outq: %w", err)
	}
	if errno != 0 {
		return 0, fmt.Errorf("outq: ioctl SIOCOUTQ: %w", errno)
	}
	return int(n), nil
}
