package cacheproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLargeBody measures what the design of large-object hits turns
// on: writing a response body to a loopback TCP connection from the Go heap
// (writev, which copies it into the socket, what the fast path does), from
// a memfd outside the heap with sendfile(2) and an explicit offset (which
// hands the kernel page references, what nginx does from tmpfs), or from
// an anonymous mapping outside the heap with vmsplice(2) into a pipe and
// splice(2) to the socket (page references without the page cache).
// cpu-ns/op is the process's user+system CPU per response, the client
// reading it included (the same work in all); writer-cpu-ns/op is the
// writing thread's alone (CLOCK_THREAD_CPUTIME_ID, the benchmark locked
// to its thread), the figure a server pays: the loopback receive
// processing the sender's system calls run is in it, the client's copy
// out of the socket is not.
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
		mapped, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			b.Fatal(err)
		}
		copy(mapped, body)
		for _, mode := range []string{"writev-heap", "sendfile-memfd", "vmsplice-mmap"} {
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
				var pipe [2]int
				if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
					b.Fatal(err)
				}
				defer unix.Close(pipe[0])
				defer unix.Close(pipe[1])
				if _, err := unix.FcntlInt(uintptr(pipe[1]), unix.F_SETPIPE_SZ, 1<<20); err != nil {
					b.Skipf("F_SETPIPE_SZ: %v", err)
				}
				var iov [2][]byte
				b.SetBytes(int64(size))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, thread0 := processCPU(), threadCPU()
				b.ResetTimer()
				for b.Loop() {
					switch mode {
					case "writev-heap":
						bufs := net.Buffers(append(iov[:0], head, body))
						if _, err := bufs.WriteTo(server); err != nil {
							b.Fatal(err)
						}
						continue
					case "vmsplice-mmap":
						if err := vmspliceTo(raw, pipe, head, mapped); err != nil {
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
				b.ReportMetric(float64(threadCPU()-thread0)/float64(b.N), "writer-cpu-ns/op")
				server.Close()
				<-done
			})
		}
		unix.Close(fd)
		_ = unix.Munmap(mapped)
	}
}

// vmspliceTo sends head (copied into the pipe) and body (its pages
// referenced) through pipe to the socket, up to 512 KiB of body at a
// time, half the pipe.
func vmspliceTo(raw syscall.RawConn, pipe [2]int, head, body []byte) error {
	inPipe := 0
	for len(head) > 0 {
		n, err := unix.Write(pipe[1], head)
		if err != nil && err != unix.EINTR {
			return err
		}
		head, inPipe = head[max(n, 0):], inPipe+max(n, 0)
	}
	for len(body) > 0 || inPipe > 0 {
		chunk := body[:min(len(body), 512<<10)]
		body = body[len(chunk):]
		for len(chunk) > 0 {
			iov := []unix.Iovec{{Base: &chunk[0]}}
			iov[0].SetLen(len(chunk))
			n, err := unix.Vmsplice(pipe[1], iov, unix.SPLICE_F_NONBLOCK)
			if err != nil && err != unix.EINTR {
				return err
			}
			chunk, inPipe = chunk[max(n, 0):], inPipe+max(n, 0)
		}
		var serr error
		werr := raw.Write(func(sock uintptr) bool {
			for inPipe > 0 {
				n, err := unix.Splice(pipe[0], nil, int(sock), nil, inPipe, unix.SPLICE_F_NONBLOCK)
				switch {
				case err == unix.EAGAIN:
					return false
				case err == unix.EINTR:
				case err != nil:
					serr = err
					return true
				case n == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
				inPipe -= int(max(n, 0))
			}
			return true
		})
		if err := errors.Join(werr, serr); err != nil {
			return err
		}
	}
	return nil
}

// threadCPU is the calling thread's CPU time so far, in nanoseconds.
func threadCPU() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
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
