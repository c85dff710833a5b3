package checkpoint

import (
	stdbufio "bufio"
	"io"
)

func bufio(r io.Reader) io.Reader { return stdbufio.NewReaderSize(r, 1<<16) }
