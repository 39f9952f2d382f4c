// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package sender // import "github.com/prodscope/prodscope/exporter/honeycombevents/internal/sender"

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/config/configcompression"
)

// bodyCompressor compresses whole batch bodies. zstd uses one shared
// encoder (EncodeAll is safe for concurrent use); gzip pools its writers.
type bodyCompressor struct {
	encoding string
	zstd     *zstd.Encoder
	gzip     sync.Pool
}

func newBodyCompressor(t configcompression.Type) (*bodyCompressor, error) {
	c := &bodyCompressor{}
	switch t {
	case configcompression.TypeZstd:
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		c.encoding, c.zstd = "zstd", enc
	case configcompression.TypeGzip:
		c.encoding = "gzip"
		c.gzip.New = func() any {
			w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
			return w
		}
	case "", "none":
	default:
		return nil, fmt.Errorf("unsupported compression %q", t)
	}
	return c, nil
}

// contentEncoding is the Content-Encoding header value ("" for none).
func (c *bodyCompressor) contentEncoding() string { return c.encoding }

// compress appends the compressed src to dst[:0]; with no compression it
// returns src itself.
func (c *bodyCompressor) compress(dst, src []byte) ([]byte, error) {
	switch c.encoding {
	case "zstd":
		return c.zstd.EncodeAll(src, dst[:0]), nil
	case "gzip":
		buf := bytes.NewBuffer(dst[:0])
		w := c.gzip.Get().(*gzip.Writer)
		defer c.gzip.Put(w)
		w.Reset(buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	default:
		return src, nil
	}
}

func (c *bodyCompressor) close() {
	if c != nil && c.zstd != nil {
		_ = c.zstd.Close()
	}
}
