//go:build !cgo || purego

package wino

import (
	"errors"
	"testing"
)

// TestUnavailable checks that this build's passes say they are unavailable.
func TestUnavailable(t *testing.T) {
	var ws Workspace
	c := Conv{N: 1, C: 1, O: 1, H: 3, W: 3}
	if err := ws.Forward(c, make([]float32, 9), make([]float32, 9), nil, make([]float32, 1)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Forward = %v, want ErrUnavailable", err)
	}
	if err := ws.BackwardData(c, make([]float32, 1), make([]float32, 9), make([]float32, 9)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("BackwardData = %v, want ErrUnavailable", err)
	}
}
