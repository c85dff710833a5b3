package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SelectChannel returns channel c of x (N,C,H,W) as an (N,1,H,W) tensor, for any c in [0, C).
// Its gradient puts the output gradient into channel c and zeros everywhere else.
//
// Stock Gorgonia's Slice keeps one byte of each index in its hash, so slices at 256 or more
// are silently merged with the slice at the index mod 256; this op hashes c in full.
func SelectChannel(x *gorgonia.Node, c int) (*gorgonia.Node, error) {
	return applyUnary(channelSliceKernel{lo: c, hi: c + 1, dims: 4, name: "SelectChannel"}, x)
}

// channelSliceKernel takes channels [lo, hi) of an (N, C, ...) tensor of rank dims: it is
// SelectChannel, and the gradient of ConcatChannels for one input. name is the exported
// operation it serves, for errors.
type channelSliceKernel struct {
	lo, hi, dims int
	name         string
}

func (k channelSliceKernel) opName() string { return k.name }

func (k channelSliceKernel) describe(name string) string {
	return fmt.Sprintf("nn.%s{channels: [%d, %d), rank: %d}", name, k.lo, k.hi, k.dims)
}

func (k channelSliceKernel) ranks() (in, out int) { return k.dims, k.dims }

func (k channelSliceKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	if k.dims < 2 || x.Dims() != k.dims {
		return nil, fmt.Errorf("input must be (N, C, ...) of rank %d, got shape %v", max(k.dims, 2), x)
	}
	if k.lo < 0 || k.hi > x[1] || k.lo >= k.hi {
		return nil, fmt.Errorf("channels [%d, %d) out of range for input %v with %d channels", k.lo, k.hi, x, x[1])
	}
	s := x.Clone()
	s[1] = k.hi - k.lo
	return s, nil
}

func (k channelSliceKernel) forward(x, y *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		copyChannels(x.Shape(), k.lo, k.hi, dataOf[float32](x), dataOf[float32](y), false)
	} else {
		copyChannels(x.Shape(), k.lo, k.hi, dataOf[float64](x), dataOf[float64](y), false)
	}
	return nil
}

func (k channelSliceKernel) backward(x, dy, dx *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		copyChannels(x.Shape(), k.lo, k.hi, dataOf[float32](dx), dataOf[float32](dy), true)
	} else {
		copyChannels(x.Shape(), k.lo, k.hi, dataOf[float64](dx), dataOf[float64](dy), true)
	}
	return nil
}

// copyChannels copies channels [lo, hi) of whole, an (N, C, ...) tensor of shape s, to part,
// the (N, hi-lo, ...) tensor that holds just those channels; with back it copies part into
// those channels of whole instead.
func copyChannels[T float](s tensor.Shape, lo, hi int, whole, part []T, back bool) {
	n, c, plane := channelGeom(s)
	block := (hi - lo) * plane
	for i := 0; i < n; i++ {
		w := whole[(i*c+lo)*plane : (i*c+hi)*plane]
		p := part[i*block : (i+1)*block]
		if back {
			copy(w, p)
		} else {
			copy(p, w)
		}
	}
}
