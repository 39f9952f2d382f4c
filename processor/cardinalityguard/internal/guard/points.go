// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

func pointAttributes(m pmetric.Metric, i int) pcommon.Map {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().At(i).Attributes()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().At(i).Attributes()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().At(i).Attributes()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().At(i).Attributes()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().At(i).Attributes()
	}
	return pcommon.NewMap()
}

// outputAttributes writes into dst the attributes of the merged series that
// point src (with decision d) belongs to.
func (e *Engine) outputAttributes(lim *Limits, d *decision, src, dst pcommon.Map) {
	src.CopyTo(dst)
	e.editAttributes(lim, d, dst)
}

// editAttributes turns the attributes of a point (with decision d) into
// those of the merged series it belongs to, in place.
func (e *Engine) editAttributes(lim *Limits, d *decision, attrs pcommon.Map) {
	if d.seriesOverflow {
		// The overflow series keeps only the protected labels (none when
		// they were collapsed too).
		keepProtected := d.outHash != overflowHash
		attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return !keepProtected || !lim.isProtected(k) })
		attrs.PutBool(OverflowAttribute, true)
		return
	}
	for _, ed := range e.edits[d.editLo:d.editHi] {
		if ed.overflow {
			attrs.PutStr(ed.key, lim.OverflowValue)
		} else {
			attrs.Remove(ed.key)
		}
	}
}
