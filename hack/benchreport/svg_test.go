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

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

// svgElements decodes an SVG document, failing the test if it is not
// well-formed XML, and counts its elements by name and collects its text.
func svgElements(t *testing.T, b []byte) (map[string]int, string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	count := map[string]int{}
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			count[tok.Name.Local]++
			if len(count) == 1 {
				attrs := map[string]string{}
				for _, a := range tok.Attr {
					attrs[a.Name.Local] = a.Value
				}
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" || attrs["viewBox"] == "" || attrs["font-family"] != "sans-serif" {
					t.Fatalf("root element %v %v", tok.Name, attrs)
				}
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	return count, text.String()
}

// A line plot is well-formed SVG holding every series as a polyline with a
// marker per point and a legend entry, its text escaped, the same bytes
// each time.
func TestLinePlotIsDeterministicValidSVG(t *testing.T) {
	for _, logY := range []bool{false, true} {
		p := linePlot{title: "p99 <latency> & more", xLabel: "clients", yLabel: "ms", log2X: true, log10Y: logY, series: []series{
			{name: "product", xs: []float64{1, 2, 4, 8, 128}, ys: []float64{0.4, 0.9, 2.5, 7, 300}},
			{name: "bare & co", xs: []float64{1, 2, 4, 8, 128}, ys: []float64{0.5, 1, 2, 6, 250}},
		}}
		b := p.svg()
		if !bytes.Equal(b, p.svg()) {
			t.Fatal("two renderings of the same plot differ")
		}
		count, text := svgElements(t, b)
		if count["polyline"] != 2 || count["circle"] != 2*5+2 {
			t.Errorf("log10Y=%v: %d polylines, %d circles", logY, count["polyline"], count["circle"])
		}
		for _, want := range []string{"p99 <latency> & more", "product", "bare & co", "\n128\n", "\nclients\n", "\nms\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("log10Y=%v: the text lacks %q:\n%s", logY, want, text)
			}
		}
		if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Inf") || strings.Contains(string(b), "<a ") {
			t.Errorf("log10Y=%v: a coordinate is not a number, or a link:\n%s", logY, b)
		}
	}
	// Degenerate input still gives a picture.
	for _, p := range []linePlot{{title: "empty"}, {title: "one point", series: []series{{name: "a", xs: []float64{4}, ys: []float64{0}}}}} {
		if _, text := svgElements(t, p.svg()); !strings.Contains(text, p.title) || strings.Contains(string(p.svg()), "NaN") {
			t.Errorf("%s:\n%s", p.title, p.svg())
		}
	}
}

// A bar chart is well-formed SVG with a bar, a label and a note per row.
func TestBarChartIsDeterministicValidSVG(t *testing.T) {
	c := barChart{title: "CPU by stage", xLabel: "µs per request", bars: []bar{
		{label: "RS256 verification", value: 44, note: "44.0 µs (24.5%)"},
		{label: "GC & runtime", value: 23.6, note: "23.6 µs (13.1%)"},
		{label: "other", value: 0, note: "0.0 µs (0.0%)"},
	}}
	b := c.svg()
	if !bytes.Equal(b, c.svg()) {
		t.Fatal("two renderings of the same chart differ")
	}
	count, text := svgElements(t, b)
	if count["rect"] != 1+3 { // the background and one per bar
		t.Errorf("%d rects", count["rect"])
	}
	for _, want := range []string{"RS256 verification", "GC & runtime", "44.0 µs (24.5%)", "µs per request"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text lacks %q:\n%s", want, text)
		}
	}
}

// Ticks are round numbers.
func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ top, want float64 }{{4000, 1000}, {1466, 500}, {44, 10}, {0.9, 0.2}, {0, 1}} {
		if got := niceStep(c.top, 5); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.top, got, c.want)
		}
	}
	if got := tickLabel(0.4, 0.2); got != "0.4" {
		t.Errorf("tickLabel(0.4, 0.2) = %q", got)
	}
}
