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

package main

// A few plots written by hand as SVG rather than with a plotting library,
// which would be the largest dependency of the module for three pictures.
// Every number is printed with a fixed precision and nothing iterates over a
// map, so the same input gives the same bytes and the files diff well.

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// palette: colour-blind safe (Okabe-Ito), the first series first.
var palette = []string{"#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"}

type series struct {
	name   string
	xs, ys []float64
}

// linePlot is y against x, one polyline per series, y from zero unless
// log10Y.
type linePlot struct {
	title, xLabel, yLabel string
	log2X                 bool // x ticks at powers of two, evenly spaced
	// log10Y: for figures spanning decades (latency from one client to
	// saturation), where a linear axis flattens all but the largest.
	log10Y bool
	series []series
}

// Layout of a line plot, in SVG user units.
const (
	plotW, plotH                   = 720, 420
	plotLeft, plotRight            = 80, 570 // the legend is to the right of the plot area
	plotTop, plotBottom            = 50, 360
	fontSize, titleSize, smallSize = 13, 16, 11
)

// num prints a coordinate: two decimals are finer than any screen.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

type svgWriter struct{ b strings.Builder }

func (s *svgWriter) printf(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func newSVG(w, h int, title string) *svgWriter {
	s := &svgWriter{}
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="%d" role="img">`+"\n", w, h, w, h, fontSize)
	s.b.WriteString("<title>")
	s.text(title)
	s.b.WriteString("</title>\n")
	// Opaque, so that the dark text stays readable on a dark page.
	s.printf(`<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	s.label(float64(w)/2, 28, "middle", titleSize, "", title)
	return s
}

func (s *svgWriter) text(t string) { _ = xml.EscapeText(&s.b, []byte(t)) }

// label writes one line of text; rotate is a transform or "".
func (s *svgWriter) label(x, y float64, anchor string, size int, rotate, t string) {
	s.printf(`<text x="%s" y="%s" text-anchor="%s" font-size="%d"`, num(x), num(y), anchor, size)
	if rotate != "" {
		s.printf(` transform="%s"`, rotate)
	}
	s.b.WriteString(">")
	s.text(t)
	s.b.WriteString("</text>\n")
}

func (s *svgWriter) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n", num(x1), num(y1), num(x2), num(y2), stroke, num(width))
}

func (s *svgWriter) bytes() []byte { return []byte(s.b.String() + "</svg>\n") }

