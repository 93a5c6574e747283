/*
Copyright 2026 The azure-authenticator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package authn

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitConnections caps the connections open at once at max: a connection
// accepted beyond it is closed at once (and counted), so idle or slow
// clients cannot exhaust file descriptors and memory. Unlike
// x/net/netutil's LimitListener it never stops accepting: a blocked
// accept loop would leave new connections in the kernel backlog, where
// honest clients wait as long as the attacker likes.
func limitConnections(ln net.Listener, max int) net.Listener {
	return &connLimiter{Listener: ln, max: int64(max)}
}

type connLimiter struct {
	net.Listener
	max  int64
	open atomic.Int64
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			connectionsRejected.Inc()
			_ = c.Close()
			continue
		}
		openConnections.Inc()
		return &limitedConn{Conn: c, release: l.release}, nil
	}
}

func (l *connLimiter) release() {
	l.open.Add(-1)
	openConnections.Dec()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
