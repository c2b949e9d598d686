package inference

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv is the environment variable that names the onnxruntime shared
// library when no explicit path is given.
const LibraryEnv = "MOCOKIT_ORT_LIB"

// systemLibrary is what dlopen looks up on the default search path
// (LD_LIBRARY_PATH, ld.so.cache, /usr/lib...).
const systemLibrary = "libonnxruntime.so"

// projectLibDir is where scripts/setup.sh installs the library.
var projectLibDir = filepath.Join(".deps", "onnxruntime")

// env is the process-wide onnxruntime environment: onnxruntime allows one
// per process, so every Session shares it.
var env struct {
	sync.Mutex
	path string // library the environment was created from; "" until then
}

// projectDirs are the .deps/onnxruntime folders that scripts/setup.sh may
// have filled: under the working directory, and under the executable's
// directory and its parent (for bin/mocokit run from elsewhere).
func projectDirs() []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, filepath.Join(wd, projectLibDir))
	}
	if exe, err := os.Executable(); err == nil {
		exeDir := filepath.Dir(exe)
		dirs = append(dirs, filepath.Join(exeDir, projectLibDir),
			filepath.Join(filepath.Dir(exeDir), projectLibDir))
	}
	return dirs
}

// LibraryCandidates lists, in search order, the places that FindLibrary
// looks at: the explicit path, $MOCOKIT_ORT_LIB, the project folders
// .deps/onnxruntime/, and last the system library name for dlopen.
func LibraryCandidates(explicit string) []string {
	var c []string
	if explicit != "" {
		c = append(c, explicit)
	}
	if v := os.Getenv(LibraryEnv); v != "" {
		c = append(c, v)
	}
	c = append(c, projectDirs()...)
	return append(c, systemLibrary)
}

// FindLibrary returns the onnxruntime shared library to load. An explicit
// path or $MOCOKIT_ORT_LIB that names no file is an error rather than a
// reason to look elsewhere: the user asked for that file. A project folder
// counts when it holds a libonnxruntime.so* file. When nothing is found the
// system name is returned, for dlopen's own search.
func FindLibrary(explicit string) (string, error) {
	if explicit != "" {
		return existingFile(explicit, "the explicit path")
	}
	if v := os.Getenv(LibraryEnv); v != "" {
		return existingFile(v, "$"+LibraryEnv)
	}
	for _, dir := range projectDirs() {
		if lib := libraryIn(dir); lib != "" {
			return lib, nil
		}
	}
	return systemLibrary, nil
}

func existingFile(path, origin string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("inference: onnxruntime library from %s: %w", origin, err)
	}
	if st.IsDir() {
		if lib := libraryIn(path); lib != "" {
			return lib, nil
		}
		return "", fmt.Errorf("inference: onnxruntime library from %s: %s holds no "+
			"libonnxruntime.so*", origin, path)
	}
	return path, nil
}

// libraryIn returns the libonnxruntime.so* file in dir, preferring the
// plain name and otherwise the last versioned one in name order; "" if none.
func libraryIn(dir string) string {
	plain := filepath.Join(dir, systemLibrary)
	if isFile(plain) {
		return plain
	}
	matches, _ := filepath.Glob(filepath.Join(dir, systemLibrary+".*"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		if isFile(matches[i]) {
			return matches[i]
		}
	}
	return ""
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// initEnvironment loads the library and creates the onnxruntime environment
// the first time it is called; later calls reuse it and return its path.
func initEnvironment(explicit string) (string, error) {
	env.Lock()
	defer env.Unlock()
	if env.path != "" {
		if explicit != "" && explicit != env.path {
			slog.Warn("onnxruntime already loaded; ignoring the library asked for",
				"loaded", env.path, "asked", explicit)
		}
		return env.path, nil
	}
	lib, err := FindLibrary(explicit)
	if err != nil {
		return "", fmt.Errorf("%w (run scripts/setup.sh to install it)", err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		if lib == systemLibrary {
			return "", notFoundError(err)
		}
		return "", fmt.Errorf("inference: loading onnxruntime %s: %w", lib, err)
	}
	env.path = lib
	return lib, nil
}

// ErrLibraryNotFound is wrapped by the error returned when no onnxruntime
// library could be loaded from any candidate place.
var ErrLibraryNotFound = errors.New("onnxruntime library not found")

func notFoundError(cause error) error {
	return fmt.Errorf("inference: %w; run scripts/setup.sh to install it "+
		"(looked in $%s, %s and the system library path: %v)",
		ErrLibraryNotFound, LibraryEnv, strings.Join(projectDirs(), ", "), cause)
}
