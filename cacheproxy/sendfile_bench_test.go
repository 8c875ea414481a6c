package cacheproxy

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLargeBody measures what the design of large-object hits turns
// on: writing a response body to a loopback TCP connection from the Go heap
// (writev, which copies it into the socket, what the fast path does) or
// from a memfd outside the heap with sendfile(2) and an explicit offset
// (which hands the kernel page references, what nginx does from tmpfs).
// cpu-ns/op is the process's user+system CPU per response, the client
// reading it included (the same work in both).
func BenchmarkLargeBody(b *testing.B) {
	for _, size := range []int{100 << 10, 1 << 20} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i)
		}
		head := []byte("HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(size) + "\r\n\r\n")
		fd, err := unix.MemfdCreate("body", unix.MFD_CLOEXEC)
		if err != nil {
			b.Skipf("memfd_create: %v", err)
		}
		if _, err := unix.Write(fd, body); err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"writev-heap", "sendfile-memfd"} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) {
				server, client := tcpPair(b)
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = io.Copy(io.Discard, client)
				}()
				raw, err := server.SyscallConn()
				if err != nil {
					b.Fatal(err)
				}
				var iov [2][]byte
				b.SetBytes(int64(size))
				cpu0 := processCPU()
				b.ResetTimer()
				for b.Loop() {
					if mode == "writev-heap" {
						bufs := net.Buffers(append(iov[:0], head, body))
						if _, err := bufs.WriteTo(server); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if _, err := server.Write(head); err != nil {
						b.Fatal(err)
					}
					var off int64
					var serr error
					werr := raw.Write(func(sock uintptr) bool {
						for off < int64(size) {
							_, serr = unix.Sendfile(int(sock), fd, &off, size-int(off))
							if serr == unix.EAGAIN {
								return false // wait until writable
							}
							if serr != nil {
								return true
							}
						}
						return true
					})
					if werr != nil || serr != nil {
						b.Fatal(werr, serr)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
				server.Close()
				<-done
			})
		}
		unix.Close(fd)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(b *testing.B) (*net.TCPConn, *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// processCPU is the process's user+system CPU time so far, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
