package serve

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Layout of the confusion matrix picture, in pixels.
const (
	cellSize    = 40
	colLabelLen = 5 // characters of a predicted class's name above its column
	margin      = 8
	glyphWidth  = 7 // basicfont.Face7x13
	lineHeight  = 13
)

// Colours of the picture: a cell goes from white (no images of its row)
// to barColour (all of them), the colour of the page's bars.
var (
	barColour  = color.RGBA{31, 119, 180, 255}
	inkColour  = color.RGBA{34, 34, 34, 255}
	gridColour = color.RGBA{200, 200, 200, 255}
)

// confusionLayout places the matrix: left of it the true classes' names,
// above it the predicted classes' names.
type confusionLayout struct {
	origin     image.Point // top left corner of cell (0, 0)
	rows, cols int
}

func newConfusionLayout(trueClasses, predicted []string) confusionLayout {
	longest := 0
	for _, c := range trueClasses {
		longest = max(longest, len(c))
	}
	return confusionLayout{
		origin: image.Pt(2*margin+longest*glyphWidth, 2*margin+2*lineHeight),
		rows:   len(trueClasses), cols: len(predicted)}
}

func (l confusionLayout) bounds() image.Rectangle {
	return image.Rect(0, 0, l.origin.X+l.cols*cellSize+margin,
		l.origin.Y+l.rows*cellSize+margin)
}

// cell is the square of true class i and predicted class j.
func (l confusionLayout) cell(i, j int) image.Rectangle {
	min := l.origin.Add(image.Pt(j*cellSize, i*cellSize))
	return image.Rectangle{Min: min, Max: min.Add(image.Pt(cellSize, cellSize))}
}

// cellColour is the colour of a cell holding share of its row's images.
func cellColour(share float64) color.RGBA {
	mix := func(c uint8) uint8 { return uint8(255 - share*float64(255-int(c)) + 0.5) }
	return color.RGBA{mix(barColour.R), mix(barColour.G), mix(barColour.B), 255}
}

// encodeConfusion draws the confusion matrix as a PNG: one row per true
// class, one column per predicted class, each cell shaded by its share of
// the row and labelled with its count.
func encodeConfusion(w io.Writer, perClass []ClassResult, predicted []string,
	counts [][]int) error {
	if len(counts) != len(perClass) {
		return fmt.Errorf("serve: confusion matrix of %d rows for %d classes",
			len(counts), len(perClass))
	}
	trueClasses := make([]string, len(perClass))
	for i, c := range perClass {
		trueClasses[i] = c.Class
	}
	l := newConfusionLayout(trueClasses, predicted)
	img := image.NewRGBA(l.bounds())
	draw.Draw(img, img.Rect, image.White, image.Point{}, draw.Src)
	text := &font.Drawer{Dst: img, Src: image.NewUniform(inkColour), Face: basicfont.Face7x13}
	say := func(s string, x, y int) {
		text.Dot = fixed.P(x, y)
		text.DrawString(s)
	}
	say("predicted", l.origin.X, margin+lineHeight-2)
	for j, name := range predicted {
		say(name[:min(len(name), colLabelLen)], l.cell(0, j).Min.X+2, l.origin.Y-4)
	}
	for i, row := range counts {
		if len(row) != len(predicted) {
			return fmt.Errorf("serve: confusion row %d has %d columns for %d classes",
				i, len(row), len(predicted))
		}
		r := l.cell(i, 0)
		say(trueClasses[i], margin, r.Min.Y+cellSize/2+4)
		drawRow(img, text, l, i, row)
	}
	return png.Encode(w, img)
}

func drawRow(img *image.RGBA, text *font.Drawer, l confusionLayout, i int, row []int) {
	total := 0
	for _, n := range row {
		total += n
	}
	for j, n := range row {
		share := 0.0
		if total > 0 {
			share = float64(n) / float64(total)
		}
		r := l.cell(i, j)
		draw.Draw(img, r, image.NewUniform(gridColour), image.Point{}, draw.Src)
		draw.Draw(img, r.Inset(1), image.NewUniform(cellColour(share)), image.Point{},
			draw.Src)
		if n == 0 {
			continue
		}
		ink := inkColour
		if share > 0.5 {
			ink = color.RGBA{255, 255, 255, 255}
		}
		s := strconv.Itoa(n)
		text.Src = image.NewUniform(ink)
		text.Dot = fixed.P(r.Min.X+(cellSize-len(s)*glyphWidth)/2, r.Min.Y+cellSize/2+4)
		text.DrawString(s)
		text.Src = image.NewUniform(inkColour)
	}
}
