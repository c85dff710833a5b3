package modelstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Progress describes a download in progress.
type Progress struct {
	// Done is the number of bytes in the partial file, resumed bytes
	// included.
	Done int64
	// Total is the size of the complete file.
	Total int64
	// BytesPerSec is the recent download rate, smoothed over a few
	// seconds; 0 until known.
	BytesPerSec float64
	// ETA is the time left at that rate; 0 when unknown.
	ETA time.Duration
}

const (
	// progressInterval is the time between two progress reports.
	progressInterval = 100 * time.Millisecond
	// rateWindow is the time constant of the smoothed download rate.
	rateWindow = 3 * time.Second
)

// Fetch downloads e into the store, verifies its size and checksum,
// renames it into place and unpacks it when its format says so. It does
// nothing for an embedded entry, and only verifies (and unpacks) a file
// already there.
//
// The download goes to DownloadPath(e)+".part" and resumes from there with
// an HTTP Range request; cancelling ctx stops it and keeps the .part file.
// A file with the wrong checksum, or a server that sends more than the
// catalog size, discards the .part file. When the server cannot be reached
// the error wraps ErrOffline and names the path where a file fetched by
// hand can be saved.
//
// progress, when not nil, is called at the start, about ten times a
// second from another goroutine (never concurrently with itself), and once
// at the end; it should return quickly.
func (s *Store) Fetch(ctx context.Context, e Entry, progress func(Progress)) error {
	if e.Format == FormatEmbedded {
		return nil
	}
	if err := s.check(e); err != nil {
		return err
	}
	release, err := s.acquire(e)
	if err != nil {
		return err
	}
	defer release()
	if err := os.MkdirAll(s.entryDir(e), 0o755); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}

	final := s.DownloadPath(e)
	if done, err := s.reuse(e); done || err != nil {
		return err
	}
	if err := s.download(ctx, e, progress); err != nil {
		return err
	}
	fi, err := os.Stat(final)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	rec := newRecord(fi)
	rec.Verified, rec.Sum = true, e.Sum.String()
	_ = s.remember(e, func(m map[string]record) { m[e.File] = rec })
	if e.Format.archive() == "" {
		return nil
	}
	return s.unpack(e, final)
}

// reuse completes the entry from a download already in place: a verified
// one is unpacked if need be and done is true; a damaged or unverified one
// is removed so that it is downloaded again.
func (s *Store) reuse(e Entry) (done bool, err error) {
	final := s.DownloadPath(e)
	fi, err := os.Stat(final)
	if err != nil {
		return false, nil
	}
	rec, err := s.verify(e, fi)
	switch {
	case err == nil && rec.Verified:
		if s.checkUnpacked(e) == nil {
			return true, nil
		}
		return true, s.unpack(e, final)
	case err != nil && !errors.Is(err, ErrSize) && !errors.Is(err, ErrChecksum):
		return false, err
	}
	if err := os.Remove(final); err != nil {
		return false, fmt.Errorf("modelstore: %w", err)
	}
	return false, nil
}

// download fetches e into its .part file, checks it and renames it to
// DownloadPath(e).
func (s *Store) download(ctx context.Context, e Entry, progress func(Progress)) error {
	part := s.partPath(e)
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	t := &transfer{store: s, ctx: ctx, e: e, f: f, part: part}
	err = t.run(progress)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("modelstore: %w", cerr)
	}
	if err != nil {
		if t.discard || t.done == 0 {
			os.Remove(part)
		}
		return err
	}
	if err := os.Rename(part, s.DownloadPath(e)); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	return nil
}

// transfer is one download into a .part file.
type transfer struct {
	store *Store
	ctx   context.Context
	e     Entry
	f     *os.File
	part  string
	h     hash.Hash // hash of the bytes in f so far
	done  int64     // bytes in f so far
	meter *meter
	// discard is set when the .part file is worthless: wrong checksum,
	// or more bytes than the catalog size.
	discard bool
}

