package modelstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFetchDownloadsAndVerifies(t *testing.T) {
	data := payload(700_000, 1)
	for _, sum := range []Checksum{md5Sum(data), sha256Sum(data)} {
		t.Run(string(sum.Algorithm), func(t *testing.T) {
			fs := &fileServer{data: data}
			e := matEntry("vgg", serve(t, fs), data)
			e.Sum = sum
			s, _ := newStore(t, e)
			var mu sync.Mutex
			var reports []Progress
			err := s.Fetch(context.Background(), e, func(p Progress) {
				mu.Lock()
				reports = append(reports, p)
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := mustRead(t, s.Path(e)); !bytes.Equal(got, data) {
				t.Fatal("downloaded file differs from the served one")
			}
			if exists(s.partPath(e)) {
				t.Error(".part file left after a complete download")
			}
			if st := s.Status(e); st.Kind != Ready || st.Unverified {
				t.Errorf("Status = %v, want ready", st)
			}
			if len(reports) < 2 {
				t.Fatalf("got %d progress reports, want a first and a last", len(reports))
			}
			if first, last := reports[0], reports[len(reports)-1]; first.Done != 0 || last.Done != e.Size || last.Total != e.Size {
				t.Errorf("first report %+v, last %+v", first, last)
			}
			if ranges, _ := fs.seen(); len(ranges) != 1 || ranges[0] != "" {
				t.Errorf("server saw Range headers %q, want one request without", ranges)
			}
		})
	}
}

func TestFetchResumesWithRange(t *testing.T) {
	data := payload(500_000, 2)
	fs := &fileServer{data: data}
	e := matEntry("vgg", serve(t, fs), data)
	s, _ := newStore(t, e)
	const have = 200_000
	writeFile(t, s.partPath(e), data[:have])
	if st := s.Status(e); st.Kind != Partial || st.Have != have {
		t.Fatalf("Status before resume = %v, want partial with %d bytes", st, have)
	}
	var first Progress
	err := s.Fetch(context.Background(), e, func(p Progress) {
		if first.Total == 0 {
			first = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, s.Path(e)), data) {
		t.Fatal("resumed file differs from the served one")
	}
	ranges, sent := fs.seen()
	if want := fmt.Sprintf("bytes=%d-", have); len(ranges) != 1 || ranges[0] != want {
		t.Errorf("server saw Range headers %q, want [%q]", ranges, want)
	}
	if sent != int64(len(data)-have) {
		t.Errorf("server sent %d bytes, want only the missing %d", sent, len(data)-have)
	}
	if first.Done != have {
		t.Errorf("first progress report Done = %d, want the resumed %d", first.Done, have)
	}
}

func TestFetchRestartsWhenRangeUnusable(t *testing.T) {
	data := payload(300_000, 3)
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
	}{
		{"server ignores Range", func(w http.ResponseWriter, r *http.Request) {
			w.Write(data) // 200 with everything, whatever was asked
		}},
		{"416 range not satisfiable", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Write(data)
		}},
		{"Content-Range does not match", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") != "" {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(data)
				return
			}
			w.Write(data)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := matEntry("vgg", serve(t, http.HandlerFunc(tt.handler)), data)
			s, _ := newStore(t, e)
			writeFile(t, s.partPath(e), bytes.Repeat([]byte("junk"), 1000)) // not the file's start
			if err := s.Fetch(context.Background(), e, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustRead(t, s.Path(e)), data) {
				t.Fatal("file differs from the served one: the stale .part was not discarded")
			}
		})
	}
}

func TestFetchChecksumMismatch(t *testing.T) {
	data := payload(100_000, 4)
	e := matEntry("vgg", serve(t, &fileServer{data: data}), data)
	e.Sum = md5Sum([]byte("something else"))
	s, _ := newStore(t, e)
	err := s.Fetch(context.Background(), e, nil)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("Fetch error = %v, want ErrChecksum", err)
	}
	if !strings.Contains(err.Error(), s.DownloadPath(e)) {
		t.Errorf("error %q does not name %s", err, s.DownloadPath(e))
	}
	if exists(s.DownloadPath(e)) || exists(s.partPath(e)) {
		t.Error("a file with the wrong checksum was kept")
	}
	if st := s.Status(e); st.Kind != Missing {
		t.Errorf("Status = %v, want missing", st)
	}
}