// niceStep is a round tick step (1, 2 or 5 times a power of ten) giving
// about n ticks up to top.
func niceStep(top float64, n int) float64 {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return 1
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel prints a tick value with no more decimals than its step needs.
func tickLabel(v, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

func (p linePlot) svg() []byte {
	xt := func(x float64) float64 {
		if p.log2X {
			return math.Log2(x)
		}
		return x
	}
	xMin, xMax, yMin, yMax := math.Inf(1), math.Inf(-1), math.Inf(1), 0.0
	for _, s := range p.series {
		for i := range s.xs {
			xMin, xMax, yMax = min(xMin, xt(s.xs[i])), max(xMax, xt(s.xs[i])), max(yMax, s.ys[i])
			if s.ys[i] > 0 {
				yMin = min(yMin, s.ys[i])
			}
		}
	}
	if math.IsInf(xMin, 0) { // no points: an empty frame
		xMin, xMax = 0, 1
	}
	if xMax == xMin {
		xMin, xMax = xMin-1, xMax+1
	}
	if p.log2X {
		xMin, xMax = math.Floor(xMin), math.Ceil(xMax)
	}
	px := func(x float64) float64 { return plotLeft + (xt(x)-xMin)/(xMax-xMin)*(plotRight-plotLeft) }
	var py func(float64) float64
	var yTicks []string // value and label, alternately
	if p.log10Y {
		if math.IsInf(yMin, 0) {
			yMin, yMax = 1, 10
		}
		// The axis runs between the 1-2-5 steps around the data.
		var steps []float64
		for e := math.Floor(math.Log10(yMin)); e <= math.Ceil(math.Log10(yMax)); e++ {
			for _, m := range []float64{1, 2, 5} {
				steps = append(steps, m*math.Pow(10, e))
			}
		}
		steps = append(steps, math.Pow(10, math.Ceil(math.Log10(yMax))+1))
		first, last := 0, len(steps)-1
		for i, v := range steps {
			if v <= yMin*(1+1e-9) {
				first = i
			}
			if v >= yMax*(1-1e-9) && last == len(steps)-1 {
				last = i
			}
		}
		if last == first {
			last++
		}
		lo, hi := math.Log10(steps[first]), math.Log10(steps[last])
		py = func(y float64) float64 {
			return plotBottom - (math.Log10(max(y, steps[first]))-lo)/(hi-lo)*(plotBottom-plotTop)
		}
		for i := first; i <= last; i++ {
			// 2 and 5 only where there is room for them.
			if hi-lo <= 4 || strconv.FormatFloat(steps[i], 'g', -1, 64)[0] == '1' {
				yTicks = append(yTicks, strconv.FormatFloat(steps[i], 'g', -1, 64))
			}
		}
	} else {
		yStep := niceStep(yMax, 5)
		yTop := math.Ceil(yMax/yStep) * yStep
		if yTop == 0 {
			yTop = yStep
		}
		py = func(y float64) float64 { return plotBottom - y/yTop*(plotBottom-plotTop) }
		for i := 0; float64(i)*yStep <= yTop*(1+1e-9); i++ {
			yTicks = append(yTicks, tickLabel(float64(i)*yStep, yStep))
		}
	}

	s := newSVG(plotW, plotH, p.title)
	// Grid and ticks.
	for _, t := range yTicks {
		y, _ := strconv.ParseFloat(t, 64)
		s.line(plotLeft, py(y), plotRight, py(y), "#e0e0e0", 1)
		s.label(plotLeft-8, py(y)+4, "end", fontSize, "", t)
	}
	var xTicks []float64
	if p.log2X {
		for e := xMin; e <= xMax; e++ {
			xTicks = append(xTicks, math.Exp2(e))
		}
	} else {
		step := niceStep(xMax-xMin, 6)
		for v := math.Ceil(xMin/step) * step; v <= xMax*(1+1e-9); v += step {
			xTicks = append(xTicks, v)
		}
	}
	for _, x := range xTicks {
		s.line(px(x), plotTop, px(x), plotBottom, "#e0e0e0", 1)
		s.label(px(x), plotBottom+18, "middle", fontSize, "", tickLabel(x, 1))
	}
	// Axes.
	s.line(plotLeft, plotBottom, plotRight, plotBottom, "#333333", 1)
	s.line(plotLeft, plotTop, plotLeft, plotBottom, "#333333", 1)
	s.label((plotLeft+plotRight)/2, plotBottom+42, "middle", fontSize, "", p.xLabel)
	s.label(24, (plotTop+plotBottom)/2, "middle", fontSize, fmt.Sprintf("rotate(-90 24 %s)", num((plotTop+plotBottom)/2)), p.yLabel)
	// Series, then the legend.
	for i, sr := range p.series {
		c := palette[i%len(palette)]
		s.b.WriteString("<g class=\"series\">\n<title>")
		s.text(sr.name)
		s.b.WriteString("</title>\n")
		pts := make([]string, len(sr.xs))
		for j := range sr.xs {
			pts[j] = num(px(sr.xs[j])) + "," + num(py(sr.ys[j]))
		}
		s.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), c)
		for j := range sr.xs {
			s.printf(`<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", num(px(sr.xs[j])), num(py(sr.ys[j])), c)
		}
		s.b.WriteString("</g>\n")
		ly := float64(plotTop + 10 + 22*i)
		s.line(plotRight+20, ly, plotRight+44, ly, c, 2)
		s.printf(`<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", num(plotRight+32), num(ly), c)
		s.label(plotRight+52, ly+4, "start", fontSize, "", sr.name)
	}
	return s.bytes()
}

// bar is one bar of a barChart, with note printed after it.
type bar struct {
	label string
	value float64
	note  string
}

// barChart is horizontal bars from zero, one per row, top to bottom.
type barChart struct {
	title, xLabel string
	bars          []bar
}

// Layout of a bar chart: the labels are left of barLeft, the notes right of
// each bar's end, which never passes barRight.
const (
	barW, barLeft, barRight = 720, 200, 580
	barRow, barThick        = 26, 16
)

func (b barChart) svg() []byte {
	top := 50.0
	bottom := top + float64(barRow*len(b.bars))
	h := int(bottom) + 55
	vMax := 0.0
	for _, br := range b.bars {
		vMax = max(vMax, br.value)
	}
	step := niceStep(vMax, 5)
	vTop := math.Ceil(vMax/step) * step
	if vTop == 0 {
		vTop = step
	}
	px := func(v float64) float64 { return barLeft + v/vTop*(barRight-barLeft) }

	s := newSVG(barW, h, b.title)
	for i := 0; float64(i)*step <= vTop*(1+1e-9); i++ {
		v := float64(i) * step
		s.line(px(v), top, px(v), bottom, "#e0e0e0", 1)
		s.label(px(v), bottom+18, "middle", fontSize, "", tickLabel(v, step))
	}
	for i, br := range b.bars {
		y := top + float64(barRow*i) + (barRow-barThick)/2.0
		s.printf(`<rect x="%s" y="%s" width="%s" height="%d" fill="%s"><title>`, num(barLeft), num(y), num(max(0, px(br.value)-barLeft)), barThick, palette[0])
		s.text(br.label + ": " + br.note)
		s.b.WriteString("</title></rect>\n")
		s.label(barLeft-8, y+barThick-4, "end", fontSize, "", br.label)
		s.label(px(br.value)+6, y+barThick-4, "start", smallSize, "", br.note)
	}
	s.line(barLeft, top, barLeft, bottom, "#333333", 1)
	s.line(barLeft, bottom, barRight, bottom, "#333333", 1)
	s.label((barLeft+barRight)/2, bottom+42, "middle", fontSize, "", b.xLabel)
	return s.bytes()
}
