// Package modelstore keeps the pretrained models that Convas can use: a
// catalog of known files, a download with resume and verification, an
// import of files fetched by hand, and the state of each entry on disk.
//
// Nothing is fetched unless the user asks. A [Store] lives in one folder,
// normally [DefaultDir] (the user cache directory plus convas/models), with
// one sub-folder per catalog entry:
//
//	<Dir>/<name>/<file>.part     a download in progress, resumed with an HTTP Range request
//	<Dir>/<name>/<file>          the verified download, renamed into place atomically
//	<Dir>/<name>/...             what an archive unpacked to (see [Entry.Files])
//	<Dir>/<name>/.verified.json  the cached verification, keyed by size and modification time
//
// A download is checked against the catalog size and checksum (MD5 or
// SHA-256, hashed while the bytes arrive) before it gets its final name.
// Archives (zip, tar.gz) are unpacked into a temporary folder inside the
// entry's folder and moved into place; entries with absolute paths, ".."
// components, links or special files are refused, and so is an archive that
// unpacks to more than [Entry.MaxUnpacked] bytes.
//
// Limits: one process at a time should write to a store folder (a [Store]
// refuses a second concurrent Fetch, Import or Delete of the same entry with
// [ErrBusy], but two processes are not coordinated); a resumed download does
// not send If-Range, so a file that changed on the server between two tries
// is caught only by the checksum at the end.
package modelstore