func TestFetchTruncatedBodyIsResumable(t *testing.T) {
	data := payload(400_000, 5)
	const half = 150_000
	cut := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		// Returning short of Content-Length makes the server close the connection.
	}
	e := matEntry("vgg", serve(t, http.HandlerFunc(cut)), data)
	s, _ := newStore(t, e)
	err := s.Fetch(context.Background(), e, nil)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Fetch error = %v, want ErrInterrupted and io.ErrUnexpectedEOF", err)
	}
	if !strings.Contains(err.Error(), "resume") {
		t.Errorf("error %q does not say the download can be resumed", err)
	}
	if exists(s.DownloadPath(e)) {
		t.Fatal("an incomplete download got its final name")
	}
	if st := s.Status(e); st.Kind != Partial || st.Have != half {
		t.Fatalf("Status = %v, want partial with %d bytes", st, half)
	}

	// The next try, against a server that behaves, sends only the rest.
	fs := &fileServer{data: data}
	e.URL = serve(t, fs)
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	ranges, sent := fs.seen()
	if want := fmt.Sprintf("bytes=%d-", half); len(ranges) != 1 || ranges[0] != want {
		t.Errorf("server saw Range headers %q, want [%q]", ranges, want)
	}
	if sent != int64(len(data)-half) || !bytes.Equal(mustRead(t, s.Path(e)), data) {
		t.Errorf("resume sent %d bytes, want %d, or the file differs", sent, len(data)-half)
	}
}

func TestFetchRefusesOversizedBody(t *testing.T) {
	data := payload(50_000, 6)
	more := append(append([]byte(nil), data...), "and then some"...)
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
	}{
		{"Content-Length too large", func(w http.ResponseWriter, r *http.Request) {
			w.Write(more)
		}},
		{"chunked body runs past the size", func(w http.ResponseWriter, r *http.Request) {
			w.Write(data[:1000]) // flushed early: chunked, no Content-Length
			w.(http.Flusher).Flush()
			w.Write(more[1000:])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := matEntry("vgg", serve(t, http.HandlerFunc(tt.handler)), data)
			s, _ := newStore(t, e)
			err := s.Fetch(context.Background(), e, nil)
			if !errors.Is(err, ErrSize) {
				t.Fatalf("Fetch error = %v, want ErrSize", err)
			}
			if exists(s.DownloadPath(e)) {
				t.Error("oversized download got its final name")
			}
			if fi, err := os.Stat(s.partPath(e)); err == nil && fi.Size() > e.Size {
				t.Errorf(".part holds %d bytes, more than the catalog's %d", fi.Size(), e.Size)
			}
		})
	}
}

