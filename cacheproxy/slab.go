package cacheproxy

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Slabs: memory outside the Go heap for the part of a stored object that
// is most of its bytes and holds no pointers: its rendered head, (up to
// maxPackedBody) its body, its upstream Cache-Status and its tags
// (objectdata.go).
//
// Why: memory on the Go heap costs twice its size in RSS, since the
// collector lets the heap grow to twice what it found live before it runs
// again (GOGC=100), and every collection has to mark it. A block in a slab
// costs its size class and nothing more, and the collector never sees it.
//
// Lifetime: a block belongs to one object and is freed by a cleanup
// (runtime.AddCleanup) once the collector finds that object unreachable.
// So a block is never reused while any goroutine can still reach its
// object, which is what every reader of the data needs: a hit that writes
// a body holds the object (a local variable, kept alive past the write
// with runtime.KeepAlive) until the write returned. The rule for readers:
// a slice or string made from an object's data must not outlive the last
// use of the object: what is made from data (the head, the body, the
// validators, the upstream Cache-Status, the tags) is copied by whoever
// keeps it longer (the key index, the tag index, a revalidation request,
// the fields the full handler decodes). The key is on the Go heap
// (objectdata.go).
//
// Size classes: multiples of 16 bytes up to 1 KiB, then sixteen classes
// per power of two (at most 1/16 wasted) up to maxSlabBlock. Each class
// carves blocks out of chunks mapped when it needs one, and keeps freed
// blocks on a free list for the next object of its size. Freed blocks are
// not given back to the system, as with malloc: a cache that evicts
// refills them.
//
// Chunks: a class's first hugeAfter bytes come in 1 MiB chunks of 4 KiB
// pages, each page made resident by the first write to it; after that its
// chunks are transparent huge pages (2 MiB, aligned, MADV_HUGEPAGE), made
// resident whole by the first write. Why: a store that grows pays a page
// fault per 4 KiB it fills, and on a virtual machine a fault costs several
// microseconds (9–13 µs here: 3.5–4 % of a 1 KiB miss's CPU,
// docs/benchmarks.md); one fault per 2 MiB costs about 0.2 µs per 4 KiB,
// and a miss 7–8 % less. Only large classes get them, so that a small
// cache spread over many classes keeps its residency to what it holds: a
// class past hugeAfter has at most one huge page not yet full, at most a
// quarter of what it holds. Where the kernel has no transparent huge pages
// (or only "never"), the advice is refused or ignored and the chunk's
// 4 KiB pages fault one by one as before.

const (
	// maxSlabBlock is the largest block a slab hands out; larger data
	// (a head of many fields beside a body near maxPackedBody) stays on
	// the Go heap.
	maxSlabBlock = 32 << 10
	slabChunk    = 1 << 20
	// hugePage is the size and alignment of a transparent huge page on
	// amd64 and arm64 (4 KiB base pages).
	hugePage = 2 << 20
	// hugeAfter is how much a class maps in 1 MiB chunks before its
	// chunks are huge pages.
	hugeAfter = 8 << 20
)

// slabClassCount is the number of size classes: 64 up to 1 KiB, then 16
// per power of two from 1 KiB to maxSlabBlock.
var slabClassCount = slabClass(maxSlabBlock) + 1

// slabClass is the size class of a block of n bytes (0 < n ≤ maxSlabBlock).
func slabClass(n int) int {
	if n <= 1<<10 {
		return (n - 1) >> 4
	}
	shift := bits.Len(uint(n-1)) - 5 // classes of 1/16 of the power of two
	return 64 + (bits.Len(uint(n-1))-11)*16 + (n-1)>>shift - 16
}

// slabClassSize is the block size of class c.
func slabClassSize(c int) int {
	if c < 64 {
		return (c + 1) << 4
	}
	pow := (c - 64) / 16 // 1 KiB << pow is the class's power of two
	return (16 + (c-64)%16 + 1) << (pow + 6)
}

// slabPool is the process's slabs, one free list per size class.
type slabPool struct {
	classes []slabFree
	mapped  atomic.Int64 // bytes mapped, for tests and metrics
	inUse   atomic.Int64 // bytes in blocks handed out and not freed
	// handedOut only grows (bytes in every block handed out), so a test
	// can count its own allocations while cleanups free other blocks.
	handedOut atomic.Int64
	reused    atomic.Int64 // blocks handed out again after a free
}

