package p11test

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

static const char *pin_library(const char *name) {
	// RTLD_LOCAL: a PKCS#11 module's symbols in the global scope would
	// take the place of another module's own C_* functions.
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (h == NULL) {
		return dlerror();
	}
	return NULL;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// pinLibrary loads a shared library (a path, or a soname the dynamic
// linker finds) into the test process for good (RTLD_NODELETE): later
// dlclose calls leave it mapped.
func pinLibrary(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.pin_library(cs); msg != nil {
		return fmt.Errorf("dlopen %s: %s", name, C.GoString(msg))
	}
	return nil
}

// pinITM keeps libitm (GCC's transactional memory runtime, which the
// opencryptoki 3.8 token libraries use for their locks) loaded in the test
// process. Unloaded with libopencryptoki by C_Finalize and dlclose, and
// loaded again, it crashes (SIGSEGV in _ITM_beginTransaction under
// C_Initialize) once tpm2-pkcs11 has been loaded in the same process.
var pinITM = sync.OnceValue(func() error {
	if err := pinLibrary("libitm.so.1"); err != nil {
		return fmt.Errorf("p11test: %v (apt-get install libitm1)", err)
	}
	return nil
})
