// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

// Reason says why a point was changed, merged, passed through or refused.
type Reason uint8

const (
	ReasonValueLimit Reason = iota
	ReasonAlwaysDrop
	ReasonSeriesLimit
	ReasonLabelKeysLimit
	ReasonSummary
	ReasonBoundsMismatch
	ReasonTypeMismatch
	ReasonTotalLimit
	ReasonInvalid
	NumReasons
)

var reasonNames = [NumReasons]string{
	"value_limit", "always_drop", "series_limit", "label_keys_limit",
	"summary", "bounds_mismatch", "type_mismatch", "total_limit", "invalid",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Stats counts what one Process call did (or, in observe mode, would do).
type Stats struct {
	// PointsIn and PointsOut are the points the call received and passed on
	// (in observe mode, the same).
	PointsIn, PointsOut int64
	// Merged counts the points re-aggregated into merged series (each
	// merged output point stands for one or more of them; enforce mode only).
	Merged int64
	// LabelDropped counts points that lost at least one label, once per reason.
	LabelDropped [NumReasons]int64
	// Overflowed counts points given an overflow value or sent to the overflow series.
	Overflowed [NumReasons]int64
	// Unmergeable counts points that would have changed but passed through unchanged.
	Unmergeable [NumReasons]int64
	// Refused counts points dropped because their state could not be tracked.
	Refused [NumReasons]int64
	// SketchesRefused counts limited keys that got no HyperLogLog sketch
	// because max_series_total left no room (their estimate is then a floor).
	SketchesRefused int64
	// SeriesTracked and LabelKeysLimited are the gauges after the call.
	SeriesTracked    int64
	LabelKeysLimited int64
}

// RefusedAny reports whether any point was refused.
func (s *Stats) RefusedAny() bool {
	for _, n := range s.Refused {
		if n > 0 {
			return true
		}
	}
	return false
}
