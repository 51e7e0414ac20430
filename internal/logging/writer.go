package logging

import (
	"io"
	"sync"
)

// MaskingWriter masks every phone number in what is written to it before
// passing it on. Each Write is masked as a whole and passed on in exactly one
// Write of the underlying writer, so log lines are neither split nor merged
// (zerolog writes one event per Write). It is safe for concurrent use: writes
// to the underlying writer are serialised.
type MaskingWriter struct {
	mu  sync.Mutex
	out io.Writer
}

// NewMaskingWriter wraps out.
func NewMaskingWriter(out io.Writer) *MaskingWriter {
	return &MaskingWriter{out: out}
}

// bufPool recycles masking buffers: the logger is on every request's path.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Write masks p and writes it on. It reports len(p) on success, as io.Writer
// requires, even though the masked text may be shorter or longer.
func (w *MaskingWriter) Write(p []byte) (int, error) {
	bp := bufPool.Get().(*[]byte)
	masked, changed := appendMaskedText((*bp)[:0], p)
	out := p
	if changed {
		out = masked
	}
	w.mu.Lock()
	_, err := w.out.Write(out)
	w.mu.Unlock()
	if cap(masked) <= 64<<10 { // do not let one huge line pin memory
		*bp = masked[:0]
		bufPool.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
