// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package logthrottle is prodscope's one rate-limited logger: a line that
// repeats (a refused point, a failing target, a dropped batch) is written at
// most once per period per key, and the line that is written says how many
// were left out since the last one, under one field name, SuppressedField.
// Every key's state is bounded: past MaxKeys distinct keys, new keys share one
// overflow key.
package logthrottle // import "github.com/prodscope/prodscope/internal/logthrottle"

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// SuppressedField names the number of lines of the same key left out since the
// last one written; every prodscope component uses this name.
const SuppressedField = "suppressed_since_last_log"

// DefaultMaxKeys bounds the keys a Logger tracks when New is given 0.
const DefaultMaxKeys = 1024

// overflowKey is shared by every key past the bound.
const overflowKey = "\x00overflow"

// Logger writes each key's line at most once per period. Safe for concurrent use.
type Logger struct {
	log     *zap.Logger
	every   time.Duration
	maxKeys int
	now     func() time.Time

	mu   sync.Mutex
	keys map[string]*keyState
}

type keyState struct {
	last       time.Time
	suppressed int
}

// New returns a Logger writing to log at most once per every for each key,
// tracking at most maxKeys keys (0: DefaultMaxKeys).
func New(log *zap.Logger, every time.Duration, maxKeys int) *Logger {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Logger{log: log, every: every, maxKeys: maxKeys, now: time.Now, keys: map[string]*keyState{}}
}

// WithClock sets the clock (tests); it returns l.
func (l *Logger) WithClock(now func() time.Time) *Logger {
	l.now = now
	return l
}

// Do calls f unless key's line was written less than a period ago, passing the
// number of calls for key left out since; f writes the line. It lets a caller
// build the line's fields only when it is written.
func (l *Logger) Do(key string, f func(suppressed int)) {
	if n, ok := l.allow(key); ok {
		f(n)
	}
}

// Debug writes a debug line for key, rate-limited.
func (l *Logger) Debug(key, msg string, fields ...zap.Field) {
	l.write(zapcore.DebugLevel, key, msg, fields)
}

// Info writes an info line for key, rate-limited.
func (l *Logger) Info(key, msg string, fields ...zap.Field) {
	l.write(zapcore.InfoLevel, key, msg, fields)
}

// Warn writes a warning for key, rate-limited.
func (l *Logger) Warn(key, msg string, fields ...zap.Field) {
	l.write(zapcore.WarnLevel, key, msg, fields)
}

// Error writes an error line for key, rate-limited.
func (l *Logger) Error(key, msg string, fields ...zap.Field) {
	l.write(zapcore.ErrorLevel, key, msg, fields)
}

// Keys is the number of keys tracked now (at most the bound plus the overflow key).
func (l *Logger) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *Logger) write(level zapcore.Level, key, msg string, fields []zap.Field) {
	if !l.log.Core().Enabled(level) {
		return
	}
	n, ok := l.allow(key)
	if !ok {
		return
	}
	if n > 0 {
		fields = append(fields[:len(fields):len(fields)], zap.Int(SuppressedField, n))
	}
	l.log.Log(level, msg, fields...)
}

func (l *Logger) allow(key string) (suppressed int, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, found := l.keys[key]
	if !found {
		if len(l.keys) >= l.maxKeys {
			key = overflowKey
			s = l.keys[key]
		}
		if s == nil {
			s = &keyState{}
			l.keys[key] = s
		}
	}
	if !s.last.IsZero() && now.Sub(s.last) < l.every {
		s.suppressed++
		return 0, false
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return n, true
}