func TestFetchCancelKeepsPart(t *testing.T) {
	data := payload(300_000, 7)
	const half = 100_000
	stall := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	e := matEntry("vgg", serve(t, http.HandlerFunc(stall)), data)
	s, _ := newStore(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Fetch(ctx, e, func(p Progress) {
		if p.Done >= half {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch error = %v, want context.Canceled", err)
	}
	if st := s.Status(e); st.Kind != Partial || st.Have != half {
		t.Fatalf("Status after cancel = %v, want partial with %d bytes", st, half)
	}
	if exists(s.DownloadPath(e)) {
		t.Error("cancelled download got its final name")
	}
}

func TestFetchOffline(t *testing.T) {
	data := payload(1000, 8)
	e := matEntry("vgg", closedURL(t), data)
	s, _ := newStore(t, e)
	err := s.Fetch(context.Background(), e, nil)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("Fetch error = %v, want ErrOffline", err)
	}
	for _, want := range []string{s.DownloadPath(e), e.URL, "convas models import FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("offline error %q does not mention %q", err, want)
		}
	}
	if exists(s.partPath(e)) {
		t.Error("an empty .part file was left behind")
	}
}

func TestFetchServerErrors(t *testing.T) {
	data := payload(1000, 9)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, ErrServer},
		{"wrong Content-Length", func(w http.ResponseWriter, r *http.Request) { w.Write(data[:10]) }, ErrSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := matEntry("vgg", serve(t, tt.handler), data)
			s, _ := newStore(t, e)
			if err := s.Fetch(context.Background(), e, nil); !errors.Is(err, tt.want) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFetchProgressIsThrottled(t *testing.T) {
	data := payload(64_000, 10)
	drip := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		for i := 0; i < len(data); i += 1000 {
			w.Write(data[i : i+1000])
			w.(http.Flusher).Flush()
			time.Sleep(8 * time.Millisecond)
		}
	}
	e := matEntry("vgg", serve(t, http.HandlerFunc(drip)), data)
	s, _ := newStore(t, e)
	var reports []Progress
	start := time.Now()
	if err := s.Fetch(context.Background(), e, func(p Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if max := int(elapsed/progressInterval) + 2; len(reports) > max {
		t.Errorf("%d progress reports in %v, want at most %d", len(reports), elapsed, max)
	}
	rated := false
	for i, p := range reports {
		if i > 0 && p.Done < reports[i-1].Done {
			t.Errorf("report %d went back from %d to %d bytes", i, reports[i-1].Done, p.Done)
		}
		rated = rated || p.BytesPerSec > 0
	}
	if !rated {
		t.Error("no report had a download rate")
	}
}

func TestMeterRateAndETA(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := &meter{total: 10_000, lastTime: t0}
	p := m.sample(t0.Add(time.Second), 1000)
	if p.BytesPerSec != 1000 || p.ETA != 9*time.Second {
		t.Fatalf("after 1000 bytes in 1s: %+v, want 1000 B/s and 9s left", p)
	}
	// A stall lowers the rate gradually, not to zero at once.
	p = m.sample(t0.Add(2*time.Second), 1000)
	if p.BytesPerSec <= 0 || p.BytesPerSec >= 1000 {
		t.Errorf("after a 1s stall the rate is %v, want between 0 and 1000", p.BytesPerSec)
	}
	// Starting again from zero forgets the rate.
	if p = m.sample(t0.Add(3*time.Second), 0); p.BytesPerSec != 0 || p.ETA != 0 {
		t.Errorf("after a restart: %+v, want no rate and no ETA", p)
	}
}

func TestFetchUsesFileAlreadyThere(t *testing.T) {
	data := payload(2000, 11)
	e := matEntry("vgg", closedURL(t), data) // no server: nothing may be downloaded
	s, _ := newStore(t, e)
	writeFile(t, s.DownloadPath(e), data) // saved by hand, as the offline error suggests
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Ready {
		t.Errorf("Status = %v, want ready", st)
	}
}

func TestFetchReplacesDamagedFile(t *testing.T) {
	data := payload(2000, 12)
	e := matEntry("vgg", serve(t, &fileServer{data: data}), data)
	s, _ := newStore(t, e)
	writeFile(t, s.DownloadPath(e), payload(2000, 99))
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrChecksum) {
		t.Fatalf("Status = %v, want damaged by checksum", st)
	}
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Ready || !bytes.Equal(mustRead(t, s.Path(e)), data) {
		t.Errorf("Status = %v after fetching again, want ready with the served file", st)
	}
}

func TestFetchEmbeddedAndBusy(t *testing.T) {
	s, _ := newStore(t)
	trunk := Entry{Name: "trunk", Format: FormatEmbedded}
	if err := s.Fetch(context.Background(), trunk, nil); err != nil {
		t.Errorf("Fetch of an embedded entry = %v, want nil", err)
	}
	data := payload(10, 13)
	e := matEntry("vgg", closedURL(t), data)
	release, err := s.acquire(e)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := s.Fetch(context.Background(), e, nil); !errors.Is(err, ErrBusy) {
		t.Errorf("second Fetch of the same entry = %v, want ErrBusy", err)
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 100-199/200", 100, 199, 200, true},
		{"bytes 0-0/*", 0, 0, -1, true},
		{"bytes 100-199/150", 0, 0, 0, false},
		{"bytes 200-100/300", 0, 0, 0, false},
		{"bytes */200", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		start, end, total, ok := parseContentRange(tt.in)
		if start != tt.start || end != tt.end || total != tt.total || ok != tt.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v",
				tt.in, start, end, total, ok, tt.start, tt.end, tt.total, tt.ok)
		}
	}
}
