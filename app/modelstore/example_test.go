package modelstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"convas/app/modelstore"
)

func ExampleStore_Fetch() {
	// A stand-in for the real server, and a catalog entry for its file.
	data := []byte("a tiny model")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "tiny.mat", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	sum := sha256.Sum256(data)
	tiny := modelstore.Entry{
		Name: "tiny", Title: "Tiny", URL: srv.URL + "/tiny.mat", Size: int64(len(data)),
		Sum:    modelstore.Checksum{Algorithm: modelstore.SHA256, Hex: hex.EncodeToString(sum[:])},
		Format: modelstore.FormatMAT, File: "tiny.mat", Files: []string{"tiny.mat"}, Open: "tiny.mat",
	}

	dir, err := os.MkdirTemp("", "models")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store := &modelstore.Store{Dir: dir, Catalog: []modelstore.Entry{tiny}}

	fmt.Println(store.Status(tiny))
	err = store.Fetch(context.Background(), tiny, func(p modelstore.Progress) {
		// Called about ten times a second; hand it to the UI here.
	})
	if errors.Is(err, modelstore.ErrOffline) {
		fmt.Println(err) // says where to save the file by hand
	}
	fmt.Println(store.Status(tiny))
	fmt.Println(filepath.Base(store.Path(tiny)))
	// Output:
	// missing
	// ready
	// tiny.mat
}
