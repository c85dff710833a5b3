// Package localefix keeps Fyne from logging a locale error at start-up on systems whose locale
// is C.UTF-8 (most containers and minimal Debian installs): Fyne's language lookup reads "C" as a
// language tag and complains on stderr, which would break the command line's one-line errors.
//
// Importing it for its side effect sets LANGUAGE=en when the locale is C.* and LANGUAGE is
// unset. Go initialises packages in import-path order once their imports are ready, so this
// package (which imports only os and strings) runs before Fyne's lang package. LANGUAGE only
// chooses message translations; the C locale ignores it, so nothing else changes.
package localefix

import (
	"os"
	"strings"
)

func init() {
	if os.Getenv("LANGUAGE") != "" {
		return
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, "C.") || strings.HasPrefix(v, "POSIX.") {
			os.Setenv("LANGUAGE", "en")
		}
		return
	}
}