// slabFree is one size class.
type slabFree struct {
	mu     sync.Mutex
	free   []unsafe.Pointer // freed blocks
	chunk  []byte           // the newest chunk's blocks not handed out yet
	mapped int64            // bytes of chunks mapped for this class
}

// slabs is the pool objects use.
var slabs = &slabPool{classes: make([]slabFree, slabClassCount)}

// slabBlock is what the cleanup of an object needs to free its block.
type slabBlock struct {
	p     unsafe.Pointer
	class int32
}

// alloc returns a block of n bytes (len and cap n) outside the Go heap,
// or ok false when n is not in a slab's range or the system refused
// memory: the caller then uses the Go heap.
func (s *slabPool) alloc(n int) (b []byte, blk slabBlock, ok bool) {
	if n <= 0 || n > maxSlabBlock {
		return nil, slabBlock{}, false
	}
	c := slabClass(n)
	size := slabClassSize(c)
	cl := &s.classes[c]
	cl.mu.Lock()
	var p unsafe.Pointer
	if k := len(cl.free); k > 0 {
		p = cl.free[k-1]
		cl.free = cl.free[:k-1]
		s.reused.Add(1)
	} else {
		if len(cl.chunk) < size {
			chunk, err := mapChunk(cl.mapped >= hugeAfter)
			if err != nil {
				cl.mu.Unlock()
				return nil, slabBlock{}, false
			}
			cl.mapped += int64(len(chunk))
			s.mapped.Add(int64(len(chunk)))
			cl.chunk = chunk
		}
		p = unsafe.Pointer(&cl.chunk[0])
		cl.chunk = cl.chunk[size:]
	}
	cl.mu.Unlock()
	s.inUse.Add(int64(size))
	s.handedOut.Add(int64(size))
	return unsafe.Slice((*byte)(p), n), slabBlock{p: p, class: int32(c)}, true
}

// mapChunk maps a chunk: 1 MiB, or with huge a huge page (hugePage
// bytes at an address aligned to it, advised MADV_HUGEPAGE). A huge chunk
// is cut out of a mapping twice its size, the parts before and after it
// unmapped (MmapPtr and MunmapPtr: unix.Munmap would refuse a part of a
// mapping). A kernel that refuses the advice (no transparent huge pages)
// leaves an ordinary 2 MiB chunk.
func mapChunk(huge bool) ([]byte, error) {
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANON
	if !huge {
		return unix.Mmap(-1, 0, slabChunk, prot, flags)
	}
	m, err := unix.MmapPtr(-1, 0, nil, 2*hugePage, prot, flags)
	if err != nil {
		return nil, err
	}
	skip := -uintptr(m) & (hugePage - 1)
	chunk := unsafe.Slice((*byte)(unsafe.Add(m, skip)), hugePage)
	// Unmapping a range of a mapping mmap returned cannot fail.
	if skip > 0 {
		_ = unix.MunmapPtr(m, skip)
	}
	if tail := hugePage - skip; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(m, skip+hugePage), tail)
	}
	_ = unix.Madvise(chunk, unix.MADV_HUGEPAGE) // EINVAL without THP: 4 KiB pages then
	return chunk, nil
}

// free returns blk to its class's free list.
func (s *slabPool) free(blk slabBlock) {
	cl := &s.classes[blk.class]
	cl.mu.Lock()
	cl.free = append(cl.free, blk.p)
	cl.mu.Unlock()
	s.inUse.Add(-int64(slabClassSize(int(blk.class))))
}

// freeWhenUnreachable frees blk, a block of the process's pool (slabs),
// once o can no longer be reached.
func freeWhenUnreachable(o *object, blk slabBlock) {
	// A function, not the method value slabs.free: a method value is a
	// closure of its own, 16 more bytes on the heap per stored object.
	runtime.AddCleanup(o, freeSlabBlock, blk)
}

// freeSlabBlock returns blk to the process's pool.
func freeSlabBlock(blk slabBlock) { slabs.free(blk) }