// run brings the .part file to its full size and checks its checksum.
func (t *transfer) run(progress func(Progress)) error {
	h, err := t.e.Sum.Algorithm.newHash()
	if err != nil {
		return err
	}
	t.h = h
	fi, err := t.f.Stat()
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	t.done = fi.Size()
	if t.done > t.e.Size {
		if err := t.reset(); err != nil {
			return err
		}
	}
	// Hash what an earlier try left, so the checksum needs no second pass.
	if _, err := io.Copy(t.h, io.NewSectionReader(t.f, 0, t.done)); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	if _, err := t.f.Seek(t.done, io.SeekStart); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}

	t.meter = startMeter(progress, t.e.Size, t.done)
	err = t.fill()
	t.meter.finish()
	if err != nil {
		return err
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	got := hex.EncodeToString(t.h.Sum(nil))
	if got != strings.ToLower(t.e.Sum.Hex) {
		t.discard = true
		return fmt.Errorf("%w: %s from %s: got %s:%s, want %s; download discarded",
			ErrChecksum, t.store.DownloadPath(t.e), t.e.URL, t.e.Sum.Algorithm, got, t.e.Sum)
	}
	return nil
}

// fill downloads the rest of the file, if anything is missing.
func (t *transfer) fill() error {
	if t.done == t.e.Size {
		return nil
	}
	body, err := t.open()
	if err != nil {
		return err
	}
	defer body.Close()
	return t.receive(body)
}

// reset empties the .part file to download from the start.
func (t *transfer) reset() error {
	if err := t.f.Truncate(0); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	t.h.Reset()
	t.done = 0
	if t.meter != nil {
		t.meter.set(0)
	}
	return nil
}

// open sends the GET request, with a Range header when resuming, and
// returns the body to append to the .part file. A server that ignores
// the range, refuses it or answers with another range makes the
// download start again from zero.
func (t *transfer) open() (io.ReadCloser, error) {
	for range 2 {
		resp, err := t.get()
		if err != nil {
			return nil, err
		}
		body, restart, err := t.accept(resp)
		if !restart {
			return body, err
		}
		if err := t.reset(); err != nil {
			return nil, err
		}
	}
	// Not reached: the second request has no Range header.
	return nil, fmt.Errorf("%w: GET %s: no usable answer", ErrServer, t.e.URL)
}

// get sends the request for the bytes from t.done on.
func (t *transfer) get() (*http.Response, error) {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodGet, t.e.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %s: %w", t.e.Name, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "convas-modelstore")
	if t.done > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", t.done))
	}
	resp, err := t.store.client().Do(req)
	if err != nil {
		return nil, t.store.requestError(t.ctx, t.e, err)
	}
	return resp, nil
}

// accept decides what to do with a response: append its body, start
// again from zero (restart), or fail. It closes the body it does not
// return.
func (t *transfer) accept(resp *http.Response) (body io.ReadCloser, restart bool, err error) {
	switch {
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength >= 0 && resp.ContentLength != t.e.Size {
			err = t.offers(resp.ContentLength)
		} else if t.done > 0 { // the server ignored the Range header
			err = t.reset()
		}
		if err == nil {
			return resp.Body, false, nil
		}
	case resp.StatusCode == http.StatusPartialContent && t.done > 0:
		if restart, err = t.checkRange(resp.Header.Get("Content-Range")); !restart && err == nil {
			return resp.Body, false, nil
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && t.done > 0:
		restart = true // the server cannot serve the rest
	default:
		err = fmt.Errorf("%w: GET %s: %s", ErrServer, t.e.URL, resp.Status)
	}
	resp.Body.Close()
	return nil, restart, err
}

// checkRange checks the Content-Range of a 206 response: the rest of the
// catalog's file from t.done on, or else a restart (another range) or an
// error (another file size).
func (t *transfer) checkRange(contentRange string) (restart bool, err error) {
	start, end, total, ok := parseContentRange(contentRange)
	switch {
	case ok && total >= 0 && total != t.e.Size:
		return false, t.offers(total)
	case ok && start == t.done && end < t.e.Size:
		return false, nil
	}
	return true, nil
}

// offers reports a server whose file is not the catalog size.
func (t *transfer) offers(size int64) error {
	return fmt.Errorf("%w: %s: server offers %d bytes, want %d", ErrSize, t.e.URL, size, t.e.Size)
}

// receive appends body to the .part file, never beyond the catalog size.
func (t *transfer) receive(body io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if int64(n) > t.e.Size-t.done {
				t.discard = true
				return fmt.Errorf("%w: %s: server sent more than %d bytes; download discarded",
					ErrSize, t.e.URL, t.e.Size)
			}
			if _, err := t.f.Write(buf[:n]); err != nil {
				return fmt.Errorf("modelstore: %w", err)
			}
			t.h.Write(buf[:n])
			t.done += int64(n)
			t.meter.set(t.done)
		}
		switch {
		case rerr == io.EOF && t.done < t.e.Size:
			return t.interrupted(io.ErrUnexpectedEOF)
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return t.interrupted(rerr)
		}
	}
}

