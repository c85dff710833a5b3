package nn

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReuseBuffers makes every op of this package in g keep the tensor it writes its result into and
// write into it again on the graph's next run, instead of allocating (and zeroing) a new one
// each run; it returns the number of ops switched. A graph that runs many times (a training
// step, an optimisation over an image) then allocates its intermediates once: on VGG19 at 512
// every run otherwise allocates gigabytes, which the garbage collector holds until it runs, and
// each fresh page is faulted in again as it is first written.
//
// The price is the lifetime of values: after ReuseBuffers, the value of any node of g (the
// outputs too, and views of them such as a Reshape's) is valid only until the graph runs
// again, which overwrites it. Copy what must outlive a run (for instance a gradient that an
// optimiser keeps from one step to the next). Gorgonia's own ops keep allocating.
//
// Like the graph itself, its ops must not be shared between goroutines.
func ReuseBuffers(g *gorgonia.ExprGraph) int {
	n := 0
	for _, node := range g.AllNodes() {
		if r, ok := node.Op().(reuser); ok {
			r.reuseBuffers()
			n++
		}
	}
	return n
}

// reuser is an op that can keep its result tensor across runs.
type reuser interface{ reuseBuffers() }

// outCache is embedded in the ops of this package: the tensor an op wrote its result into on
// the last run, kept when reuse is on.
type outCache struct {
	reuse bool
	last  *tensor.Dense
}

// reuseBuffers turns reuse on.
func (c *outCache) reuseBuffers() { c.reuse = true }

// result returns the tensor an op writes into: prealloc when the machine gives one (and it
// fits); with reuse on, the tensor of the last run when its dtype and shape match; a new one
// otherwise. The tensor's contents are undefined unless it is new (zeroed): ops overwrite
// every element.
func (c *outCache) result(name string, prealloc gorgonia.Value, dt tensor.Dtype, shape tensor.Shape) (*tensor.Dense, error) {
	if prealloc != nil || !c.reuse {
		return result(name, prealloc, dt, shape)
	}
	if c.last != nil && c.last.Dtype() == dt && c.last.Shape().Eq(shape) {
		return c.last, nil
	}
	c.last = newLike(dt, shape)
	return c.last, nil
}
