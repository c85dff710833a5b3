// Package models builds the networks of the recipes as Gorgonia graphs: their layers in order,
// their weights by name, and the shape after every block checked as it is built.
package models

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Param is one named weight tensor. Data is row-major in Shape and is the backing store of every
// graph built from the model, so an update to Data is seen by all of them.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Tensor wraps the parameter's storage as a Gorgonia tensor without copying.
func (p *Param) Tensor() *tensor.Dense {
	return tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
}

// Len returns the number of values the shape holds.
func (p *Param) Len() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// TruncatedNormal fills a new slice of n values from a normal distribution of the given standard
// deviation, drawing again any value more than two standard deviations from zero, as
// TensorFlow's truncated_normal does.
func TruncatedNormal(rng *rand.Rand, n int, stddev float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		for {
			v := rng.NormFloat64()
			if math.Abs(v) <= 2 {
				out[i] = float32(v * stddev)
				break
			}
		}
	}
	return out
}

// ShapeError reports a block whose output shape is not what the network needs.
type ShapeError struct {
	Layer     string
	Got, Want []int
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("models: layer %s: output shape %v, want %v", e.Layer, e.Got, e.Want)
}
