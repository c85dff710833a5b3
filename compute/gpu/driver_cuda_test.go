//go:build convas_cuda && cgo

package gpu

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDriverMissing: a driver library that is not there is ErrNoDriver, naming the file.
func TestDriverMissing(t *testing.T) {
	err := probeDriver("/nonexistent/libcuda.so.1")
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "/nonexistent/libcuda.so.1") {
		t.Fatalf("probeDriver(missing) = %v, want ErrNoDriver naming the file", err)
	}
}

// TestDriverNotADriver: a library without the driver's functions (libc) is ErrNoDriver, naming
// the first missing function.
func TestDriverNotADriver(t *testing.T) {
	err := probeDriver("libc.so.6")
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "lacks cuInit") {
		t.Fatalf("probeDriver(libc) = %v, want ErrNoDriver: lacks cuInit", err)
	}
}

// TestDriverNoDevice: a driver whose cuInit reports CUDA_ERROR_NO_DEVICE (a machine with the
// driver installed and no GPU) is ErrNoDevice. The driver is a stub compiled here with every
// function the package resolves.
func TestDriverNoDevice(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to build the stub driver")
	}
	dir := t.TempDir()
	src := "int cuInit(unsigned f) { return 100; }\n" + // CUDA_ERROR_NO_DEVICE
		"int cuGetErrorName(int r, const char **s) { *s = \"CUDA_ERROR_NO_DEVICE\"; return 0; }\n"
	for _, f := range []string{"cuDriverGetVersion", "cuGetErrorString", "cuDeviceGetCount", "cuDeviceGet",
		"cuDeviceGetName", "cuDeviceTotalMem_v2", "cuDeviceGetAttribute", "cuDevicePrimaryCtxRetain",
		"cuDevicePrimaryCtxRelease_v2", "cuCtxSetCurrent", "cuCtxPushCurrent_v2", "cuCtxPopCurrent_v2",
		"cuCtxSynchronize", "cuMemGetInfo_v2", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2",
		"cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2", "cuMemsetD32_v2", "cuModuleLoadData", "cuModuleUnload",
		"cuModuleGetFunction", "cuLaunchKernel"} {
		src += "int " + f + "(void) { return 999; }\n"
	}
	c := filepath.Join(dir, "stub.c")
	so := filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("building the stub: %v\n%s", err, out)
	}
	err = probeDriver(so)
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "CUDA_ERROR_NO_DEVICE") {
		t.Fatalf("probeDriver(stub) = %v, want ErrNoDevice with CUDA_ERROR_NO_DEVICE", err)
	}
}
