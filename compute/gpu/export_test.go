package gpu

// SplitForTest exposes Conv.split to the external tests.
func SplitForTest(c Conv) (ph, pw, et, el, h2, w2 int) {
	s := c.split()
	return s.PH, s.PW, s.ET, s.EL, s.H2, s.W2
}