// interrupted explains a download that stopped at t.done bytes.
func (t *transfer) interrupted(cause error) error {
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("modelstore: download of %s stopped at %d of %d bytes, %s kept to resume: %w",
			t.e.Name, t.done, t.e.Size, t.part, err)
	}
	return fmt.Errorf("%w: %s at %d of %d bytes: %w; fetch again to resume from %s",
		ErrInterrupted, t.e.URL, t.done, t.e.Size, cause, t.part)
}

// requestError explains a request that got no response at all.
func (s *Store) requestError(ctx context.Context, e Entry, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("modelstore: download of %s cancelled: %w", e.Name, cerr)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if !unreachable(err) {
		return fmt.Errorf("modelstore: GET %s: %w", e.URL, err)
	}
	host := e.URL
	if u, perr := url.Parse(e.URL); perr == nil {
		host = u.Host
	}
	return fmt.Errorf("%w: cannot reach %s: %w; download %s by hand and save it as %s, "+
		"then fetch again, or run `convas models import FILE`",
		ErrOffline, host, err, e.URL, s.DownloadPath(e))
}

// unreachable reports whether err means no connection could be made:
// a DNS failure, a refused or unroutable connection.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTUNREACH)
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*",
// returned as -1).
func parseContentRange(s string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	first, last, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(first, 10, 64)
	end, err2 = strconv.ParseInt(last, 10, 64)
	total = -1
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || (total >= 0 && end >= total) {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

// meter turns the byte count of a download into Progress reports, sent
// from its own goroutine every progressInterval.
type meter struct {
	fn    func(Progress)
	total int64
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup

	// Used by sample only.
	lastTime time.Time
	lastDone int64
	rate     float64
	haveRate bool
}

// startMeter reports the starting point and starts the periodic reports;
// a nil fn gives a meter that reports nothing.
func startMeter(fn func(Progress), total, done int64) *meter {
	m := &meter{fn: fn, total: total, lastTime: time.Now(), lastDone: done}
	m.done.Store(done)
	if fn == nil {
		return m
	}
	fn(Progress{Done: done, Total: total})
	m.stop = make(chan struct{})
	m.wg.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case now := <-tick.C:
				m.fn(m.sample(now, m.done.Load()))
			}
		}
	})
	return m
}

// set records the bytes downloaded so far.
func (m *meter) set(done int64) { m.done.Store(done) }

// finish stops the periodic reports and sends the last one.
func (m *meter) finish() {
	if m.stop == nil {
		return
	}
	close(m.stop)
	m.wg.Wait()
	m.fn(m.sample(time.Now(), m.done.Load()))
}

// sample updates the smoothed rate with the bytes done at now.
func (m *meter) sample(now time.Time, done int64) Progress {
	dt := now.Sub(m.lastTime).Seconds()
	switch {
	case done < m.lastDone: // started again from zero
		m.rate, m.haveRate = 0, false
	case dt > 0:
		inst := float64(done-m.lastDone) / dt
		if !m.haveRate {
			m.rate, m.haveRate = inst, true
		} else {
			m.rate += (1 - math.Exp(-dt/rateWindow.Seconds())) * (inst - m.rate)
		}
	}
	m.lastTime, m.lastDone = now, done
	p := Progress{Done: done, Total: m.total, BytesPerSec: m.rate}
	if m.rate > 0 {
		p.ETA = time.Duration(float64(m.total-done) / m.rate * float64(time.Second))
	}
	return p
}
